"""Whether the embedded SQLite file is at the schema this version needs, read with the standard library alone:
a process that finds it current (every start but the first) imports neither SQLAlchemy nor Alembic for it
(`store.db.ensure_migrated` does the rest: migrating, and any other database)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from urllib.parse import unquote

MIGRATIONS = Path(__file__).with_name("migrations")
# Seconds a writer waits for another process's SQLite write lock (SALESBOOST_SQLITE_BUSY_TIMEOUT).
DEFAULT_BUSY_TIMEOUT = 30.0


class DatabaseBusyError(TimeoutError):
    """SQLite's "database is locked": another process held the write lock past the busy timeout. A timeout, so
    the runtime answers it as one (`TOOL_TIMEOUT`, retryable) and the CLI as one line."""


@contextmanager
def busy_is_timeout() -> Iterator[None]:
    """SQLite's busy error, raised by the standard library's driver or by SQLAlchemy around it, as
    `DatabaseBusyError`; anything else as it is."""
    try:
        yield
    except Exception as exc:
        code = getattr(getattr(exc, "orig", exc), "sqlite_errorcode", None)
        if code is None or code & 0xFF != sqlite3.SQLITE_BUSY:
            raise
        raise DatabaseBusyError(
            "the database is locked: another process held its write lock past the busy timeout"
        ) from exc


def sqlite_file(url: str) -> str | None:
    """The file of a plain SQLite URL (`sqlite[+driver]:///path`, no query), as SQLAlchemy's `make_url` reads it;
    None for any other URL (another database, an in-memory one, options): those take SQLAlchemy's path.
    tests/store/test_store_schema.py holds the two readings equal."""
    scheme, sep, rest = url.partition(":///")
    if not sep or "?" in rest or not (scheme == "sqlite" or scheme.startswith("sqlite+")):
        return None
    database = unquote(rest)
    return database if database and database != ":memory:" else None


def schema_head() -> str:
    """The revision this version needs: the newest migration's. Each revision is named after its file, numbered
    in order (`0010_customer_time_zone.py` is "0010_customer_time_zone", down from the one before), so the head
    is read off the folder without Alembic's script machinery; tests/store/test_migrations.py holds Alembic's own
    answer to it."""
    return max(path.stem for path in (MIGRATIONS / "versions").glob("[0-9]*.py"))


def sqlite_revision(database: str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> str | None:
    """The revision an SQLite file is at (None: no file, or no tables yet), read with the standard library."""
    if not Path(database).exists():
        return None
    with busy_is_timeout(), closing(sqlite3.connect(database, timeout=busy_timeout)) as conn:
        found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'")
        if found.fetchone() is None:
            return None
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return None if row is None else str(row[0])


def sqlite_is_current(url: str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> bool:
    """The URL is a plain SQLite file already at `schema_head()`."""
    database = sqlite_file(url)
    return database is not None and sqlite_revision(database, busy_timeout=busy_timeout) == schema_head()
