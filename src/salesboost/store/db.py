"""Engines, sessions and migrations for the configured database (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from salesboost.store.schema import (
    DEFAULT_BUSY_TIMEOUT,
    MIGRATIONS,
    busy_is_timeout,
    schema_head,
    sqlite_revision,
)

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic (about 0.15 s of imports with its dialects and templates) is imported by the functions that migrate,
# not by a process that finds its schema current.
T = TypeVar("T")
# The execution option that marks a write transaction; `writing` sets it, `create_engine`'s `_begin` reads it.
_WRITE = "salesboost_write"
WRITE_OPTIONS: dict[str, Any] = {_WRITE: True}
_QUERY_ONLY = "salesboost_query_only"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT, **kwargs: Any) -> AsyncEngine:
    """An async engine that hides bound values from errors and logs.

    SQLite, the embedded default, is shared by processes (`salesboost serve` and the CLI), so its engine: creates
    the file's folder; sets WAL (readers and the one writer do not wait for each other) and foreign keys; makes
    a writer wait up to `busy_timeout` seconds for another process's write lock; and begins the transactions
    itself instead of the driver (SQLAlchemy's recipe for pysqlite/aiosqlite): a write transaction (`writing`)
    with BEGIN IMMEDIATE, any other with BEGIN in `query_only` mode. BEGIN IMMEDIATE takes the write lock before
    the transaction reads anything; a transaction that read first could not wait for it, SQLite would refuse at
    once ("database is locked") whenever another process had committed since, whatever the timeout. Making the
    other transactions read-only turns a write outside `writing` into an error every time it runs, in tests,
    rather than one under load.
    """
    # Bound values (phones, message bodies) never reach an exception's text or a log line.
    kwargs.setdefault("hide_parameters", True)
    if not is_sqlite(url):
        return create_async_engine(url, pool_pre_ping=True, **kwargs)
    _make_folder(url)
    engine = create_async_engine(url, connect_args={"timeout": busy_timeout}, **kwargs)
    _sqlite_transactions(engine.sync_engine)
    return engine


def create_sqlite_writer(url: str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Engine:
    """A synchronous engine on the SQLite database of `url` (aiosqlite's or pysqlite's), for a thread of its own
    that only writes (the audit writer): the standard library's driver, called directly, without a thread hop
    per statement. Its one connection stays open between writes (with its prepared statements); every transaction
    is a write, begun as `create_engine`'s are."""
    _make_folder(url)
    engine = create_sync_engine(
        make_url(url).set(drivername="sqlite"), connect_args={"timeout": busy_timeout}, pool_size=1,
        execution_options=WRITE_OPTIONS, hide_parameters=True,
    )
    _sqlite_transactions(engine)
    return engine


def _make_folder(url: str) -> None:
    """Create the SQLite file's folder."""
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_transactions(engine: Engine) -> None:
    """WAL, foreign keys, and transactions begun by us: BEGIN IMMEDIATE to write, BEGIN in `query_only` mode
    otherwise (see `create_engine`)."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, record: Any) -> None:
        dbapi_conn.isolation_level = None  # the driver emits no BEGIN of its own: `_begin` does
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        record.info[_QUERY_ONLY] = False

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        write = bool(conn.get_execution_options().get(_WRITE))
        info = conn.connection.info  # the DBAPI connection's, kept while the pool keeps it
        if info[_QUERY_ONLY] == write:  # set only when it changes: one statement fewer per transaction
            conn.exec_driver_sql(f"PRAGMA query_only={int(not write)}")
            info[_QUERY_ONLY] = not write
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def writing(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session in a write transaction: committed when the block ends, rolled back if it raises. Every write
    goes through here; on SQLite it begins with BEGIN IMMEDIATE (see `create_engine`), and a lock that stays
    taken past the busy timeout is `DatabaseBusyError`."""
    with busy_is_timeout():
        async with sessions(execution_options=WRITE_OPTIONS) as session, session.begin():
            yield session


async def with_sessions(
    url: str, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]], *,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
) -> T:
    """Run `work` with sessions on the database at `url`, then close the engine (for one-shot commands)."""
    engine = create_engine(url, busy_timeout=busy_timeout)
    try:
        return await work(session_factory(engine))
    finally:
        await engine.dispose()


class DatabaseNotMigratedError(RuntimeError):
    """The configured database is not at the schema this version needs; the message says the fix."""


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def migration_state(url: str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> tuple[str | None, str]:
    """(the database's revision, the revision this version needs); blocking (from async code, in a thread)."""
    from alembic.runtime.migration import MigrationContext

    async def current() -> str | None:
        engine = create_engine(url, busy_timeout=busy_timeout)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
        finally:
            await engine.dispose()

    return asyncio.run(current()), schema_head()


def ensure_migrated(url: str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
    """Make sure the schema is current: an SQLite file (the embedded default) is migrated on first use; any
    other database raises `DatabaseNotMigratedError` naming the command that fixes it. Blocking, and it runs
    its own event loop: from async code, call it in a thread."""
    if is_sqlite(url):
        database = make_url(url).database
        if database in (None, "", ":memory:"):
            return  # a database private to one engine: nothing to check from here
        if sqlite_revision(database, busy_timeout=busy_timeout) != schema_head():
            upgrade(url, busy_timeout=busy_timeout)
        return
    revision, head = migration_state(url, busy_timeout=busy_timeout)
    if revision == head:
        return
    where = "has no tables yet" if revision is None else f"is at revision {revision}"
    raise DatabaseNotMigratedError(
        f"the database {safe_url(url)} {where}, this version needs {head}: run `salesboost db upgrade`"
    )


def alembic_config(url: str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = url
    config.attributes["busy_timeout"] = busy_timeout
    return config


def upgrade(url: str, revision: str = "head", *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
    """Apply the migrations (blocking; from async code run it with `asyncio.to_thread`)."""
    from alembic import command

    with busy_is_timeout():
        command.upgrade(alembic_config(url, busy_timeout=busy_timeout), revision)


def downgrade(url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)
