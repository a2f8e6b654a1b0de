"""The six Prometheus tool metrics (exact names and labels of the contract), and the audit writer's three.

The executor counts into plain numbers held per (tool, role) — an increment is an attribute add, a histogram
observation a bisect — and `ToolMetrics` is a prometheus_client collector that turns them into metric
families when `/metrics` is scraped. prometheus_client's own `Counter.labels().inc()` takes a lock and
costs about a microsecond; this keeps the whole record step under one. All counting happens on the event
loop's thread. Cache hits and misses are counted once, by the cache; the collector reads them from the caches
it watches, and the audit writer's backlog and losses from the writers it watches.
"""

from __future__ import annotations

import weakref
from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from salesboost.observability.calls import FinishedCall

STATUS_SUCCESS = "success"
STATUS_ERROR = "error"

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class CacheCounts(Protocol):
    """A cache that counts its lookups: per tool, [hits, misses] (`tools.cache.ToolCache`)."""

    def lookups(self) -> Mapping[str, Sequence[int]]: ...


class AuditCounts(Protocol):
    """An audit writer (`observability.audit.AuditWriter`): what waits to be written, and what never will be."""

    @property
    def backlog(self) -> int: ...

    @property
    def dropped(self) -> int: ...

    @property
    def quarantined(self) -> int: ...


class ToolStats:
    """The counts of one tool, whatever the role (errors, retries)."""

    __slots__ = ("errors", "retries")

    def __init__(self) -> None:
        self.errors: dict[str, int] = {}
        self.retries: dict[int, int] = {}


class BoundToolMetrics:
    """The counts of one (tool, caller_role), bound once and updated in place."""

    __slots__ = ("buckets", "duration_count", "duration_sum", "failures", "role", "tool", "tool_stats")

    def __init__(self, tool: str, role: str, tool_stats: ToolStats) -> None:
        self.tool = tool
        self.role = role
        self.tool_stats = tool_stats
        self.failures = 0
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self.duration_sum = 0.0
        self.duration_count = 0


