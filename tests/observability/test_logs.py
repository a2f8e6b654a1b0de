"""The service's logs: `salesboost serve` run for real, our records and uvicorn's in one format, at one level."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from salesboost.config import PROJECT_ROOT

SALESBOOST = str(Path(sys.executable).with_name("salesboost"))
KEY = "sdr-logs-key-0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve_and_text(tmp_path: Path, log_format: str, access_log: bool = True) -> str:
    """Serve, send one SMS (the `log` provider logs its delivery at INFO), and answer what the server wrote."""
    port = _free_port()
    env = {
        **os.environ, "SALESBOOST_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'salesboost.db'}",
        "SALESBOOST_API_KEYS": f"{KEY}:sdr", "SALESBOOST_LOG_FORMAT": log_format, "SALESBOOST_LOG_LEVEL": "info",
        "SALESBOOST_SMS_DISPATCH_INTERVAL": "0.2", "SALESBOOST_ACCESS_LOG": "true",
    }
    if not access_log:  # the default
        del env["SALESBOOST_ACCESS_LOG"]
    env.pop("SALESBOOST_API_KEYS_FILE", None)
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [SALESBOOST, "serve", "--port", str(port)], env=env, cwd=PROJECT_ROOT, stdout=log, stderr=log
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(f"{url}/healthz", timeout=1)
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        pytest.fail(f"the server did not start:\n{log_path.read_text()}")
                    time.sleep(0.1)
            sent = httpx.post(
                f"{url}/api/v1/tools/execute", timeout=10,
                headers={"Authorization": f"Bearer {KEY}", "Idempotency-Key": "logs-1"},
                json={"tool": "sms_outreach", "payload": {"phone": "+14155550123", "message": "Hello"}},
            )
            assert sent.status_code == 200, sent.text
            deadline = time.monotonic() + 20
            while "salesboost.sales.sms.outbox" not in log_path.read_text() and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            process.terminate()
            process.wait(timeout=15)
    return log_path.read_text()


def test_json_lines_carry_our_records_and_uvicorns(tmp_path: Path) -> None:
    text = _serve_and_text(tmp_path, "json")
    records: list[dict[str, Any]] = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    by_logger = {r["logger"]: r for r in records}
    delivered = by_logger.get("salesboost.sales.sms.outbox")
    assert delivered is not None, text
    assert delivered["level"] == "INFO"
    assert delivered["time"]
    assert "+14155550123" not in delivered["message"]  # masked
    assert "uvicorn.access" in by_logger, text
    assert "uvicorn.error" in by_logger, text


def test_the_access_log_is_off_by_default(tmp_path: Path) -> None:
    text = _serve_and_text(tmp_path, "json", access_log=False)
    loggers = {json.loads(line)["logger"] for line in text.splitlines() if line.startswith("{")}
    assert "salesboost.sales.sms.outbox" in loggers, text  # the server logged, and served the call
    assert "uvicorn.access" not in loggers, text


def test_plain_lines_have_time_level_and_logger(tmp_path: Path) -> None:
    text = _serve_and_text(tmp_path, "plain")
    line = next((ln for ln in text.splitlines() if " salesboost.sales.sms.outbox: " in ln), None)
    assert line is not None, text
    day, clock, level = line.split(" ")[:3]
    assert (len(day), clock.count(":"), level) == (10, 2, "INFO")
