"""The audit trail: one durable row per call, written by a thread of its own.

A call only appends a tuple to an in-memory deque (well under a microsecond). A writer thread, with its own event
loop and its own database engine, wakes every `SALESBOOST_AUDIT_FLUSH_INTERVAL` seconds, takes every record that
waits, hashes and masks them, and inserts them in transactions of `SALESBOOST_AUDIT_BATCH_SIZE` rows, each
statement a multi-row INSERT. None of that waits behind the service's event loop, however busy, nor holds it; a
write that takes longer than the interval is followed by the next at once. `aclose()` writes everything left.

The backlog is what is not written yet: the records waiting and those being written; a crash loses the backlog.
A caller holds room for the records of the calls it starts (`reserve`) and refuses them when there is none: the
service answers 503 `AUDIT_BACKLOG` and `/readyz` is not ready until the writer catches up, so the backlog of the
calls it serves never exceeds `SALESBOOST_AUDIT_HIGH_WATER`. When the database is unreachable the records wait
and are written once it answers. `SALESBOOST_AUDIT_MAX_PENDING` is a hard cap for in-process callers that record
without room: past it the oldest are dropped, counted and logged as errors.
A row the database refuses for what it holds is quarantined alone (counted in `quarantined`, logged): the others
are written.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import orjson
from pydantic import BaseModel

from salesboost.masking import preview
from salesboost.observability.calls import FinishedCall

if TYPE_CHECKING:
    from salesboost.observability.audit_sql import Database

log = logging.getLogger(__name__)
T = TypeVar("T")

PREVIEW_CHARS = 200
# How many rows each statement builds and inserts. The writer thread shares the interpreter with the service's
# event loop, and each hands it to the other when it waits, or else after the 5 ms switch interval. Rows built in
# one long stretch (about 100 µs each) hold the loop's requests up to 5 ms at each of its system calls, so a
# light flush goes 16 rows at a time; but under saturation every wait for the database costs the writer up to
# 5 ms to get the interpreter back, so a heavy flush goes in at most 16 statements (docs/performance.md).
MIN_STATEMENT_ROWS = 16
MAX_STATEMENTS = 16
# 16 columns a row: 1,000 rows are 16,000 parameters, within SQLite's 32,766 (since 3.32) and PostgreSQL's 32,767.
MAX_STATEMENT_ROWS = 1000


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


# Canonical JSON of a result: sorted keys, no spaces, UTF-8 (orjson, a tenth of the standard library's cost); the
# standard library's, ASCII-escaped, for what orjson refuses (a lone surrogate, a key that is not a string).
_ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
_ENCODE = json.JSONEncoder(sort_keys=True, default=str, separators=(",", ":")).encode


def _canonical(value: Any) -> bytes:
    """Canonical JSON, UTF-8; ASCII-escaped when it holds what UTF-8 cannot carry (a lone surrogate). A model is
    dumped by its own pydantic-core serializer (what `model_dump_json` wraps)."""
    if isinstance(value, BaseModel):
        try:
            return value.__pydantic_serializer__.to_json(value)
        except ValueError:
            value = value.model_dump()
    try:
        return orjson.dumps(value, default=str, option=_ORJSON_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError is one
        return _ENCODE(value).encode()


def _text(value: str, limit: int) -> str:
    """A caller's string made storable and cut to its column: a lone surrogate or a NUL (which PostgreSQL
    refuses in text) would otherwise fail the whole batch. Escaping lengthens, so the cut comes last."""
    if len(value) <= limit and value.isascii() and "\x00" not in value:  # the usual case, at no cost
        return value
    storable = value[:limit].replace("\x00", "\\0").encode("utf-8", "backslashreplace").decode("utf-8")
    return storable[:limit]




def _row(record: tuple[Any, ...]) -> tuple[Any, ...]:
    """The row of a record, its values in `audit_sql.COLUMNS` order."""
    # The fields of `AuditEntry`, unpacked as a plain tuple (building the named tuple costs a microsecond).
    (
        audit_id, created_at, tool, caller_role, caller_id, tool_call_id, session_id, status, error_code,
        retry_count, latency_ms, cached, payload, result, trace_id,
    ) = record
    canonical = _canonical(payload)
    return (
        audit_id,
        created_at,  # epoch seconds: `audit_sql` stores them as its dialect's column does
        _text(tool, 100),
        _text(caller_role, 50),
        _text(caller_id, 100) if caller_id else None,
        _text(tool_call_id, 200),
        _text(session_id, 200) if session_id else None,
        status,
        error_code,
        retry_count,
        latency_ms,
        cached,
        hashlib.sha256(canonical).hexdigest(),
        None if result is None else hashlib.sha256(_canonical(result)).hexdigest(),
        preview(canonical.decode(), PREVIEW_CHARS),
        trace_id,
    )


class AuditWriter:
    """Writes the records of one database. Its thread starts with the first record; `aclose()` stops it."""

    def __init__(
        self,
        database_url: str,
        *,
        flush_interval: float = 0.5,
        batch_size: int = 1000,
        high_water: int = 5_000,
        max_pending: int = 100_000,
    ) -> None:
        self.database_url = database_url
        self.flush_interval = flush_interval
        self.batch_size = batch_size
        self.high_water = high_water
        self.max_pending = max_pending
        self._pending: deque[tuple[Any, ...]] = deque()  # appended by the calls, taken by the writer thread
        self._writing = 0  # records the writer took and has not committed yet
        self._reserved = 0  # room held for the records of calls running (`reserve`, on the caller's thread)
        self._starting = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the writer thread's
        self._serving: Future[None] | None = None
        self._db: Database | None = None  # opened by the writer's thread, at its first write
        self._wake: asyncio.Event  # these three are the writer loop's, made by `_start`
        self._lock: asyncio.Lock
        self._closing: bool
        self.dropped = 0
        self.written = 0
        self.quarantined = 0
        self._id_prefix = os.urandom(6).hex() + "-"  # audit ids: unique across processes without a lookup
        self._ids = itertools.count(1)

    def record(self, entry: tuple[Any, ...]) -> None:
        """Queue one record, an `AuditEntry` or a plain tuple in its order (never waits)."""
        pending = self._pending
        pending.append(entry)
        if self._loop is None or len(pending) > self.max_pending:
            self._admitted()

    def record_call(self, call: FinishedCall) -> None:
        """Queue a finished call's record and stamp its `audit_id`: the executor's recorder itself, one frame
        (`record` in the same step, inline: this runs once a call)."""
        call.audit_id = audit_id = f"{self._id_prefix}{next(self._ids)}"  # decimal: no format spec to parse
        error, args = call.error, call.args
        pending = self._pending
        pending.append(  # the fields of AuditEntry, in order
            (
                audit_id, time.time(), call.name, call.role, call.caller_id, call.tool_call_id, call.session_id,
                "completed" if error is None else "failed", None if error is None else error.code, call.retries,
                call.latency_ms, call.cached, args if args is not None else call.payload, call.result,
                call.trace_id,
            )
        )
        if self._loop is None or len(pending) > self.max_pending:
            self._admitted()

    def _admitted(self) -> None:
        """After a record joined the queue: start the writer with the first, drop the oldest past the cap."""
        if self._loop is None:
            self._start()
        pending = self._pending
        if len(pending) > self.max_pending:
            try:
                pending.popleft()
            except IndexError:  # the writer took them all meanwhile
                return
            self.dropped += 1
            log.error("audit backlog over %d records: dropped the oldest (%d so far)", self.max_pending, self.dropped)

    @property
    def pending(self) -> int:
        """Records waiting for the writer."""
        return len(self._pending)

    @property
    def backlog(self) -> int:
        """Records not written yet: waiting, or being written (what a crash would lose)."""
        return len(self._pending) + self._writing

    @property
    def backlogged(self) -> bool:
        """The backlog and the calls holding room reached `high_water`: a call is refused room until the writer
        catches up."""
        return len(self._pending) + self._writing + self._reserved >= self.high_water

    def reserve(self, calls: int) -> bool:
        """Hold room for the records of `calls` about to run, or refuse (False, nothing held) when they would take
        the backlog past `high_water`. Whoever got room calls `release(calls)` once those calls have recorded.
        So long as every call is admitted this way, the records not written never exceed `high_water`."""
        if len(self._pending) + self._writing + self._reserved + calls > self.high_water:
            return False
        self._reserved += calls
        return True

    def release(self, calls: int) -> None:
        self._reserved -= calls

    async def flush(self) -> int:
        """Write every record waiting now, in the writer thread, and return how many were written. Raises when
        the database does not answer: the records wait for the next try."""
        if self._loop is None:
            if not self._pending:
                return 0
            self._start()
        return await self._in_writer(self._flush())

    async def aclose(self) -> None:
        """Stop the writer thread (letting a write in flight finish) and write what is left."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            await self._in_writer(self._close())
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()  # at once: the loop has nothing left to run
            loop.close()
            self._loop = self._thread = None

    # --- the writer thread ----------------------------------------------------------------------------------

    def _start(self) -> None:
        with self._starting:
            if self._loop is not None:
                return
            self._wake, self._lock, self._closing = asyncio.Event(), asyncio.Lock(), False
            loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=loop.run_forever, name="salesboost-audit-writer", daemon=True)
            self._thread.start()
            self._serving = asyncio.run_coroutine_threadsafe(self._serve(), loop)
            self._loop = loop

    async def _in_writer(self, work: Coroutine[Any, Any, T]) -> T:
        """Run `work` on the writer thread's loop; the caller being cancelled does not cancel it (a batch taken
        and not written would be lost)."""
        assert self._loop is not None
        return await asyncio.shield(asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self._loop)))

    async def _serve(self) -> None:
        """Every interval, write what waits; a write longer than the interval is followed by the next at once."""
        loop = asyncio.get_running_loop()
        due = loop.time() + self.flush_interval
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), due - loop.time())
            due = loop.time() + self.flush_interval
            try:
                await self._flush()
            except Exception:
                log.exception("audit write failed; %d records wait for the next try", self.backlog)

    async def _close(self) -> None:
        assert self._serving is not None
        self._closing = True
        self._wake.set()
        await asyncio.wrap_future(self._serving)
        try:
            await self._flush()
        finally:
            if self._db is not None:
                await self._db.dispose()

    async def _flush(self) -> int:
        """Write the records waiting now (not those arriving meanwhile, so a flush under load ends), in batches
        of `batch_size` rows, each its own transaction, on one connection."""
        written = 0
        async with self._lock:
            todo = len(self._pending)
            if not todo:
                return 0
            statement_rows = min(MAX_STATEMENT_ROWS, max(MIN_STATEMENT_ROWS, -(-todo // MAX_STATEMENTS)))
            db = self._database()
            async with db.connect() as conn:
                while todo > 0:
                    batch = self._take(min(todo, self.batch_size))
                    if not batch:
                        break
                    todo -= len(batch)
                    try:
                        written += await self._write(db, conn, batch, statement_rows)
                    finally:
                        self._writing = 0
        return written

    def _take(self, count: int) -> list[tuple[Any, ...]]:
        self._writing = count  # counted before they leave the deque, so the backlog never reads low
        pending: deque[tuple[Any, ...]] = self._pending
        batch: list[tuple[Any, ...]] = []
        with contextlib.suppress(IndexError):  # the hard cap may have dropped some meanwhile
            for _ in range(count):
                batch.append(pending.popleft())
        self._writing = len(batch)
        return batch

    def _database(self) -> Database:
        """The database, opened on the writer's thread at its first write: SQLAlchemy and the driver (about
        0.2 s of imports) stay off the path of a process's first call."""
        if self._db is None:
            from salesboost.observability.audit_sql import open_database

            self._db = open_database(self.database_url)
        return self._db

    async def _write(self, db: Database, conn: Any, batch: list[tuple[Any, ...]], statement_rows: int) -> int:
        """Insert the batch in one transaction; when the database refuses it for what a row holds, insert the rows
        one by one and quarantine (count, log) each row it refuses, so one bad row never blocks the trail. When the
        database is away, put back what is not written and raise."""
        from salesboost.observability.audit_sql import refused_row  # loaded by `_database` already

        try:
            await db.transaction(conn, batch, statement_rows, _row)
        except Exception as exc:
            if not refused_row(exc):
                self._pending.extendleft(reversed(batch))
                raise
        else:
            self.written += len(batch)
            return len(batch)
        written = 0
        for i, record in enumerate(batch):
            try:
                await db.transaction(conn, [record], 1, _row)
            except Exception as exc:
                if not refused_row(exc):
                    self._pending.extendleft(reversed(batch[i:]))
                    raise
                self.quarantined += 1
                entry = AuditEntry._make(record)
                log.error(
                    "audit record %s of %s refused by the database and quarantined (%d so far): %s",
                    entry.id, _text(entry.tool, 100), self.quarantined,
                    type(getattr(exc, "orig", None) or exc).__name__,
                )
            else:
                written += 1
                self.written += 1
        return written
