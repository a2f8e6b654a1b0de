"""What a finished call leaves behind: each recorder reads the `Call` once its outcome is known.

The executor calls its recorders in one loop, in the order the composition root lists them (metrics,
circuit, tracing when on, audit, bandit, events); approvals would join as one more recorder. Every recorder in
the list is the owner's bound method itself: `ToolMetrics.record`, `Breakers.record`, `AuditWriter.record_call`,
`Bandit.record`, `StatusEvents.record` (a recorder object in between would cost each call a frame; an instance
with a `__call__` about a thousand interpreter instructions more: CPython calls it through a generic slot that
packs the arguments in a tuple).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from salesboost.tools.call import Call

if TYPE_CHECKING:  # the extra `otel`: imported only when tracing is on
    from salesboost.observability.tracing import ToolSpans

Recorder = Callable[[Call], None]


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

    def record_call(self, call: Call) -> None:
        """Queue the call's record and stamp its `audit_id` (the executor's audit recorder)."""

    async def flush(self) -> int: ...

    async def aclose(self) -> None: ...


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
