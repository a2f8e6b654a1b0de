"""The composition root: the one place that builds the runtime's parts from settings.

`build_runtime(settings)` opens the backends, registers the eight tools, builds the executor's parts (cache,
metrics, status events, limiter, breakers, retry policy, bandit, audit writer and the recorders, in their
order) and the executor, and wires the cache invalidation once. The service, the CLI, the benchmarks and the
tests' harnesses start here; `build_default_registry()` and `ToolExecutor(registry)` are doors into the same
functions (the installed package names this module as its `salesboost.composition_root` entry point).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, get_args

from redis.asyncio import Redis

from salesboost.config import Settings, get_settings
from salesboost.observability.audit import AuditWriter
from salesboost.observability.metrics import ToolMetrics, default_metrics
from salesboost.sales import DEFAULT_TOOLS
from salesboost.sales.demo import SEEDERS
from salesboost.sales.sms.outbox import OutboxDispatcher
from salesboost.sales.stage.model import Stage
from salesboost.state.bandit import LocalBanditStore, RedisBanditStore
from salesboost.store.db import create_engine, ensure_migrated, session_factory
from salesboost.tools.base import ToolBackends
from salesboost.tools.cache import ToolCache
from salesboost.tools.circuit import Breakers
from salesboost.tools.events import CallbackRunner, EventBus, StatusEvents
from salesboost.tools.executor import ToolExecutor
from salesboost.tools.parts import ExecutorParts
from salesboost.tools.permissions import load_permissions
from salesboost.tools.ratelimit import RateLimiter
from salesboost.tools.recorders import AuditRecorder, MetricsRecorder, Recorder, TracingRecorder
from salesboost.tools.registry import ToolRegistry
from salesboost.tools.retry import ToolRetryPolicy
from salesboost.tools.selection import Bandit, BanditStore, ContextEncoder, build_policy

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider


def create_backends(settings: Settings) -> ToolBackends:
    """The shared backends, chosen once from settings."""
    engine = create_engine(settings.database_url, busy_timeout=settings.sqlite_busy_timeout)
    return ToolBackends(settings=settings, session_factory=session_factory(engine), engine=engine)


def check_database(settings: Settings) -> None:
    """Migrate the embedded SQLite file on first use; refuse any other database that is not migrated
    (`DatabaseNotMigratedError`). Runs in a thread of its own, so it works inside a running event loop too."""
    with ThreadPoolExecutor(1, thread_name_prefix="salesboost-migrate") as thread:
        thread.submit(ensure_migrated, settings.database_url, busy_timeout=settings.sqlite_busy_timeout).result()


def build_registry(settings: Settings) -> ToolRegistry:
    """The eight sales tools with the role matrix of the permissions file, on a checked database."""
    check_database(settings)
    backends = create_backends(settings)
    registry = ToolRegistry(permissions=load_permissions(settings.permissions_file), backends=backends)
    for build in DEFAULT_TOOLS:
        registry.register(build(backends))
    return registry


def executor_parts(
    registry: ToolRegistry,
    *,
    metrics: ToolMetrics | None = None,
    clock: Callable[[], float] = time.monotonic,
    close_backends: bool = True,
    tracer_provider: TracerProvider | None = None,
) -> ExecutorParts:
    """What an executor over this registry works with, from its backends' settings; `clock` (monotonic
    seconds) drives the rate limits and breakers; with `SALESBOOST_TRACING`, the spans go to `tracer_provider`
    (default: the process's, `observability.tracing.tracer_provider()`).

    The cache joins those the registry's tools invalidate (a CRM write drops that customer's profile from every
    executor's cache over these backends) until the executor closes.
    With `close_backends`, closing the executor closes the registry's database too: that is what
    `ToolExecutor(registry=build_default_registry())` users rely on, having no other handle on it.
    """
    backends = registry.backends
    settings = backends.settings
    cache = ToolCache(
        settings.cache_max_entries,
        lru_enabled=settings.cache_lru_enabled,
        access_tracking=settings.cache_access_tracking,
    )
    backends.invalidators.append(cache.invalidate_tag)

    async def forget_cache() -> None:
        backends.invalidators.remove(cache.invalidate_tag)

    metrics = metrics if metrics is not None else default_metrics()
    metrics.watch_cache(cache)
    events = StatusEvents(EventBus(settings.event_queue_size), CallbackRunner(settings.callback_timeout))
    breakers = Breakers(settings.circuit_failure_threshold, settings.circuit_reset_seconds, clock)
    bandit = build_bandit(settings, registry.roles)
    audit = None
    if settings.audit_enabled and backends.session_factory is not None:
        audit = AuditWriter(
            settings.database_url,
            flush_interval=settings.audit_flush_interval,
            batch_size=settings.audit_batch_size,
            high_water=settings.audit_high_water,
            max_pending=settings.audit_max_pending,
        )
        metrics.watch_audit(audit)
    recorders: list[Recorder] = [MetricsRecorder(metrics).record, breakers.record]
    if settings.tracing:  # before the audit, which keeps the trace id; off, the extra is not even imported
        from salesboost.observability import tracing

        spans = tracing.ToolSpans(tracer_provider or tracing.tracer_provider(), content=settings.trace_content)
        recorders.append(TracingRecorder(spans).record)
    if audit is not None:
        recorders.append(AuditRecorder(audit).record)
    if settings.bandit_enabled:
        recorders.append(bandit.record)
    recorders.append(events.record)  # last: a listener sees the call once everything else has recorded it
    return ExecutorParts(
        settings=settings,
        cache=cache,
        metrics=metrics,
        events=events,
        limiter=RateLimiter(clock) if settings.rate_limit_enabled else None,
        breakers=breakers,
        retry=ToolRetryPolicy.from_settings(settings),
        bandit=bandit,
        threads=ThreadPoolExecutor(settings.sync_tool_threads, thread_name_prefix="salesboost-tool"),
        audit=audit,
        recorders=tuple(recorders),
        closers=(forget_cache, backends.aclose) if close_backends else (forget_cache,),
    )


def build_bandit(settings: Settings, roles: Iterable[str]) -> Bandit:
    """The bandit behind `select_tool`: its statistics in Redis when `SALESBOOST_REDIS_URL` is set (shared by
    every replica), else in this process."""
    store: BanditStore = LocalBanditStore()
    if settings.redis_url is not None:
        # A Redis that stops answering delays a choice by at most half a second, then it is made without statistics.
        redis = Redis.from_url(settings.redis_url, socket_connect_timeout=0.5, socket_timeout=0.5)
        store = RedisBanditStore(redis, settings.bandit_redis_key)
    policy = build_policy(
        settings.bandit_policy, epsilon=settings.bandit_epsilon, alpha=settings.bandit_alpha,
        explore=settings.bandit_explore,
    )
    encoder = ContextEncoder(sorted(roles), get_args(Stage))
    return Bandit(
        policy, store, encoder, discount=settings.bandit_discount, latency_budget=settings.bandit_latency_budget
    )


@dataclass(slots=True)
class Runtime:
    """Everything `build_runtime` opened; `aclose()` closes it, the executor first (it flushes the audit)."""

    settings: Settings
    backends: ToolBackends
    registry: ToolRegistry
    executor: ToolExecutor

    async def aclose(self) -> None:
        await self.executor.aclose()
        await self.backends.aclose()


def build_runtime(
    settings: Settings | None = None,
    *,
    registry: ToolRegistry | None = None,
    metrics: ToolMetrics | None = None,
    require_idempotency_key: bool = False,
) -> Runtime:
    """The runtime over the configured backends: the eight tools, or the tools of a given `registry` (whose
    backends the runtime then owns). `require_idempotency_key` is on for the service and MCP."""
    registry = registry or build_registry(settings or get_settings())
    parts = executor_parts(registry, metrics=metrics, close_backends=False)
    executor = ToolExecutor(registry, parts=parts, require_idempotency_key=require_idempotency_key)
    return Runtime(registry.backends.settings, registry.backends, registry, executor)


@asynccontextmanager
async def sms_dispatcher(settings: Settings, executor: ToolExecutor) -> AsyncIterator[None]:
    """Deliver the SMS outbox while the service runs (leases make several replicas safe)."""
    sessions = executor.registry.backends.session_factory
    if not settings.sms_dispatcher_enabled or sessions is None:
        yield
        return
    dispatcher = OutboxDispatcher.from_settings(settings, sessions)
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run_forever(settings.sms_dispatch_interval, stop), name="sms-dispatcher")
    try:
        yield
    finally:
        stop.set()
        await task
        await dispatcher.aclose()


async def seed_demo(settings: Settings) -> list[str]:
    """Load the demo data into the configured database; one line per loader."""
    backends = create_backends(settings)
    try:
        return [await seeder(backends) for seeder in SEEDERS]
    finally:
        await backends.aclose()
