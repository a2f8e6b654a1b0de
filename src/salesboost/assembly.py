"""The composition root: the one place that builds the runtime's parts from settings.

`build_runtime(settings)` opens the backends, registers the eight tools, builds the executor's parts (cache,
metrics, status events, limiter, breakers, retry policy, bandit, audit writer and the recorders, in their
order) and the executor, and wires the cache invalidation once. The service, the CLI, the benchmarks and the
tests' harnesses start here; `build_default_registry()` and `ToolExecutor(registry)` are doors into the same
functions (the installed package names this module as its `salesboost.composition_root` entry point).
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, get_args

from salesboost.config import Settings, get_settings
from salesboost.observability.audit import AuditWriter
from salesboost.observability.metrics import ToolMetrics, default_metrics
from salesboost.sales import DEFAULT_TOOLS
from salesboost.sales.stage.labels import Stage
from salesboost.state.bandit import LocalBanditStore, RedisBanditStore
from salesboost.store.schema import sqlite_is_current
from salesboost.tools.base import OpenedDatabase, ToolBackends
from salesboost.tools.cache import Cache, ToolCache
from salesboost.tools.circuit import Breakers, BreakerState
from salesboost.tools.events import CallbackRunner, EventBus, StatusEvents
from salesboost.tools.executor import ToolExecutor
from salesboost.tools.parts import ExecutorParts
from salesboost.tools.permissions import load_permissions
from salesboost.tools.ratelimit import Limiter, RateLimiter, load_rate_limits
from salesboost.tools.recorders import Recorder, TracingRecorder
from salesboost.tools.registry import ToolRegistry
from salesboost.tools.retry import ToolRetryPolicy
from salesboost.tools.selection import Bandit, BanditStore, ContextEncoder, build_policy

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

    from salesboost.state.redis import SharedRedis


def create_backends(settings: Settings) -> ToolBackends:
    """The shared backends, chosen once from settings; the database is opened by the first call that needs it."""

    def connect() -> OpenedDatabase:
        from salesboost.store.db import create_engine, session_factory  # SQLAlchemy: off a fresh process's path

        engine = create_engine(settings.database_url, busy_timeout=settings.sqlite_busy_timeout)
        return engine, session_factory(engine)

    return ToolBackends(settings=settings, connect=connect)


def check_database(settings: Settings) -> None:
    """Migrate the embedded SQLite file on first use; refuse any other database that is not migrated
    (`DatabaseNotMigratedError`). An SQLite file found current is read with the standard library alone; the rest
    runs in a thread of its own, so it works inside a running event loop too."""
    if sqlite_is_current(settings.database_url, busy_timeout=settings.sqlite_busy_timeout):
        return
    from salesboost.store.db import ensure_migrated  # SQLAlchemy, Alembic: when there is more to do

    with ThreadPoolExecutor(1, thread_name_prefix="salesboost-migrate") as thread:
        thread.submit(ensure_migrated, settings.database_url, busy_timeout=settings.sqlite_busy_timeout).result()


def build_registry(settings: Settings) -> ToolRegistry:
    """The eight sales tools with the role matrix of the permissions file and the rate limits of the limits
    file, on a checked database."""
    check_database(settings)
    backends = create_backends(settings)
    registry = ToolRegistry(permissions=load_permissions(settings.permissions_file), backends=backends)
    limits = load_rate_limits(settings.rate_limits_file).tools
    for build in DEFAULT_TOOLS:
        entry = registry.register(build(backends))
        if entry.name in limits:
            entry.policy = replace(entry.policy, rate_limit=limits[entry.name])
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
    role_limits = load_rate_limits(settings.rate_limits_file).roles
    closers: list[Callable[[], Awaitable[None]]] = []
    cache: Cache
    breakers: BreakerState
    limiter: Limiter | None
    bus: EventBus
    shared = None
    if settings.redis_url:  # shared by every replica (docs/scale.md); one connection pool per executor
        # Imported here: without Redis, redis-py (about 0.1 s) stays off a fresh process's path.
        from salesboost.state.cache import RedisCache
        from salesboost.state.circuit import RedisBreakers
        from salesboost.state.events import RedisEventBus
        from salesboost.state.ratelimit import RedisRateLimiter
        from salesboost.state.redis import SharedRedis

        shared = SharedRedis(
            settings.redis_url, prefix=settings.redis_prefix, timeout=settings.redis_timeout,
            retry_seconds=settings.redis_retry_seconds,
        )
        redis_cache = RedisCache(shared, settings.cache_max_entries)
        redis_bus = RedisEventBus(shared, settings.event_queue_size)
        redis_breakers = RedisBreakers(shared, settings.circuit_failure_threshold, settings.circuit_reset_seconds)
        cache, breakers, bus = redis_cache, redis_breakers, redis_bus
        limiter = RedisRateLimiter(shared, settings.rate_limit_fallback, role_limits)
        closers += (redis_bus.aclose, redis_breakers.drain, redis_cache.settle, shared.aclose)
    else:
        cache = ToolCache(
            settings.cache_max_entries,
            lru_enabled=settings.cache_lru_enabled,
            access_tracking=settings.cache_access_tracking,
        )
        bus = EventBus(settings.event_queue_size)
        breakers = Breakers(settings.circuit_failure_threshold, settings.circuit_reset_seconds, clock)
        limiter = RateLimiter(clock, role_limits)
    if not settings.rate_limit_enabled:
        limiter = None
    backends.invalidators.append(cache.invalidate_tag)

    async def forget_cache() -> None:
        backends.invalidators.remove(cache.invalidate_tag)

    metrics = metrics if metrics is not None else default_metrics()
    metrics.watch_cache(cache)
    events = StatusEvents(bus, CallbackRunner(settings.callback_timeout))
    bandit = build_bandit(settings, registry.roles, shared)
    audit = None
    if settings.audit_enabled and backends.has_database:
        audit = AuditWriter(
            settings.database_url,
            flush_interval=settings.audit_flush_interval,
            batch_size=settings.audit_batch_size,
            high_water=settings.audit_high_water,
            max_pending=settings.audit_max_pending,
        )
        metrics.watch_audit(audit)
    recorders: list[Recorder] = [metrics.record, breakers.record]
    if settings.tracing:  # before the audit, which keeps the trace id; off, the extra is not even imported
        from salesboost.observability import tracing

        spans = tracing.ToolSpans(tracer_provider or tracing.tracer_provider(), content=settings.trace_content)
        recorders.append(TracingRecorder(spans).record)
    if audit is not None:
        recorders.append(audit.record_call)
    if settings.bandit_enabled:
        recorders.append(bandit.record)
    recorders.append(events.record)  # last: a listener sees the call once everything else has recorded it
    return ExecutorParts(
        settings=settings,
        cache=cache,
        metrics=metrics,
        events=events,
        limiter=limiter,
        breakers=breakers,
        retry=ToolRetryPolicy.from_settings(settings),
        bandit=bandit,
        threads=ThreadPoolExecutor(settings.sync_tool_threads, thread_name_prefix="salesboost-tool"),
        audit=audit,
        recorders=tuple(recorders),
        closers=(forget_cache, *closers, backends.aclose) if close_backends else (forget_cache, *closers),
        shared=shared,
    )


def build_bandit(settings: Settings, roles: Iterable[str], shared: SharedRedis | None = None) -> Bandit:
    """The bandit behind `select_tool`: its statistics in Redis when there is one (`shared`: shared by every
    replica, on the process's one connection pool), else in this process."""
    store: BanditStore = LocalBanditStore()
    if shared is not None:
        # A Redis that stops answering delays a choice by SALESBOOST_REDIS_TIMEOUT at most, then it is made
        # without statistics.
        store = RedisBanditStore(shared.client, settings.bandit_redis_key)
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


@contextmanager
def frozen_startup(enabled: bool = True) -> Iterator[None]:
    """While the block runs, every object alive at its start (modules, schemas, models, the registry, pools) is
    out of the garbage collector's sight (`gc.freeze`). The served process holds about 240,000 of them, and a
    full collection, which Python runs once enough call objects have outlived the young generations (audit
    records waiting for their write do), walked them all in about 150 ms: a pause of every request in flight.
    The service runs inside one (`SALESBOOST_GC_FREEZE`); a long-lived program of one's own can too."""
    if not enabled:
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@asynccontextmanager
async def sms_dispatcher(settings: Settings, executor: ToolExecutor) -> AsyncIterator[None]:
    """Deliver the SMS outbox while the service runs (leases make several replicas safe)."""
    backends = executor.registry.backends
    if not settings.sms_dispatcher_enabled or not backends.has_database:
        yield
        return
    sessions = backends.sessions()
    from salesboost.sales.sms.outbox import OutboxDispatcher  # the service's only: off the CLI's path

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
    from salesboost.sales.demo import SEEDERS  # the database's loaders: off the path of a service's start

    backends = create_backends(settings)
    try:
        return [await seeder(backends) for seeder in SEEDERS]
    finally:
        await backends.aclose()
