"""Audit soak: does the audit trail keep what the service answered, at the service's saturation rate?

Starts the real service (`salesboost serve`, one process, a SQLite file in a temporary folder, an API key from
SALESBOOST_API_KEYS) on a free port, drives `POST /api/v1/tools/execute` (price_calculator, the cheapest real
tool) with `--concurrency` keep-alive connections sending back to back for `--seconds`, and counts the calls
answered 2xx with an `audit_id`. The load uses the lean HTTP/1.1 client of `http_load.py`: on 2 cores an httpx
client with a few hundred connections costs more CPU per request than the server and never saturates it (it
reached 80 to 130 req/s where this client reaches the server's limit); httpx reads /healthz and /metrics. Then,
per `--stop`:

  kill      kill -9 the server by its pid while the load still runs, then count the rows of `tool_audit`: the
            answered calls without a row are what the crash lost, to compare with the documented bound;
  graceful  stop sending, let the answers in flight arrive, read `tool_audit_dropped_total` on /metrics, stop
            the server with SIGTERM (it flushes the trail): nothing answered may be missing, nothing dropped;
  both      one run of each (the default).

A 503 `AUDIT_BACKLOG` is the service pushing back (its backlog passed SALESBOOST_AUDIT_HIGH_WATER): the client
waits its `Retry-After` and goes on. /metrics is read four times a second for the backlog's peak.

    python bench/audit_soak.py [--seconds 60] [--concurrency 256] [--stop kill|graceful|both]

The environment's SALESBOOST_AUDIT_* settings reach the server (SALESBOOST_AUDIT_HIGH_WATER=500 shows the
push-back at work). One line per run is for scripts:
RESULT mode=... answered=... stored=... lost=... bound=... rate=... per_interval=... refused=... max_backlog=...
       dropped=...
where bound is the documented bound, SALESBOOST_AUDIT_HIGH_WATER records (docs/architecture.md, audit
durability; 0 for a graceful stop), per_interval the calls of one flush interval at the rate measured, and
max_backlog the largest tool_audit_backlog read on /metrics. The exit status is 1 when a run breaks its bound or
a graceful run has anything dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from http_load import HOST, Connection, build_request
from salesboost.config import load_settings

API_KEY = "soak-coach-key-0123456789abcdef"
BODY = {
    "tool": "price_calculator",
    "payload": {"items": [{"sku": "SB-PRO-M", "quantity": 25}], "discount_rate": 0.1, "tax_rate": 0.08},
}
SERVE = "import sys; from salesboost.cli import app; sys.exit(app())"  # `salesboost serve`, from this interpreter


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Load:
    answered: set[str] = field(default_factory=set)  # audit ids of the calls answered 2xx
    refused: int = 0  # 503 AUDIT_BACKLOG
    failed: dict[str, int] = field(default_factory=dict)
    max_backlog: int | None = None  # None: the server exposes no `tool_audit_backlog`

    def fail(self, what: str) -> None:
        self.failed[what] = self.failed.get(what, 0) + 1


async def _wait_ready(http: httpx.AsyncClient, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        with contextlib.suppress(httpx.TransportError):
            if (await http.get("/healthz")).status_code == 200:
                return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"the server did not start within {timeout:g} s")


def _metric(text: str, name: str) -> int | None:
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    return None if match is None else int(float(match.group(1)))


async def _worker(port: int, request: bytes, load: Load, until: float) -> None:
    """One keep-alive connection sending calls back to back until `until`; a 503 AUDIT_BACKLOG waits its
    Retry-After, as a client should."""
    conn: Connection | None = None
    while time.monotonic() < until:
        try:
            if conn is None:
                conn = await Connection.open(port)
            async with asyncio.timeout(30):
                status, headers, body = await conn.send(request)
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
            load.fail(type(exc).__name__)
            if conn is not None:
                conn.close()
                conn = None
            await asyncio.sleep(0.05)
            continue
        if 200 <= status < 300 and (audit_id := json.loads(body).get("audit_id")):
            load.answered.add(audit_id)
        elif status == 503 and b"AUDIT_BACKLOG" in body:
            load.refused += 1
            wait = float(headers.get(b"retry-after", b"1"))
            await asyncio.sleep(min(wait, max(0.0, until - time.monotonic())))
        else:
            load.fail(f"HTTP {status}")
    if conn is not None:
        conn.close()


async def _watch_backlog(http: httpx.AsyncClient, load: Load, until: float) -> None:
    while time.monotonic() < until:
        await asyncio.sleep(0.25)
        with contextlib.suppress(httpx.HTTPError):
            backlog = _metric((await http.get("/metrics")).text, "tool_audit_backlog")
            if backlog is not None:
                load.max_backlog = max(load.max_backlog or 0, backlog)


def _stored(database: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(database)) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM tool_audit")}


def _serve(database: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ, "SALESBOOST_API_KEYS": f"{API_KEY}:coach",
        "SALESBOOST_DATABASE_URL": f"sqlite+aiosqlite:///{database}", "SALESBOOST_LOG_LEVEL": "WARNING",
        "SALESBOOST_SMS_DISPATCHER_ENABLED": "false",
        "SALESBOOST_RATE_LIMITS_FILE": "",  # one key's load, far past the default limits
    }
    env.pop("SALESBOOST_API_KEYS_FILE", None)
    with log.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-c", SERVE, "serve", "--host", HOST, "--port", str(port)],
            env=env, stdout=sink, stderr=subprocess.STDOUT,
        )


async def soak(mode: str, seconds: float, concurrency: int, folder: Path) -> bool:
    database = folder / f"{mode}.db"
    log = folder / f"{mode}.log"
    port = _free_port()
    process = _serve(database, port, log)
    load = Load()
    headers = {"Authorization": f"Bearer {API_KEY}"}
    try:
        async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", headers=headers, timeout=30) as http:
            await _wait_ready(http, process)
            start = time.monotonic()
            until = start + seconds
            request = build_request("/api/v1/tools/execute", json.dumps(BODY).encode(), headers, port)
            workers = [asyncio.create_task(_worker(port, request, load, until)) for _ in range(concurrency)]
            watcher = asyncio.create_task(_watch_backlog(http, load, until))
            if mode == "kill":
                await asyncio.sleep(seconds)
                dropped = _metric((await http.get("/metrics")).text, "tool_audit_dropped_total")
                os.kill(process.pid, signal.SIGKILL)  # mid-flight: requests are still arriving
                elapsed = time.monotonic() - start
                await asyncio.gather(*workers, watcher)
            else:
                await asyncio.gather(*workers, watcher)
                elapsed = time.monotonic() - start
                dropped = _metric((await http.get("/metrics")).text, "tool_audit_dropped_total")
                process.send_signal(signal.SIGTERM)  # uvicorn's graceful stop: the trail is flushed
        process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stored = _stored(database)
    lost = len(load.answered - stored)
    rate = len(load.answered) / elapsed
    settings = load_settings()  # the server's: it reads the same environment
    bound = 0 if mode == "graceful" else settings.audit_high_water
    failures = ", ".join(f"{n}x {what}" for what, n in sorted(load.failed.items())) or "none"
    print(f"{mode}: {len(load.answered)} answered in {elapsed:.1f} s ({rate:.0f}/s), {load.refused} refused "
          f"(AUDIT_BACKLOG), failures: {failures}; {len(stored)} rows stored, {lost} answered calls without one; "
          f"server exit {process.returncode}")
    print(f"RESULT mode={mode} answered={len(load.answered)} stored={len(stored)} lost={lost} bound={bound} "
          f"rate={rate:.0f} per_interval={rate * settings.audit_flush_interval:.0f} refused={load.refused} "
          f"max_backlog={load.max_backlog} dropped={dropped}")
    if lost > bound or (dropped or 0) > 0:
        sys.stderr.write(log.read_text(errors="replace")[-3000:])
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of load per run")
    parser.add_argument("--concurrency", type=int, default=256, help="requests in flight")
    parser.add_argument("--stop", choices=["kill", "graceful", "both"], default="both")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; server: one `salesboost serve` process")
    modes = ["kill", "graceful"] if args.stop == "both" else [args.stop]
    with tempfile.TemporaryDirectory(prefix="salesboost-audit-soak-") as tmp:
        ok = [asyncio.run(soak(mode, args.seconds, args.concurrency, Path(tmp))) for mode in modes]
    sys.exit(0 if all(ok) else 1)


if __name__ == "__main__":
    main()
