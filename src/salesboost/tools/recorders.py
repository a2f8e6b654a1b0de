"""What a finished call leaves behind: each recorder reads the `Call` once its outcome is known.

The executor calls its recorders in one loop, in the order the composition root lists them (metrics,
circuit, tracing when on, audit, bandit, events); approvals would join as one more recorder. Every recorder in
the list is a bound `record` method: `MetricsRecorder.record`, `Breakers.record`, `AuditRecorder.record`,
`Bandit.record`, `StatusEvents.record`. (An instance with a `__call__` would cost each call about a thousand
interpreter instructions more to enter: CPython calls it through a generic slot that packs the arguments in a
tuple.)
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from salesboost.observability.metrics import ToolMetrics
from salesboost.tools.call import Call

if TYPE_CHECKING:  # the extra `otel`: imported only when tracing is on
    from salesboost.observability.tracing import ToolSpans

Recorder = Callable[[Call], None]


class MetricsRecorder:
    """Counts a call in the six tool metrics, once its role is known to be configured and allowed (an unknown
    role never becomes a label)."""

    __slots__ = ("_count",)

    def __init__(self, metrics: ToolMetrics) -> None:
        self._count = metrics.record_call

    def record(self, call: Call) -> None:
        if call.authorized:
            error = call.error
            self._count(call.name, call.role, call.elapsed, None if error is None else error.code, call.retries)


class AuditSink(Protocol):
    """Where audit records go (`observability.audit.AuditWriter`): a call only hands over a tuple. The service
    holds room for the records of the calls it starts (`reserve`, then `release`) and refuses calls when there is
    none, so the records not written yet (`backlog`) stay within `high_water`."""

    flush_interval: float
    high_water: int

    @property
    def backlog(self) -> int: ...

    @property
    def backlogged(self) -> bool: ...

    def reserve(self, calls: int) -> bool: ...

    def release(self, calls: int) -> None: ...

    def record(self, entry: tuple[Any, ...]) -> None: ...

    async def flush(self) -> int: ...

    async def aclose(self) -> None: ...


class AuditRecorder:
    """Hands each call's record to the sink and stamps the envelope's `audit_id`."""

    __slots__ = ("_ids", "_prefix", "_record")

    def __init__(self, sink: AuditSink) -> None:
        self._record = sink.record
        self._prefix = os.urandom(6).hex() + "-"
        self._ids = itertools.count(1)

    def record(self, call: Call) -> None:
        call.audit_id = audit_id = f"{self._prefix}{next(self._ids)}"  # decimal: no format spec to parse
        error = call.error
        self._record(  # the fields of observability.audit.AuditEntry, in order
            (
                audit_id, time.time(), call.name, call.role, call.caller_id, call.tool_call_id, call.session_id,
                "completed" if error is None else "failed", None if error is None else error.code, call.retries,
                call.latency_ms, call.cached, call.args if call.args is not None else call.payload, call.result,
                call.trace_id,
            )
        )


class TracingRecorder:
    """Writes each call's span (`observability.tracing.ToolSpans`) and keeps its trace id on the call for the
    audit record; before the audit recorder, then."""

    __slots__ = ("_spans",)

    def __init__(self, spans: ToolSpans) -> None:
        self._spans = spans

    def record(self, call: Call) -> None:
        error, entry = call.error, call.entry
        call.trace_id = self._spans.record(
            call.name, call.tool_call_id, entry.tool.description if entry is not None else None, call.start,
            call.elapsed, None if error is None else (error.code, error.message),
            call.failures or (),
            call.args if call.args is not None else call.payload, call.result,
        )
