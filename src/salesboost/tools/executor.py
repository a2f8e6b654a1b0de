"""`ToolExecutor`: runs one call through a short pipeline of named steps, and never raises for a failure.

    resolve -> authorize -> validate -> admit (rate limit, circuit) -> cache lookup
            -> run (timeout, retry) -> cache store -> record (metrics, audit, events, bandit)

Each step lives in the module that owns its concern; this file only orders them. A failure anywhere
becomes a `ToolResult` with a stable error code. The per-call path is kept allocation-light: metric
children are bound once per (tool, role), ids come from a counter, audit records go to a deque, and events
are built only when somebody listens.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

from pydantic import BaseModel, ValidationError

from salesboost.config import Settings
from salesboost.masking import mask, preview
from salesboost.observability.audit import AuditWriter
from salesboost.observability.metrics import BoundToolMetrics, ToolMetrics, default_metrics
from salesboost.tools.base import ToolContext
from salesboost.tools.cache import MISS, CacheKey, ToolCache
from salesboost.tools.circuit import CircuitBreaker
from salesboost.tools.errors import (
    TOOL_EXECUTION_FAILED,
    TOOL_TIMEOUT,
    ToolCircuitOpenError,
    ToolDomainError,
    ToolError,
    ToolInputError,
    ToolPermissionError,
    ToolRateLimitedError,
    TransientToolError,
)
from salesboost.tools.events import CallbackRunner, EventBus, StatusCallback, status_event
from salesboost.tools.ratelimit import RateLimiter
from salesboost.tools.registry import RegisteredTool, ToolRegistry
from salesboost.tools.result import ToolErrorInfo, ToolResult
from salesboost.tools.retry import ToolRetryPolicy
from salesboost.tools.running import await_with_deadline, step
from salesboost.tools.selection import EpsilonGreedyBandit

log = logging.getLogger(__name__)

_perf = time.perf_counter
_wall = time.time


class _Call:
    """One call: who asked for what, and the state the steps share."""

    __slots__ = (
        "args", "cache_key", "cached", "callback", "entry", "events", "metrics", "name", "payload", "pending",
        "retries", "role", "session_id", "start", "tool_call_id",
    )

    def __init__(
        self,
        name: str,
        payload: Any,
        role: str,
        tool_call_id: str,
        session_id: str | None,
        callback: StatusCallback | None,
        events: bool,
        start: float,
    ) -> None:
        self.name = name
        self.payload = payload
        self.role = role
        self.tool_call_id = tool_call_id
        self.session_id = session_id
        self.callback = callback
        self.events = events
        self.start = start
        self.entry: RegisteredTool | None = None
        self.metrics: BoundToolMetrics | None = None
        self.args: BaseModel | None = None
        self.cache_key: CacheKey | None = None
        self.cached = False
        self.retries = 0
        self.pending: asyncio.Task[None] | None = None


class ToolExecutor:
    def __init__(
        self,
        registry: ToolRegistry,
        *,
        settings: Settings | None = None,
        cache: ToolCache | None = None,
        metrics: ToolMetrics | None = None,
        events: EventBus | None = None,
        audit: AuditWriter | None = None,
        retry_policy: ToolRetryPolicy | None = None,
        bandit: EpsilonGreedyBandit | None = None,
    ) -> None:
        self.registry = registry
        backends = registry.backends
        self.settings = settings = settings or backends.settings
        self.cache = cache or ToolCache(
            settings.cache_max_entries,
            lru_enabled=settings.cache_lru_enabled,
            access_tracking=settings.cache_access_tracking,
        )
        backends.invalidate = self.cache.invalidate_tag
        self.metrics = metrics or default_metrics()
        self.events = events or EventBus(settings.event_queue_size)
        if audit is None and settings.audit_enabled and backends.session_factory is not None:
            audit = AuditWriter(
                backends.session_factory,
                flush_interval=settings.audit_flush_interval,
                batch_size=settings.audit_batch_size,
                max_pending=settings.audit_max_pending,
            )
        self.audit = audit
        self.retry_policy = retry_policy or ToolRetryPolicy.from_settings(settings)
        self.rate_limiter = RateLimiter() if settings.rate_limit_enabled else None
        self.bandit = bandit or EpsilonGreedyBandit(settings.bandit_epsilon)
        self.bandit_enabled = settings.bandit_enabled
        self.callbacks = CallbackRunner(settings.callback_timeout)
        self._threads = ThreadPoolExecutor(settings.sync_tool_threads, thread_name_prefix="salesboost-tool")
        self._breakers: dict[str, CircuitBreaker] = {}
        self._id_prefix = os.urandom(6).hex()
        self._ids = itertools.count(1)

    # --- the pipeline ---------------------------------------------------------------------------------

    async def execute(
        self,
        name: str,
        payload: Mapping[str, Any] | None,
        caller_role: str,
        status_callback: StatusCallback | None = None,
        tool_call_id: str | None = None,
        idempotency_key: str | None = None,
        session_id: str | None = None,
        caller_id: str | None = None,
    ) -> ToolResult:
        """Run one call; the envelope says whether it worked, never an exception."""
        start = _perf()
        if tool_call_id is None:
            tool_call_id = f"auto-{self._id_prefix}{next(self._ids):x}"
        events = status_callback is not None or self.events.wants(session_id)
        call = _Call(name, payload, caller_role, tool_call_id, session_id, status_callback, events, start)
        if events:
            self._emit(call, _started(name, tool_call_id, caller_role))
        try:
            entry = call.entry = self._resolve(name)
            call.metrics = self._authorize(entry, caller_role)
            args = call.args = self._validate(entry, payload)
            self._authorize_action(entry, args, caller_role)
            self._admit(entry, caller_id or caller_role)
            result = self._cache_lookup(call, entry, args)
            if result is None:
                ctx = ToolContext(
                    caller_role, tool_call_id, self.registry.backends, session_id, idempotency_key, caller_id
                )
                result = await self._run_with_retry(call, entry, args, ctx)
        except Exception as exc:
            return self._record(call, None, exc)
        return self._record(call, result, None)

    def _resolve(self, name: str) -> RegisteredTool:
        return self.registry.get(name)

    def _authorize(self, entry: RegisteredTool, role: str) -> BoundToolMetrics:
        """The role must be configured and allowed; only then are its metric children bound."""
        if role not in self.registry.roles:
            raise ToolPermissionError(
                f"unknown role {role!r}; configured roles: {', '.join(sorted(self.registry.roles))}"
            )
        if not entry.allows(role):
            raise ToolPermissionError(
                f"role {role!r} may not call {entry.name}; allowed: {', '.join(sorted(entry.roles))}",
                details={"allowed_roles": sorted(entry.roles)},
            )
        runtime = entry.runtime
        bound: BoundToolMetrics | None = runtime.get(role)
        if bound is None:
            bound = runtime[role] = self.metrics.bind(entry.name, role, cacheable=entry.policy.cache_ttl is not None)
        return bound

    def _validate(self, entry: RegisteredTool, payload: Mapping[str, Any] | None) -> BaseModel:
        try:
            return cast(BaseModel, entry.tool.Input.model_validate(payload if payload is not None else {}))
        except ValidationError as exc:
            raise _input_error(entry.name, exc) from None

    def _authorize_action(self, entry: RegisteredTool, args: BaseModel, role: str) -> None:
        field = entry.policy.action_field
        if field is None:
            return
        action = getattr(args, field)
        if not entry.action_allows(action, role):
            allowed = sorted(entry.action_roles.get(action, entry.roles))
            raise ToolPermissionError(
                f"role {role!r} may not use action {action!r} of {entry.name}; allowed: {', '.join(allowed)}",
                details={"action": action, "allowed_roles": allowed},
            )

    def _admit(self, entry: RegisteredTool, caller: str) -> None:
        """Rate limit and circuit breaker: refuse before doing any work."""
        limit = entry.policy.rate_limit
        if limit is not None and self.rate_limiter is not None:
            wait = self.rate_limiter.acquire(entry.name, caller, limit)
            if wait:
                raise ToolRateLimitedError(
                    f"{entry.name} allows {limit.calls} calls per {limit.per_seconds:g} s; retry after {wait:.1f} s",
                    details={"retry_after": round(wait, 3)},
                )
        breaker = self._breakers.get(entry.name)
        if breaker is not None:
            wait = breaker.retry_after()
            if wait:
                raise ToolCircuitOpenError(
                    f"{entry.name} failed repeatedly and is paused; retry after {wait:.1f} s",
                    details={"retry_after": round(wait, 3)},
                )

    def _cache_lookup(self, call: _Call, entry: RegisteredTool, args: BaseModel) -> dict[str, Any] | None:
        policy = entry.policy
        if policy.cache_ttl is None:
            return None
        key = call.cache_key = ToolCache.key_for(entry.name, args, call.role if policy.cache_by_role else None)
        value = self.cache.get(key)
        bound = call.metrics
        assert bound is not None
        if value is MISS:
            bound.cache_miss()
            return None
        bound.cache_hit()
        call.cached = True
        return value  # type: ignore[no-any-return]  # the envelope's validation copies it

    async def _run_with_retry(
        self, call: _Call, entry: RegisteredTool, args: BaseModel, ctx: ToolContext
    ) -> dict[str, Any]:
        """Run, retrying transient failures of tools that are safe to repeat; then store in the cache."""
        retry = self.retry_policy
        attempts = retry.max_attempts if retry.enabled and self._may_retry(entry, args, ctx) else 1
        while True:
            try:
                done, value = self._start(entry, args, ctx)
                output = value if done else await await_with_deadline(value, entry.policy.timeout)
                break
            except Exception as exc:
                if call.retries + 1 >= attempts or not retry.is_retryable(exc):
                    raise
                call.retries += 1
                assert call.metrics is not None
                call.metrics.retry(call.retries)
                await asyncio.sleep(retry.delay(call.retries - 1))
        if not isinstance(output, entry.tool.Output):
            output = entry.tool.Output.model_validate(output)
        result: dict[str, Any] = output.model_dump(mode="json")
        key, ttl = call.cache_key, entry.policy.cache_ttl
        if key is not None and ttl is not None:
            self.cache.set(key, result, ttl, entry.tool.cache_tags(args))
        return result

    def _start(self, entry: RegisteredTool, args: BaseModel, ctx: ToolContext) -> tuple[bool, Any]:
        """Start the tool: (True, output) when it finished at once, else (False, what to await).

        An async tool runs in the caller's task until it first suspends (most cheap tools never do, and then
        need no timer); a blocking one goes to the thread pool, unless its policy says it is cheap enough to
        run inline.
        """
        tool = entry.tool
        if entry.is_async:
            return step(tool.run(args, ctx))  # type: ignore[arg-type]
        if entry.policy.inline:
            return True, tool.run(args, ctx)
        return False, asyncio.get_running_loop().run_in_executor(self._threads, tool.run, args, ctx)

    @staticmethod
    def _may_retry(entry: RegisteredTool, args: BaseModel, ctx: ToolContext) -> bool:
        """A side effect is repeated only when the tool is idempotent or the call carries a key."""
        if not entry.policy.retry:
            return False
        return not entry.is_write(args) or entry.policy.idempotent or ctx.idempotency_key is not None

    # --- recording --------------------------------------------------------------------------------------

    def _record(self, call: _Call, result: dict[str, Any] | None, exc: BaseException | None) -> ToolResult:
        """Metrics, circuit, audit, bandit and the closing event; then the envelope."""
        elapsed = _perf() - call.start
        latency_ms = int(elapsed * 1e6) / 1000.0  # milliseconds to the microsecond
        entry, bound = call.entry, call.metrics
        error = None if exc is None else self._error_info(call.name, exc)
        if bound is not None:
            bound.observe(elapsed)
            if error is None:
                bound.successes += 1
            else:
                bound.error(error.code)
        if entry is not None and not call.cached:
            self._update_circuit(entry, exc)
        audit_id = None
        if self.audit is not None:
            audit_id = f"{self._id_prefix}-{next(self._ids):x}"
            self.audit.record(  # the fields of AuditEntry, in order
                (
                    audit_id, _wall(), call.name, call.role, call.tool_call_id, call.session_id,
                    "completed" if error is None else "failed", None if error is None else error.code,
                    call.retries, latency_ms, call.cached, call.args if call.args is not None else call.payload, result,
                )
            )
        if self.bandit_enabled and entry is not None:
            self.bandit.update(call.name, 1.0 if error is None else 0.0)
        envelope = ToolResult(
            ok=error is None, tool=call.name, tool_call_id=call.tool_call_id, caller_role=call.role, result=result,
            error=error, cached=call.cached, retry_count=call.retries, latency_ms=latency_ms, audit_id=audit_id,
        )
        if call.events:
            self._emit(call, self._closing_event(envelope))
        return envelope

    def _update_circuit(self, entry: RegisteredTool, exc: BaseException | None) -> None:
        """Crashes and timeouts trip the breaker; an answer closes it; refusals say nothing of its health."""
        breaker = self._breakers.get(entry.name)
        if exc is None or isinstance(exc, ToolDomainError):
            if breaker is not None and breaker.failures:
                breaker.record_success()
        elif not isinstance(exc, ToolError) or isinstance(exc, TransientToolError):
            if breaker is None:
                breaker = self._breakers[entry.name] = CircuitBreaker(
                    self.settings.circuit_failure_threshold, self.settings.circuit_reset_seconds
                )
            breaker.record_failure()

    def _error_info(self, name: str, exc: BaseException) -> ToolErrorInfo:
        if isinstance(exc, ToolError):
            return ToolErrorInfo.model_construct(
                code=exc.code, type=type(exc).__name__, message=exc.message, retryable=exc.retryable,
                details=exc.details,
            )
        if isinstance(exc, TimeoutError):
            return ToolErrorInfo.model_construct(
                code=TOOL_TIMEOUT, type="ToolTimeoutError", retryable=True, details={},
                message=f"{name} did not answer in time ({exc}); try again, or narrow the request",
            )
        log.error("tool %s failed: %s", name, mask(repr(exc)), exc_info=exc)
        return ToolErrorInfo.model_construct(
            code=TOOL_EXECUTION_FAILED, type=type(exc).__name__, retryable=ToolRetryPolicy.is_retryable(exc),
            message=f"{name} failed: {mask(str(exc))[:300] or type(exc).__name__}", details={},
        )

    def _closing_event(self, envelope: ToolResult) -> dict[str, Any]:
        data: dict[str, Any] = {
            "tool_name": envelope.tool,
            "status": "completed" if envelope.ok else "failed",
            "tool_call_id": envelope.tool_call_id,
            "caller_role": envelope.caller_role,
            "latency_ms": envelope.latency_ms,
            "cached": envelope.cached,
            "retry_count": envelope.retry_count,
        }
        if envelope.error is not None:
            data["error"] = preview(envelope.error.message, 300)
            data["error_code"] = envelope.error.code
        else:
            data["result_preview"] = self._result_preview(envelope)
        return data

    def _result_preview(self, envelope: ToolResult) -> str:
        entry = self.registry.lookup(envelope.tool)
        assert entry is not None
        assert envelope.result is not None
        try:
            text = entry.tool.preview(entry.tool.Output.model_validate(envelope.result))
        except Exception:
            log.warning("preview of %s failed", envelope.tool, exc_info=True)
            text = str(envelope.result)
        return preview(text)

    def _emit(self, call: _Call, data: dict[str, Any]) -> None:
        if call.callback is not None:
            call.pending = self.callbacks.deliver(call.callback, data, call.pending)
        if self.events.wants(call.session_id):
            self.events.publish(status_event(data), call.session_id)

    # --- more than one call -----------------------------------------------------------------------------

    async def execute_many(
        self,
        calls: Iterable[Mapping[str, Any]],
        caller_role: str,
        max_concurrent: int | None = None,
        status_callback: StatusCallback | None = None,
        session_id: str | None = None,
        caller_id: str | None = None,
    ) -> list[ToolResult]:
        """Run calls (`{"tool", "payload", "tool_call_id"?, "idempotency_key"?}`) concurrently, in order.

        At most `max_concurrent` at once (default `TOOL_PARALLEL_MAX_CONCURRENT`); one at a time when
        `TOOL_PARALLEL_ENABLED` is false.
        """
        limit = max_concurrent or self.settings.parallel_max_concurrent
        if not self.settings.parallel_enabled:
            limit = 1
        gate = asyncio.Semaphore(limit)

        async def one(spec: Mapping[str, Any]) -> ToolResult:
            async with gate:
                return await self.execute(
                    str(spec.get("tool", spec.get("name", ""))), spec.get("payload") or {}, caller_role,
                    status_callback, spec.get("tool_call_id"), spec.get("idempotency_key"), session_id, caller_id,
                )

        return list(await asyncio.gather(*(one(spec) for spec in calls)))

    def select_tool(self, candidates: Sequence[str], caller_role: str) -> str:
        """Pick one of the candidate tools this role may call: by the bandit when it is on, else the first."""
        allowed = [
            c for c in candidates
            if (e := self.registry.lookup(c)) is not None and e.enabled and e.allows(caller_role)
        ]
        if not allowed:
            raise ToolPermissionError(f"role {caller_role!r} may call none of {list(candidates)}")
        return self.bandit.select(allowed) if self.bandit_enabled else allowed[0]

    def circuit_state(self, name: str) -> str:
        breaker = self._breakers.get(name)
        return "closed" if breaker is None else breaker.state

    async def aclose(self) -> None:
        """Deliver pending callbacks, flush the audit trail, stop the threads, close the database."""
        await self.callbacks.drain()
        if self.audit is not None:
            await self.audit.aclose()
        self._threads.shutdown(wait=False, cancel_futures=True)
        await self.registry.backends.aclose()


def _started(name: str, tool_call_id: str, role: str) -> dict[str, Any]:
    return {"tool_name": name, "status": "started", "tool_call_id": tool_call_id, "caller_role": role}


def _input_error(tool: str, exc: ValidationError) -> ToolInputError:
    errors = [
        {"field": ".".join(str(p) for p in err["loc"]) or "(root)", "message": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return ToolInputError(f"invalid input for {tool}: {summary}", details={"errors": errors})
