"""Back-pressure from the audit trail, over HTTP: while the writer is behind, the service refuses calls instead of
losing their records (issue 9, "the audit bound does not hold under load").

The real service (`create_app` builds the runtime, the metrics are the process's) on a SQLite file whose write lock
another connection holds: the audit writer waits for it, as behind a saturated or slow database.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy.engine import make_url

from conftest import ROLES, SAMPLE_ROLES, app_client, auth, make_settings
from salesboost.api import create_app
from salesboost.assembly import create_backends
from salesboost.config import Settings
from sample_tools import make_registry, private_executor

EXECUTE = "/api/v1/tools/execute"
PRICE = {
    "tool": "price_calculator",
    "payload": {"items": [{"sku": "SB-PRO-M", "quantity": 25}], "discount_rate": 0.1, "tax_rate": 0.08},
}
BATCH = "/api/v1/tools/execute-batch"
HIGH_WATER = 100  # the smallest mark the settings allow


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    return make_settings(
        sqlite_url, ROLES, audit_high_water=HIGH_WATER, audit_flush_interval=0.02, sms_dispatcher_enabled=False
    )


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings) as http:
        yield http


@contextlib.contextmanager
def write_locked(database_url: str) -> Iterator[None]:
    """Another connection holds the database's write lock until the block ends (reads still work: WAL)."""
    with contextlib.closing(sqlite3.connect(make_url(database_url).database or "", isolation_level=None)) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")


def stored_ids(database_url: str) -> set[str]:
    with contextlib.closing(sqlite3.connect(make_url(database_url).database or "")) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM tool_audit")}


async def metric(http: httpx.AsyncClient, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", (await http.get("/metrics")).text, re.MULTILINE)
    assert match is not None, f"{name} is not on /metrics"
    return float(match.group(1))


async def test_at_the_mark_calls_are_refused_then_run_again_and_no_record_is_lost(
    settings: Settings, service: httpx.AsyncClient
) -> None:
    answered = set()
    with write_locked(settings.database_url):
        batch = await service.post(BATCH, json={"calls": [PRICE, PRICE]}, headers=auth("coach"))
        assert batch.status_code == 200
        answered |= {r["audit_id"] for r in batch.json()["results"]}
        for _ in range(HIGH_WATER - 2):
            response = await service.post(EXECUTE, json=PRICE, headers=auth("coach"))
            assert response.status_code == 200
            answered.add(response.json()["audit_id"])

        refused = await service.post(EXECUTE, json=PRICE, headers=auth("coach"))
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "1"
        body = refused.json()
        assert (body["ok"], body["tool"], body["audit_id"]) == (False, "price_calculator", None)
        assert body["error"]["code"] == "AUDIT_BACKLOG"
        assert body["error"]["retryable"] is True
        assert body["error"]["details"]["backlog"] == HIGH_WATER

        batch = await service.post(BATCH, json={"calls": [PRICE, PRICE]}, headers=auth("coach"))
        assert batch.status_code == 503
        assert batch.headers["Retry-After"] == "1"
        assert batch.json()["error"]["code"] == "AUDIT_BACKLOG"

        ready = await service.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["status"] == "not_ready"
        assert ready.json()["checks"]["database"] == "ok"
        assert ready.json()["checks"]["audit"].startswith(f"error: audit backlog at its high-water mark {HIGH_WATER}")
        assert await metric(service, "tool_audit_backlog") == HIGH_WATER
        assert stored_ids(settings.database_url) == set()

    deadline = time.monotonic() + 30
    while await metric(service, "tool_audit_backlog"):  # the writer catches up by itself
        assert time.monotonic() < deadline, "the writer did not catch up once the database answered"
    assert stored_ids(settings.database_url) == answered
    assert await metric(service, "tool_audit_dropped_total") == 0
    ready = await service.get("/readyz")
    while ready.json()["checks"]["warmup"].startswith("warming"):  # the tools' models load in the background
        assert time.monotonic() < deadline, "the models did not load"
        await asyncio.sleep(0.05)
        ready = await service.get("/readyz")
    assert ready.status_code == 200
    assert (await service.post(EXECUTE, json=PRICE, headers=auth("coach"))).status_code == 200


async def test_calls_in_flight_never_take_the_backlog_past_the_mark(sqlite_url: str) -> None:
    """Twice the mark's worth of calls at once, each still running (asleep) when the next arrives, the writer
    stuck: each call holds room before it runs, so the mark's worth run and the others are refused, where a check
    of the backlog alone would have let them all in (none had recorded yet). Every call answered has its row."""
    settings = make_settings(sqlite_url, SAMPLE_ROLES, audit_high_water=HIGH_WATER, audit_flush_interval=0.02)
    executor = private_executor(make_registry(create_backends(settings)), require_idempotency_key=True)
    app = create_app(settings, executor=executor)
    sleepy = {"tool": "sleepy", "payload": {"seconds": 0}}  # suspends once: every call is admitted first
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        with write_locked(settings.database_url):
            responses = await asyncio.gather(
                *(http.post(EXECUTE, json=sleepy, headers=auth("coach")) for _ in range(2 * HIGH_WATER))
            )
            assert executor.audit is not None
            assert executor.audit.backlog == HIGH_WATER
    await executor.aclose()  # writes the rest
    answered = {r.json()["audit_id"] for r in responses if r.status_code == 200}
    refused = [r for r in responses if r.status_code == 503]
    assert (len(answered), len(refused)) == (HIGH_WATER, HIGH_WATER)
    assert {r.json()["error"]["code"] for r in refused} == {"AUDIT_BACKLOG"}
    assert stored_ids(settings.database_url) == answered
