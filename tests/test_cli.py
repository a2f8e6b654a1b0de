"""The `salesboost` command, run as a user runs it (Typer's runner or a real process, real settings and database)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from salesboost.cli import app
from salesboost.config import get_settings
from salesboost.sales.knowledge.ingest import DEMO_FOLDER

runner = CliRunner()
SALESBOOST = str(Path(sys.executable).with_name("salesboost"))


pytestmark = pytest.mark.usefixtures("database")


def test_db_upgrade() -> None:
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "database at head" in result.output


def test_call_unknown_tool_prints_envelope_and_exits_1() -> None:
    result = runner.invoke(app, ["call", "no_such_tool", "{}", "--role", "coach"])
    assert result.exit_code == 1
    envelope = json.loads(result.stdout)
    assert envelope["ok"] is False
    assert envelope["error"]["code"] == "TOOL_NOT_FOUND"


def test_call_rejects_bad_json() -> None:
    result = runner.invoke(app, ["call", "x", "{not json"])
    assert result.exit_code == 2
    assert "not valid JSON" in result.output
    assert runner.invoke(app, ["call", "x", "[1]"]).exit_code == 2


def test_tools_list_rejects_unknown_role() -> None:
    result = runner.invoke(app, ["tools", "list", "--role", "ghost"])
    assert result.exit_code == 2
    assert "unknown role" in result.output


def test_bad_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOL_RETRY_MAX_ATTEMPTS", "many")
    get_settings.cache_clear()
    result = runner.invoke(app, ["tools", "list"])
    assert result.exit_code == 2
    assert "TOOL_RETRY_MAX_ATTEMPTS" in result.output


def test_train_if_missing_rebuilds_a_model_file_that_does_not_load(tmp_path: Path) -> None:
    """A model written by another version (its classes since moved) is rebuilt, not kept to fail at start-up."""
    from salesboost.sales.stage.model import load

    model_file = tmp_path / "stage.joblib"
    model_file.write_bytes(b"\x80\x04\x95not a model")
    result = runner.invoke(app, ["train", "stage-classifier", "--if-missing", "--output", str(model_file)])
    assert result.exit_code == 0, result.output
    assert "rebuilding the stage classifier model" in result.output
    assert load(model_file).metrics is not None


def test_a_write_lock_held_past_the_busy_timeout_is_one_line_and_exit_2(database: str, tmp_path: Path) -> None:
    """Another process holds the SQLite file's write lock longer than SALESBOOST_SQLITE_BUSY_TIMEOUT: the write
    command, run for real, says so in one line (no traceback) and exits 2; once the lock is free it works."""
    env = {**os.environ, "SALESBOOST_DATABASE_URL": database, "SALESBOOST_SQLITE_BUSY_TIMEOUT": "0.3"}
    command = [SALESBOOST, "kb", "ingest", str(DEMO_FOLDER / "battlecards"), "--collection", "locked"]
    holder = sqlite3.connect(make_url(database).database or "", isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        refused = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert refused.returncode == 2
    assert refused.stdout.strip() == ""
    [line] = refused.stderr.strip().splitlines()
    assert "database is locked" in line
    assert "SALESBOOST_SQLITE_BUSY_TIMEOUT=0.3 s" in line
    accepted = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert accepted.returncode == 0, accepted.stderr
    assert "3 added" in accepted.stdout
