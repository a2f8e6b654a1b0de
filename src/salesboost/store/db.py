"""Engines, sessions and migrations for the configured database (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

MIGRATIONS = Path(__file__).with_name("migrations")
T = TypeVar("T")


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine that hides bound values from errors and logs; for SQLite the folder is created and WAL,
    foreign keys and a busy timeout set."""
    # Bound values (phones, message bodies) never reach an exception's text or a log line.
    kwargs.setdefault("hide_parameters", True)
    if not is_sqlite(url):
        return create_async_engine(url, pool_pre_ping=True, **kwargs)
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)



async def with_sessions(url: str, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]) -> T:
    """Run `work` with sessions on the database at `url`, then close the engine (for one-shot commands)."""
    engine = create_engine(url)
    try:
        return await work(session_factory(engine))
    finally:
        await engine.dispose()


class DatabaseNotMigratedError(RuntimeError):
    """The configured database is not at the schema this version needs; the message says the fix."""


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def migration_state(url: str) -> tuple[str | None, str | None]:
    """(the database's revision, the migrations' head); blocking (from async code, in a thread)."""

    async def current() -> str | None:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
        finally:
            await engine.dispose()

    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    return asyncio.run(current()), head


def ensure_migrated(url: str) -> None:
    """Make sure the schema is current: an SQLite file (the embedded default) is migrated on first use; any
    other database raises `DatabaseNotMigratedError` naming the command that fixes it. Blocking, and it runs
    its own event loop: from async code, call it in a thread."""
    database = make_url(url).database
    if is_sqlite(url) and database in (None, "", ":memory:"):
        return  # a database private to one engine: nothing to check from here
    revision, head = migration_state(url)
    if revision == head:
        return
    if is_sqlite(url):
        upgrade(url)
        return
    where = "has no tables yet" if revision is None else f"is at revision {revision}"
    raise DatabaseNotMigratedError(
        f"the database {safe_url(url)} {where}, this version needs {head}: run `salesboost db upgrade`"
    )


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Apply the migrations (blocking; from async code run it with `asyncio.to_thread`)."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)
