"""The audit writer's side of the database (`observability.audit`): the table's INSERT and the driver that sends
it. Imported by the writer's thread at its first write, so that SQLAlchemy (about 0.2 s of imports) stays off
the path of a process's first call."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import (
    DBAPIError,
    InterfaceError,
    InternalError,
    OperationalError,
    ProgrammingError,
    StatementError,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from salesboost.store.audit import ToolAuditRecord
from salesboost.store.db import WRITE_OPTIONS, create_engine, create_sqlite_writer, is_sqlite

Records = list[tuple[Any, ...]]
Row = Callable[[tuple[Any, ...]], tuple[Any, ...]]  # a record's row, its values in `COLUMNS` order


def open_database(url: str) -> Database:
    return _SQLiteDatabase(url) if is_sqlite(url) else _AsyncDatabase(url)


def refused_row(exc: BaseException) -> bool:
    """The database refused a row for what it holds (write the others, quarantine that one), as opposed to being
    away or not ready (keep the records for the next try), or a failure that is not the database's."""
    return isinstance(exc, DBAPIError | StatementError) and not _unreachable(exc)


def _unreachable(exc: BaseException) -> bool:
    """The database is away or not ready (keep the records for the next try), as opposed to refusing a row
    for what it holds (write the others, quarantine that one)."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError | ProgrammingError | InternalError | OSError)


COLUMNS = (
    "id", "created_at", "tool", "caller_role", "caller_id", "tool_call_id", "session_id", "status", "error_code",
    "retry_count", "latency_ms", "cached", "input_hash", "result_hash", "input_preview", "trace_id",
)


def _aware(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class _SQLiteTime:
    """Epoch seconds as SQLite's DATETIME text, the text SQLAlchemy's processor writes for
    `datetime.fromtimestamp(epoch, UTC)`: the microseconds rounded as that rounds them (half to even, carried into
    the second), the date and time to the second formatted once a second, not for every row (1.5 µs a row)."""

    __slots__ = ("_head", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._head = ""

    def __call__(self, epoch: float) -> str:
        second = int(epoch)
        micro = round((epoch - second) * 1e6)  # the fraction is exact: `datetime`'s own steps
        if micro >= 1_000_000:
            second += 1
            micro -= 1_000_000
        if second != self._second:
            self._head = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._head}.{micro:06d}"


class _Insert:
    """The audit table's multi-row INSERT for one dialect, sent to the driver as it is (`exec_driver_sql`).

    SQLAlchemy's own multi-row INSERT compiles and processes every row's parameters in Python, about 60 µs a row
    here; this keeps one SQL text per row count (the driver prepares it once: sqlite3's and asyncpg's statement
    caches) and runs each column's own bind processor, so a row is stored exactly as SQLAlchemy would store it
    (SQLite's date-time text, its integer booleans). Each statement is one multi-row INSERT, not an executemany:
    that steps SQLite once per row, and each step lends the interpreter to the service's saturated loop and waits
    up to 5 ms to get it back (the writer fell behind at 1,100 req/s, busy 7 to 20% of the time)."""

    def __init__(self, dialect: Dialect) -> None:
        table = ToolAuditRecord.__table__
        if {c.name for c in table.c} != set(COLUMNS):  # a column added to the table and not to the rows
            raise RuntimeError(f"audit rows hold {COLUMNS}, the table {[c.name for c in table.c]}")
        self._processors: list[tuple[int, Callable[[Any], Any]]] = [
            (i, process) for i, name in enumerate(COLUMNS)
            if name != "created_at"
            and (process := table.c[name].type.dialect_impl(dialect).bind_processor(dialect)) is not None
        ]
        self._processors.append((COLUMNS.index("created_at"), _SQLiteTime() if dialect.name == "sqlite" else _aware))
        self._dollar = dialect.paramstyle == "numeric_dollar"  # asyncpg: $1, $2, ...; sqlite: ?
        if not self._dollar and dialect.paramstyle != "qmark":
            raise ValueError(f"the audit writer does not know the {dialect.paramstyle!r} parameter style")
        self._head = f"INSERT INTO {ToolAuditRecord.__tablename__} ({', '.join(COLUMNS)}) VALUES "
        self._texts: dict[int, str] = {}

    def text(self, rows: int) -> str:
        text = self._texts.get(rows)
        if text is None:
            width = len(COLUMNS)
            if self._dollar:
                groups = (
                    "(" + ", ".join(f"${r * width + c + 1}" for c in range(width)) + ")" for r in range(rows)
                )
            else:
                groups = ("(" + ", ".join("?" * width) + ")" for _ in range(rows))
            text = self._texts[rows] = self._head + ", ".join(groups)
        return text

    def parameters(self, rows: Iterable[tuple[Any, ...]]) -> tuple[Any, ...]:
        """The rows, flattened, through the bind processors."""
        values: list[Any] = []
        for built in rows:
            row = list(built)
            for i, process in self._processors:
                if row[i] is not None:
                    row[i] = process(row[i])
            values += row
        return tuple(values)

    def statements(
        self, records: Records, statement_rows: int, row: Row
    ) -> Iterator[tuple[str, tuple[Any, ...]]]:
        """The INSERTs of the records, `statement_rows` rows each, each built only when its turn comes (between
        two statements the interpreter goes back to the service's loop)."""
        for start in range(0, len(records), statement_rows):
            chunk = records[start : start + statement_rows]
            yield self.text(len(chunk)), self.parameters(map(row, chunk))


class _AsyncDatabase:
    """The writer's database through its async driver (asyncpg for PostgreSQL): a pool of the writer's own."""

    def __init__(self, url: str) -> None:
        # Every transaction of this engine writes (see `store.db`).
        self._engine = create_engine(url, execution_options=WRITE_OPTIONS)
        self._insert = _Insert(self._engine.dialect)

    def connect(self) -> AbstractAsyncContextManager[AsyncConnection]:
        return self._engine.connect()

    async def transaction(self, conn: AsyncConnection, records: Records, statement_rows: int, row: Row) -> None:
        async with conn.begin():
            for text, parameters in self._insert.statements(records, statement_rows, row):
                await conn.exec_driver_sql(text, parameters)

    async def dispose(self) -> None:
        await self._engine.dispose()


class _SQLiteDatabase:
    """The writer's SQLite file through the standard library's driver, called on the writer's thread, which has
    nothing else to do meanwhile (and SQLite lets the interpreter go while it writes). aiosqlite handed each
    statement to a thread of its own and back, and started that thread for each flush (a connection per flush,
    so that none outlived a writer nobody closed): with its statements prepared anew, about 6 µs a record. This
    one connection stays open until the writer closes (a daemon thread's: nothing of it keeps a process alive)."""

    def __init__(self, url: str) -> None:
        self._engine = create_sqlite_writer(url)
        self._insert = _Insert(self._engine.dialect)

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[Connection]:
        with self._engine.connect() as conn:
            yield conn

    async def transaction(self, conn: Connection, records: Records, statement_rows: int, row: Row) -> None:
        with conn.begin():
            for text, parameters in self._insert.statements(records, statement_rows, row):
                conn.exec_driver_sql(text, parameters)

    async def dispose(self) -> None:
        self._engine.dispose()


Database = _AsyncDatabase | _SQLiteDatabase
