"""Shared fixtures: migrated databases (SQLite always, PostgreSQL when reachable) and backends.

Each test gets its own database: SQLite by copying a file migrated once per session, PostgreSQL by
`CREATE DATABASE ... TEMPLATE` from a database migrated once per session. In CI (`CI=true`) an absent
PostgreSQL or Redis fails the tests that need it instead of skipping them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from salesboost.assembly import create_backends
from salesboost.config import Settings, get_settings, load_settings
from salesboost.store.db import upgrade
from salesboost.tools.base import ToolBackends

POSTGRES_URL = os.environ.get("SALESBOOST_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SALESBOOST_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() == "true"
# The default rate limits (data/rate_limits.yaml) would refuse the many calls most tests make: off for the suite
# (and the servers it starts); the tests of the limits themselves name the file.
os.environ["SALESBOOST_RATE_LIMITS_FILE"] = ""

pytest_plugins = ["sample_tools", "shared_state"]


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip (or, in CI, fail) when a service the test needs is not listening."""
    if _reachable(host, port):
        return
    message = f"{name} is not reachable at {host}:{port}"
    if IN_CI:
        pytest.fail(message + " (CI=true: tests that need it must run)")
    pytest.skip(message + "; start it to run this test")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "salesboost.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


def _pg_admin(sql: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(POSTGRES_URL)

    async def run() -> None:
        conn = await asyncpg.connect(
            host=url.host, port=url.port or 5432, user=url.username, password=url.password, database=url.database
        )
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def _pg_url(database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(POSTGRES_URL).set(database=database).render_as_string(hide_password=False)


@contextmanager
def _pg_database(prefix: str, template: str | None = None) -> Iterator[str]:
    """A PostgreSQL database of its own (a copy of `template`, else empty), dropped afterwards."""
    from sqlalchemy.engine import make_url

    url = make_url(POSTGRES_URL)
    require_service("PostgreSQL", url.host or "127.0.0.1", url.port or 5432)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    _pg_admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    try:
        yield name
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    with _pg_database("sb_tmpl") as name:
        upgrade(_pg_url(name))
        yield name


@pytest.fixture
def postgres_url(postgres_template: str) -> Iterator[str]:
    with _pg_database("sb_test", postgres_template) as name:
        yield _pg_url(name)


@pytest.fixture
def empty_postgres_url() -> Iterator[str]:
    """A PostgreSQL database nobody migrated."""
    with _pg_database("sb_empty") as name:
        yield _pg_url(name)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """A migrated, empty database of each kind: tests using it run on both."""
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
        return str(request.getfixturevalue("postgres_url"))
    return str(request.getfixturevalue("sqlite_url"))


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    """Settings on a fresh SQLite database, with fast retries."""
    return load_settings(database_url=sqlite_url, retry_base_delay=0.001)


@pytest.fixture
def database(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh SQLite database as the configured one (`SALESBOOST_DATABASE_URL`), for what reads the settings
    itself: the command line, `salesboost eval`."""
    monkeypatch.setenv("SALESBOOST_DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    yield sqlite_url
    get_settings.cache_clear()


@pytest.fixture
async def backends(db_url: str) -> AsyncIterator[ToolBackends]:
    """Backends on a fresh database of each kind."""
    backend = create_backends(load_settings(database_url=db_url, retry_base_delay=0.001))
    yield backend
    await backend.aclose()


@pytest.fixture
def redis_url() -> str:
    from urllib.parse import urlparse

    parsed = urlparse(REDIS_URL)
    require_service("Redis", parsed.hostname or "127.0.0.1", parsed.port or 6379)
    return REDIS_URL
