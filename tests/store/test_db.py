"""Engines: a database error never carries the values bound to its statement (phones, message bodies); SQLite,
the embedded default, takes writers from several processes at once."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from salesboost.assembly import build_runtime
from salesboost.config import load_settings
from salesboost.sales.knowledge.ingest import DEMO_FOLDER
from salesboost.store.db import create_engine, session_factory, writing

SALESBOOST = str(Path(sys.executable).with_name("salesboost"))
WRITER = Path(__file__).with_name("sqlite_writer.py")


async def test_errors_hide_bound_values(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            with pytest.raises(DBAPIError) as raised:
                await conn.execute(text("SELECT * FROM no_such_table WHERE phone = :phone"), {"phone": "+14155550123"})
    finally:
        await engine.dispose()
    assert "no_such_table" in str(raised.value)
    assert "+14155550123" not in str(raised.value)


async def test_on_sqlite_only_a_write_transaction_writes(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    sessions = session_factory(engine)
    insert = text("INSERT INTO sms_opt_outs (phone, opted_out_at, source) VALUES ('+14155550101', '2026-01-01', 'cli')")
    try:
        async with sessions() as session:
            with pytest.raises(DBAPIError, match="readonly"):
                await session.execute(insert)
        async with writing(sessions) as session:
            await session.execute(insert)
        async with sessions() as session:
            assert await session.scalar(text("SELECT count(*) FROM sms_opt_outs")) == 1
    finally:
        await engine.dispose()


def test_kb_ingest_while_another_process_writes(sqlite_url: str, tmp_path: Path) -> None:
    """`salesboost kb ingest`, run three times, rewrites every document while a runtime in another process
    creates and updates customers and queues texts: neither sees "database is locked"."""
    folder = tmp_path / "kb"
    shutil.copytree(DEMO_FOLDER, folder)
    stop = tmp_path / "stop"
    env = {**os.environ, "SALESBOOST_DATABASE_URL": sqlite_url}
    writer = subprocess.Popen(
        [sys.executable, str(WRITER), sqlite_url, str(stop)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "ready", writer.stderr.read() if writer.stderr else ""
        documents = sorted(folder.rglob("*.md"))
        for run in range(3):
            for document in documents:
                with document.open("a", encoding="utf-8") as f:
                    f.write(f"\n\nRevision {run}.\n")
            ingest = subprocess.run(
                [SALESBOOST, "kb", "ingest", str(folder), "--collection", "shared"], env=env, cwd=tmp_path,
                capture_output=True, text=True, timeout=300,
            )
            assert ingest.returncode == 0, ingest.stderr
            written = re.search(r"(\d+) added, (\d+) updated", ingest.stdout)
            assert written is not None, ingest.stdout
            assert int(written[1]) + int(written[2]) >= len(documents), ingest.stdout
    finally:
        stop.touch()
        out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err
    report = json.loads(out.splitlines()[-1])
    assert report["failed"] == []
    assert report["calls"] > 30


async def test_a_tool_call_that_waits_past_the_busy_timeout_times_out(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The lock another process holds past SALESBOOST_SQLITE_BUSY_TIMEOUT is a timeout to the caller: retryable,
    nothing written, no traceback logged."""
    runtime = build_runtime(load_settings(database_url=sqlite_url, sqlite_busy_timeout=0.2, retry_enabled=False))
    holder = sqlite3.connect(make_url(sqlite_url).database or "", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        result = await runtime.executor.execute(
            "sms_outreach", {"phone": "+14155550101", "message": "Hello"}, "sdr", idempotency_key="locked-1"
        )
        holder.execute("ROLLBACK")
        history = await runtime.executor.execute("sms_outreach", {"action": "history", "phone": "+14155550101"}, "sdr")
    finally:
        holder.close()
        await runtime.aclose()
    assert result.error is not None
    assert (result.error.code, result.error.retryable) == ("TOOL_TIMEOUT", True)
    assert "database is locked" in result.error.message
    assert history.result is not None
    assert history.result["count"] == 0
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