class ToolMetrics(Collector):
    """Registers itself on `registry` (a fresh one by default; `default_metrics()` uses the global one)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._bound: dict[str, dict[str, BoundToolMetrics]] = {}  # tool -> role -> counts (no key tuple per call)
        self._tools: dict[str, ToolStats] = {}
        self._caches: weakref.WeakSet[CacheCounts] = weakref.WeakSet()
        self._audits: weakref.WeakSet[AuditCounts] = weakref.WeakSet()
        self.registry.register(self)

    def bind(self, tool: str, role: str) -> BoundToolMetrics:
        roles = self._bound.get(tool)
        if roles is not None and (bound := roles.get(role)) is not None:
            return bound
        stats = self._tools.get(tool)
        if stats is None:
            stats = self._tools[tool] = ToolStats()
        bound = self._bound.setdefault(tool, {})[role] = BoundToolMetrics(tool, role, stats)
        return bound

    def record(self, call: FinishedCall) -> None:
        """Count one finished call, once its role is known to be configured and allowed (an unknown role never
        becomes a label): observed always (its successes are the observed less the failures), failed when it
        has an error, and each of its retries. The executor's recorder itself: no frame in between."""
        if not call.authorized:
            return
        tool, role, seconds = call.name, call.role, call.elapsed
        roles = self._bound.get(tool)
        bound = roles.get(role) if roles is not None else None
        if bound is None:
            bound = self.bind(tool, role)
        bound.buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        bound.duration_sum += seconds
        bound.duration_count += 1
        if (error := call.error) is not None:
            bound.failures += 1
            errors = bound.tool_stats.errors
            errors[error.code] = errors.get(error.code, 0) + 1
        if retries := call.retries:
            counts = bound.tool_stats.retries
            for attempt in range(1, retries + 1):
                counts[attempt] = counts.get(attempt, 0) + 1

    def watch_cache(self, cache: CacheCounts) -> None:
        """Expose this cache's lookups as the two cache metrics (for as long as the cache lives)."""
        self._caches.add(cache)

    def watch_audit(self, writer: AuditCounts) -> None:
        """Expose this writer's backlog and losses as the three audit metrics (for as long as it lives)."""
        self._audits.add(writer)

    def _cache_lookups(self) -> dict[str, list[int]]:
        totals: dict[str, list[int]] = {}
        for cache in list(self._caches):
            for tool, (hits, misses) in cache.lookups().items():
                total = totals.setdefault(tool, [0, 0])
                total[0] += hits
                total[1] += misses
        return totals

    def collect(self) -> Iterator[Metric]:
        calls = CounterMetricFamily(
            "tool_calls_total", "Tool calls by outcome.", labels=["tool_name", "status", "caller_role"]
        )
        duration = HistogramMetricFamily(
            "tool_execution_duration_seconds",
            "Wall time of a tool call, cache hits included.",
            labels=["tool_name", "caller_role"],
        )
        bounds = [str(b) for b in LATENCY_BUCKETS] + ["+Inf"]
        for tool, role, bound in sorted((t, r, b) for t, roles in self._bound.items() for r, b in roles.items()):
            calls.add_metric([tool, STATUS_SUCCESS, role], bound.duration_count - bound.failures)
            calls.add_metric([tool, STATUS_ERROR, role], bound.failures)
            cumulative, running = [], 0
            for le, count in zip(bounds, bound.buckets, strict=True):
                running += count
                cumulative.append((le, float(running)))
            duration.add_metric([tool, role], cumulative, bound.duration_sum)
        errors = CounterMetricFamily(
            "tool_errors_total", "Failed tool calls by error code.", labels=["tool_name", "error_type"]
        )
        retries = CounterMetricFamily(
            "tool_retry_attempts_total",
            "Retries (not first attempts) by their number.",
            labels=["tool_name", "attempt_number"],
        )
        hit_rate = GaugeMetricFamily(
            "tool_cache_hit_rate", "Share of cache lookups that hit, per tool.", labels=["tool_name"]
        )
        cache_ops = CounterMetricFamily(
            "tool_cache_operations_total", "Cache lookups of cacheable tools.", labels=["tool_name", "operation"]
        )
        for tool, stats in sorted(self._tools.items()):
            for code, count in sorted(stats.errors.items()):
                errors.add_metric([tool, code], count)
            for attempt, count in sorted(stats.retries.items()):
                retries.add_metric([tool, str(attempt)], count)
        for tool, (hits, misses) in sorted(self._cache_lookups().items()):
            hit_rate.add_metric([tool], hits / (hits + misses) if hits + misses else 0.0)
            cache_ops.add_metric([tool, "hit"], hits)
            cache_ops.add_metric([tool, "miss"], misses)
        yield from (calls, duration, errors, hit_rate, cache_ops, retries)
        yield from self._audit_metrics()

    def _audit_metrics(self) -> Iterator[Metric]:
        writers = list(self._audits)
        yield GaugeMetricFamily(
            "tool_audit_backlog",
            "Audit records not written yet (waiting or being written): what a crash would lose.",
            value=sum(w.backlog for w in writers),
        )
        yield CounterMetricFamily(
            "tool_audit_dropped",
            "Audit records dropped past SALESBOOST_AUDIT_MAX_PENDING (the service pushes back long before).",
            value=sum(w.dropped for w in writers),
        )
        yield CounterMetricFamily(
            "tool_audit_quarantined",
            "Audit records the database refused for what they hold, logged and left out.",
            value=sum(w.quarantined for w in writers),
        )


_default: ToolMetrics | None = None


def default_metrics() -> ToolMetrics:
    """The process-wide metrics on prometheus_client's global registry (what `/metrics` exposes)."""
    global _default
    if _default is None:
        _default = ToolMetrics(REGISTRY)
    return _default
