"""`ToolExecutor`: runs one call through a short ladder of named steps, and never raises for a failure.

    resolve (and authorize) -> validate -> authorize action -> idempotency key -> rate limit -> claim -> circuit
            -> cache lookup -> run (timeout, retry) -> cache store -> record (the recorders, in order)

Each step's decision lives in the module that owns it (the registry authorizes, `idempotency` requires a key,
`ratelimit` and `circuit` refuse, `retry` counts the tries, `errors` names the failure); this file only
orders them. Its parts come from the composition root (`salesboost.assembly`). A failure anywhere becomes a
`ToolResult` with a stable error code. The per-call path stays allocation-light: ids come from a counter,
audit records are tuples queued for a background writer, and events are built only when somebody listens.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from salesboost.tools.base import ToolContext
from salesboost.tools.batch import run_batch, tool_of
from salesboost.tools.cache import MISS, key_for
from salesboost.tools.call import Call
from salesboost.tools.errors import ToolPermissionError, error_info, input_error, is_transient
from salesboost.tools.events import StatusCallback
from salesboost.tools.idempotency import check_call
from salesboost.tools.parts import ExecutorParts
from salesboost.tools.registry import RegisteredTool, ToolRegistry, composition_root
from salesboost.tools.result import ToolResult, envelope
from salesboost.tools.running import await_with_deadline, start
from salesboost.tools.selection import SelectionContext, ToolChoice

_perf = time.perf_counter

# What a caller's surface secures once the call passed every check of the caller's own doing (the service claims
# the call's session there, so that no refused call claims one); a `ToolError` it raises refuses the call. It
# comes before the circuit: a half-open circuit lets one trial pass, and a call refused after it would hold it.
Claim = Callable[[], Awaitable[None]]


class ToolExecutor:
    """`ToolExecutor(registry)` takes its parts from the composition root; `require_idempotency_key` makes a
    write without a key fail with IDEMPOTENCY_KEY_REQUIRED (the service sets it; Python callers choose)."""

    def __init__(
        self, registry: ToolRegistry, *, parts: ExecutorParts | None = None, require_idempotency_key: bool = False
    ) -> None:
        self.registry = registry
        self.parts = parts = parts or composition_root().executor_parts(registry)
        self.settings = parts.settings
        self.cache = parts.cache
        self.metrics = parts.metrics
        self.events = parts.events.bus
        self.callbacks = parts.events.callbacks
        self.audit = parts.audit
        self.bandit = parts.bandit
        self.require_idempotency_key = require_idempotency_key
        self._status = parts.events
        self._recorders = parts.recorders
        self._auto_id = f"auto-{os.urandom(6).hex()}"
        self._ids = itertools.count(1)

    # --- the ladder -------------------------------------------------------------------------------------

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
        claim: Claim | None = None,
        refused: BaseException | None = None,
    ) -> ToolResult:
        """Run one call; the envelope says whether it worked, never an exception. A call given `refused` (its
        batch's deadline passed) does not run: it answers and is recorded as that failure."""
        call = Call(
            name, payload, caller_role, tool_call_id or f"{self._auto_id}{next(self._ids)}", session_id,
            caller_id, idempotency_key, status_callback, _perf(),
        )
        if status_callback is not None or self.events.wants(session_id):
            call.events = True
            self._status.started(call)
        try:
            if refused is not None:
                raise refused
            entry = call.entry = self.registry.resolve(name, caller_role)
            call.authorized = True  # only now may the role label a metric
            try:
                args = call.args = entry.parse(payload if payload is not None else {})
            except ValidationError as exc:
                raise input_error(name, exc) from None
            entry.authorize_action(args, caller_role)
            if idempotency_key is not None or self.require_idempotency_key:
                check_call(entry, args, idempotency_key, required=self.require_idempotency_key)
            # The rate limit, asked only when one may apply (the tool's, or one of the role's), before any work.
            # Shared state (Redis) answers with an awaitable; in-process state decides at once (None, a bool).
            limit, limiter = entry.policy.rate_limit, self.parts.limiter
            if limiter is not None and (limit is not None or limiter.by_role) and (
                pending := limiter.check(name, call.caller, caller_role, limit)
            ) is not None:
                await pending
            if claim is not None:
                await claim()
            if (pending := self.parts.breakers.check(name)) is not None:
                await pending
            hit = self._cache_lookup(call, entry, args)
            if hit is False or (hit is not True and not await hit):
                await self._run(call, entry, args)
                if self.cache.pending:  # what the call invalidated is gone everywhere before it answers
                    await self.cache.settle()
                if call.cache_key is not None and (pending := self._cache_store(call, entry, args)) is not None:
                    await pending
        except Exception as exc:
            call.exc = exc
        return self._record(call)

    def _cache_lookup(self, call: Call, entry: RegisteredTool, args: BaseModel) -> bool | Awaitable[bool]:
        policy = entry.policy
        if policy.cache_ttl is None:
            return False
        key = call.cache_key = key_for(call.name, args, call.role if policy.cache_by_role else None)
        hit = self.cache.get(key)
        if hit is MISS:
            return False
        if hit.__class__ is not tuple:  # a shared cache's answer, still to come
            return self._cache_hit_later(call, hit)
        call.result, call.output = hit
        call.cached = True
        return True

    @staticmethod
    async def _cache_hit_later(call: Call, lookup: Awaitable[Any]) -> bool:
        hit = await lookup
        if hit is MISS:
            return False
        call.result, call.output = hit
        call.cached = True
        return True

    async def _run(self, call: Call, entry: RegisteredTool, args: BaseModel) -> None:
        """Run the tool under its deadline, retrying transient failures when it is safe to repeat."""
        ctx = ToolContext(
            call.role, call.tool_call_id, self.registry.backends, call.session_id, call.idempotency_key,
            call.caller_id,
        )
        policy = entry.policy
        while True:
            try:
                done, value = start(entry, args, ctx, self.parts.threads)
                output = value if done else await await_with_deadline(value, policy.timeout)
                break
            except Exception as exc:
                if not is_transient(exc) or call.retries + 1 >= self._attempts(call, entry, args):
                    raise
                await asyncio.sleep(self.parts.retry.delay(call.retries))
                call.retried(exc)
        if not isinstance(output, entry.tool.Output):
            output = entry.tool.Output.model_validate(output)
        call.output = output
        call.result = entry.dump(output)

    def _attempts(self, call: Call, entry: RegisteredTool, args: BaseModel) -> int:
        """Asked only once an attempt failed: the happy path never pays for it."""
        policy = entry.policy
        return self.parts.retry.attempts(
            tool_retries=policy.retry, side_effect=entry.is_write(args),
            safe_to_repeat=policy.idempotent or call.idempotency_key is not None,
        )

    def _cache_store(self, call: Call, entry: RegisteredTool, args: BaseModel) -> Awaitable[None] | None:
        key, ttl, result = call.cache_key, entry.policy.cache_ttl, call.result
        assert key is not None
        assert ttl is not None
        assert result is not None
        return self.cache.set(key, (result, call.output), ttl, entry.tool.cache_tags(args))

    def _record(self, call: Call) -> ToolResult:
        """Name the failure, let every recorder read the call, then answer the envelope."""
        call.elapsed = elapsed = _perf() - call.start
        call.latency_ms = int(elapsed * 1e6) / 1000.0  # milliseconds to the microsecond
        if call.exc is not None:
            call.error = error_info(call.name, call.exc)
        for record in self._recorders:
            record(call)
        result = call.result
        if result is not None:
            # The caller's own top level: what the recorders and the cache keep is not the caller's to change
            # (nested values are shared, read-only).
            result = dict(result)
        return envelope(
            call.name, call.tool_call_id, call.role, result, call.error, call.cached, call.retries, call.latency_ms,
            call.audit_id,
        )

    # --- more than one call -----------------------------------------------------------------------------

    async def execute_many(
        self,
        calls: Iterable[Mapping[str, Any]],
        caller_role: str,
        max_concurrent: int | None = None,
        status_callback: StatusCallback | None = None,
        session_id: str | None = None,
        caller_id: str | None = None,
        claim: Claim | None = None,
        deadline_s: float | None = None,
    ) -> list[ToolResult]:
        """Run calls (`{"tool", "payload", "tool_call_id"?, "idempotency_key"?}`) by the batch rule
        (`tools.batch`): reads concurrently, a write as a barrier; results in input order.

        At most `max_concurrent` at once (default `TOOL_PARALLEL_MAX_CONCURRENT`); one at a time when
        `TOOL_PARALLEL_ENABLED` is false. A call not started within `deadline_s` seconds answers `TOOL_TIMEOUT`
        without running.
        """
        limit = max_concurrent or self.settings.parallel_max_concurrent
        if not self.settings.parallel_enabled:
            limit = 1

        def one(spec: Mapping[str, Any], refused: BaseException | None) -> Awaitable[ToolResult]:
            return self.execute(
                tool_of(spec), spec.get("payload") or {}, caller_role, status_callback, spec.get("tool_call_id"),
                spec.get("idempotency_key"), session_id, caller_id, claim, refused,
            )

        return await run_batch(list(calls), registry=self.registry, run=one, limit=limit, deadline_s=deadline_s)

    async def select_tool(
        self,
        candidates: Sequence[str],
        caller_role: str,
        context: SelectionContext | None = None,
        tool_call_id: str | None = None,
    ) -> ToolChoice:
        """Pick one of the candidate tools this role may call: by the bandit when it is on (run the call with
        the choice's `tool_call_id`: its outcome is the reward), else the first."""
        allowed = [
            c for c in candidates
            if (e := self.registry.lookup(c)) is not None and e.enabled and e.allows(caller_role)
        ]
        if not allowed:
            raise ToolPermissionError(f"role {caller_role!r} may call none of {list(candidates)}")
        if self.settings.bandit_enabled:
            return await self.bandit.select(allowed, caller_role, context, tool_call_id)
        return ToolChoice(allowed[0], tool_call_id or self._new_id(), 1.0, "first")

    def _new_id(self) -> str:
        """A call id of this executor's (`execute` inlines the same for its hot path: one format, decimal, so the
        two never collide)."""
        return f"{self._auto_id}{next(self._ids)}"

    def describe(self, name: str, caller_role: str) -> RegisteredTool:
        """The tool as this role may see it: `ToolNotFoundError`, `ToolDisabledError` or `ToolPermissionError`
        exactly as a call would answer."""
        return self.registry.resolve(name, caller_role)

    def circuit_state(self, name: str) -> str:
        return self.parts.breakers.state(name)

    async def aclose(self) -> None:
        """Deliver pending callbacks and flush the audit trail (and close what the parts were given to close)."""
        await self.parts.aclose()
