"""The audit trail: one durable row per call, written in batches off the call's path.

A call only appends a tuple to an in-memory deque (well under a microsecond). A background task wakes every
`SALESBOOST_AUDIT_FLUSH_INTERVAL` seconds (or as soon as a batch is full), hashes and masks the inputs and
results there, and inserts the batch. So a crash loses at most the records of the last interval; `aclose()`
flushes everything. When the database is unreachable the records wait and are written once it answers; past
`SALESBOOST_AUDIT_MAX_PENDING` records the oldest are dropped, counted and logged as errors. A row the database
refuses for what it holds is quarantined alone (counted in `quarantined`, logged): the others are written.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections import deque
from datetime import UTC, datetime
from typing import Any, NamedTuple

from pydantic import BaseModel
from sqlalchemy import insert
from sqlalchemy.exc import (
    DBAPIError,
    InterfaceError,
    InternalError,
    OperationalError,
    ProgrammingError,
    StatementError,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from salesboost.masking import preview
from salesboost.store.audit import ToolAuditRecord
from salesboost.store.db import writing

log = logging.getLogger(__name__)

PREVIEW_CHARS = 200


class AuditEntry(NamedTuple):
    """What the call hands over; everything costly is derived later, in the writer.

    The executor hands a plain tuple in this order (building the named tuple costs it 0.7 µs a call).
    """

    id: str
    created_at: float  # time.time()
    tool: str
    caller_role: str
    caller_id: str | None  # the API key's id
    tool_call_id: str
    session_id: str | None
    status: str
    error_code: str | None
    retry_count: int
    latency_ms: float
    cached: bool
    payload: Any  # the validated input model, or the raw payload when it did not validate
    result: Any  # the result dict, or None
    trace_id: str | None = None  # the call's span's trace (32 hex digits), when tracing is on


def _canonical(value: Any) -> str:
    """Canonical JSON; ASCII-escaped when it holds what UTF-8 cannot carry (a lone surrogate)."""
    if isinstance(value, BaseModel):
        try:
            return value.model_dump_json()
        except ValueError:
            value = value.model_dump()
    return json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))


def _text(value: str, limit: int) -> str:
    """A caller's string made storable and cut to its column: a lone surrogate or a NUL (which PostgreSQL
    refuses in text) would otherwise fail the whole batch. Escaping lengthens, so the cut comes last."""
    storable = value[:limit].replace("\x00", "\\0").encode("utf-8", "backslashreplace").decode("utf-8")
    return storable[:limit]


def _rows(batch: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    return [_row(record) for record in batch]


def _unreachable(exc: BaseException) -> bool:
    """The database is away or not ready (keep the records for the next try), as opposed to refusing a row
    for what it holds (write the others, quarantine that one)."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError | ProgrammingError | InternalError | OSError)


def _row(record: tuple[Any, ...]) -> dict[str, Any]:
    entry = AuditEntry._make(record)
    payload = _canonical(entry.payload)
    return {
        "id": entry.id,
        "created_at": datetime.fromtimestamp(entry.created_at, UTC),
        "tool": _text(entry.tool, 100),
        "caller_role": _text(entry.caller_role, 50),
        "caller_id": _text(entry.caller_id, 100) if entry.caller_id else None,
        "tool_call_id": _text(entry.tool_call_id, 200),
        "session_id": _text(entry.session_id, 200) if entry.session_id else None,
        "status": entry.status,
        "error_code": entry.error_code,
        "retry_count": entry.retry_count,
        "latency_ms": entry.latency_ms,
        "cached": entry.cached,
        "input_hash": hashlib.sha256(payload.encode()).hexdigest(),
        "result_hash": None if entry.result is None else hashlib.sha256(_canonical(entry.result).encode()).hexdigest(),
        "input_preview": preview(payload, PREVIEW_CHARS),
        "trace_id": entry.trace_id,
    }


class AuditWriter:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        flush_interval: float = 0.5,
        batch_size: int = 500,
        max_pending: int = 100_000,
    ) -> None:
        self._sessions = session_factory
        self.flush_interval = flush_interval
        self.batch_size = batch_size
        self.max_pending = max_pending
        self._pending: deque[tuple[Any, ...]] = deque()
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._lock: asyncio.Lock | None = None
        self._closing = False
        self.dropped = 0
        self.written = 0
        self.quarantined = 0

    def record(self, entry: tuple[Any, ...]) -> None:
        """Queue one record, an `AuditEntry` or a plain tuple in its order (never waits)."""
        pending = self._pending
        pending.append(entry)
        if self._task is None:
            self._start()
        if len(pending) >= self.batch_size:
            assert self._wake is not None
            self._wake.set()
            if len(pending) > self.max_pending:
                pending.popleft()
                self.dropped += 1
                log.error(
                    "audit backlog over %d records: dropped the oldest (%d so far)", self.max_pending, self.dropped
                )

    def _start(self) -> None:
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="salesboost-audit-writer")

    async def _loop(self) -> None:
        assert self._wake is not None
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_interval)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                log.exception("audit write failed; %d records wait for the next try", len(self._pending))

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def flush(self) -> int:
        """Write every queued record now; returns how many were written. Hashing and masking run in a thread,
        off the event loop the calls share."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        written = 0
        async with self._lock:
            while self._pending:
                batch = [self._pending.popleft() for _ in range(min(self.batch_size, len(self._pending)))]
                try:
                    rows = await asyncio.to_thread(_rows, batch)
                except BaseException:
                    self._pending.extendleft(reversed(batch))
                    raise
                written += await self._write(batch, rows)
        self.written += written
        return written

    async def _write(self, batch: list[tuple[Any, ...]], rows: list[dict[str, Any]]) -> int:
        """Insert the rows at once; when the database refuses the batch for what a row holds, insert them one by
        one and quarantine (count, log) each row it refuses, so one bad row never blocks the trail. When the
        database is away, put back what is not written and raise."""
        try:
            await self._insert(rows)
            return len(rows)
        except Exception as exc:
            if not isinstance(exc, DBAPIError | StatementError) or _unreachable(exc):
                self._pending.extendleft(reversed(batch))
                raise
        written = 0
        for i, row in enumerate(rows):
            try:
                await self._insert([row])
            except Exception as exc:
                if not isinstance(exc, DBAPIError | StatementError) or _unreachable(exc):
                    self._pending.extendleft(reversed(batch[i:]))
                    raise
                self.quarantined += 1
                log.error(
                    "audit record %s of %s refused by the database and quarantined (%d so far): %s",
                    row["id"], row["tool"], self.quarantined, type(getattr(exc, "orig", None) or exc).__name__,
                )
            else:
                written += 1
        return written

    async def _insert(self, rows: list[dict[str, Any]]) -> None:
        async with writing(self._sessions) as session:
            await session.execute(insert(ToolAuditRecord), rows)

    async def aclose(self) -> None:
        """Stop the background writer (letting a batch in flight finish) and write what is left."""
        if self._task is not None:
            assert self._wake is not None
            self._closing = True
            self._wake.set()
            await self._task
            self._task = None
        await self.flush()
