"""The composition root: one place builds the runtime, the public doors lead into it, and a database nobody
migrated is migrated (the SQLite default) or named with its fix, never a traceback."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from salesboost.assembly import build_runtime
from salesboost.config import Settings, load_settings
from salesboost.store.audit import ToolAuditRecord
from salesboost.store.db import DatabaseNotMigratedError, alembic_config, downgrade, session_factory
from salesboost.tools.base import ToolBackends
from salesboost.tools.executor import ToolExecutor
from salesboost.tools.registry import build_default_registry
from sample_tools import make_registry, private_executor

PRICE = {"items": [{"sku": "SB-PRO-M", "quantity": 10}]}


async def audit_rows(runtime_url: str) -> int:
    from salesboost.store.db import create_engine

    engine = create_engine(runtime_url)
    try:
        async with session_factory(engine)() as session:
            return int(await session.scalar(select(func.count()).select_from(ToolAuditRecord)) or 0)
    finally:
        await engine.dispose()


async def test_readme_example_on_a_sqlite_file_nobody_migrated(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh' / 'salesboost.db'}"
    executor = ToolExecutor(registry=build_default_registry(load_settings(database_url=url)))
    result = await executor.execute("price_calculator", PRICE, "coach")
    assert result.ok, result.error
    await executor.aclose()  # flushes the audit trail: the table exists, the row is there
    assert await audit_rows(url) == 1


async def test_the_doors_lead_into_one_assembly(settings: Settings) -> None:
    runtime = build_runtime(settings)
    try:
        executor = runtime.executor
        assert len(runtime.registry) == 8
        assert executor.audit is not None
        door = ToolExecutor(registry=runtime.registry)
        assert [type(r).__name__ for r in door.parts.recorders] == [
            type(r).__name__ for r in executor.parts.recorders
        ]
        await door.aclose()
    finally:
        await runtime.aclose()


async def test_a_write_drops_what_it_changed_from_every_executors_cache(sqlite_backends: ToolBackends) -> None:
    """Two executors over one registry: an update through either empties both caches of that text (it used to
    reach only the cache of the executor built last)."""
    registry = make_registry(sqlite_backends)
    first, second = private_executor(registry), private_executor(registry)
    for executor in (first, second):
        await executor.execute("echo", {"text": "x"}, "coach")
        assert (await executor.execute("echo", {"text": "x"}, "coach")).cached
    assert (await first.execute("actions", {"action": "update", "value": "x"}, "admin", idempotency_key="u1")).ok
    for executor in (first, second):
        assert not (await executor.execute("echo", {"text": "x"}, "coach")).cached
    await second.aclose()
    assert len(sqlite_backends.invalidators) == 1  # a closed executor's cache is no longer invalidated
    await first.aclose()


def test_python_api_names_an_unmigrated_postgres_and_its_fix(empty_postgres_url: str) -> None:
    with pytest.raises(DatabaseNotMigratedError, match=r"has no tables yet.*salesboost db upgrade"):
        build_default_registry(load_settings(database_url=empty_postgres_url))


def _salesboost(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SALESBOOST_DATABASE_URL": database_url}
    command = [str(Path(sys.executable).with_name("salesboost")), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(
    "args",
    [
        ("call", "price_calculator", '{"items": [{"sku": "SB-PRO-M", "quantity": 1}]}'),
        ("tools", "list"),
        ("kb", "stats"),
        ("sms", "opt-out", "+14155550123"),
    ],
)
def test_cli_on_an_unmigrated_postgres_is_one_line_and_exit_2(empty_postgres_url: str, args: tuple[str, ...]) -> None:
    done = _salesboost(*args, database_url=empty_postgres_url)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "has no tables yet" in lines[0]
    assert "salesboost db upgrade" in lines[0]
    assert "postgres@" in lines[0] or "127.0.0.1" in lines[0]


def test_cli_call_migrates_a_fresh_sqlite_file_first(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'salesboost.db'}"
    done = _salesboost("call", "price_calculator", '{"items": [{"sku": "SB-PRO-M", "quantity": 1}]}', database_url=url)
    assert done.returncode == 0, done.stderr
    assert '"ok": true' in done.stdout
    assert "Traceback" not in done.stderr


def test_a_sqlite_file_at_an_older_revision_is_brought_to_head_on_first_use(sqlite_url: str) -> None:
    downgrade(sqlite_url, "-1")
    registry = build_default_registry(load_settings(database_url=sqlite_url))
    asyncio.run(registry.backends.aclose())
    with closing(sqlite3.connect(str(make_url(sqlite_url).database))) as conn:
        (revision,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    assert revision == ScriptDirectory.from_config(alembic_config(sqlite_url)).get_current_head()


# A light tool's first call in a fresh process, on a migrated SQLite file and without Redis: what it imports.
LIGHT_CALL = f"""
import asyncio, json, sys
from salesboost.assembly import build_runtime

async def main():
    runtime = build_runtime()
    try:
        result = await runtime.executor.execute("price_calculator", {PRICE!r}, "coach")
        packages = sorted({{name.split(".")[0] for name in sys.modules}})  # at the answer (the audit writes later)
    finally:
        await runtime.aclose()
    print(json.dumps({{"ok": result.ok, "audit_id": result.audit_id, "packages": packages}}))

asyncio.run(main())
"""


def test_a_light_call_imports_no_heavy_library(sqlite_url: str) -> None:
    """Start-up (issue 15): Redis's client without Redis configured, Alembic on a database at its head, the
    models' libraries before a model is used, tracing when it is off, SQLAlchemy before a call needs the
    database (the audit writer's thread imports it for its first write, after the answer): none is on a fresh
    process's path to a light tool's answer."""
    env = {**os.environ, "SALESBOOST_DATABASE_URL": sqlite_url}
    for name in ("SALESBOOST_REDIS_URL", "SALESBOOST_TRACING"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-c", LIGHT_CALL], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["ok"], done.stdout
    heavy = {
        "redis", "alembic", "mako", "sklearn", "scipy", "numpy", "joblib", "httpx", "opentelemetry", "sqlalchemy",
        "aiosqlite",
    }
    assert heavy & set(answer["packages"]) == set()
    with closing(sqlite3.connect(str(make_url(sqlite_url).database))) as conn:  # and the call was audited
        assert conn.execute("SELECT tool FROM tool_audit WHERE id = ?", (answer["audit_id"],)).fetchall() == [
            ("price_calculator",)
        ]
