"""The consent ledger: marketing texts need written consent, through `execute`, the dispatcher, the CLI and the
REST routes, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from customer_harness import customer_executor
from harness import failed, ok
from typer.testing import CliRunner

from salesboost.api import create_app
from salesboost.cli import app as cli_app
from salesboost.config import get_settings, load_settings
from salesboost.sales.sms.consent import record_consent, revoke_consent
from salesboost.sales.sms.outbox import LogProvider, OutboxDispatcher
from salesboost.tools.base import ToolBackends
from salesboost.tools.executor import ToolExecutor
from salesboost.tools.result import ToolResult

SMS = "sms_outreach"
PHONE = "+12125551234"  # a real New York number, no customer's
OFFER = "Spring offer: two months free. Reply STOP to opt out."
NOON = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)  # 12:00 in New York


@pytest.fixture
async def executor(backends: ToolBackends) -> AsyncIterator[ToolExecutor]:
    backends.clock = lambda: NOON
    async with customer_executor(backends) as executor:
        yield executor


async def send(executor: ToolExecutor, phone: str = PHONE, **fields: object) -> ToolResult:
    return await executor.execute(SMS, {"phone_number": phone, "message": OFFER, **fields}, "sdr")


async def test_marketing_needs_written_consent_until_revoked(executor: ToolExecutor, backends: ToolBackends) -> None:
    sessions = backends.sessions()
    assert "written consent" in failed(await send(executor, campaign="spring"), "SMS_NO_CONSENT")
    failed(await send(executor, marketing=True), "SMS_NO_CONSENT")
    assert ok(await send(executor, message="Your invoice is ready."))["message"]["status"] == "queued"
    # Consent that is not written, or for transactional texts only, is not enough.
    await record_consent(sessions, PHONE, "marketing", "said yes on a call", False, NOON)
    await record_consent(sessions, PHONE, "transactional", "order form", True, NOON)
    failed(await send(executor, campaign="spring"), "SMS_NO_CONSENT")
    await record_consent(sessions, PHONE, "marketing", "web form", True, NOON)
    sent = ok(await send(executor, campaign="spring"))
    assert sent["message"]["status"] == "queued"
    assert ok(await send(executor, marketing=True))["sent_today"] == 3  # the refusals were not counted
    assert await revoke_consent(sessions, PHONE, NOON, "test", scope="marketing") == 2
    failed(await send(executor, campaign="spring"), "SMS_NO_CONSENT")
    ok(await send(executor, message="Your order has shipped."))  # transactional texts still go


async def test_consent_revoked_before_delivery_stops_the_text(executor: ToolExecutor, backends: ToolBackends) -> None:
    sessions = backends.sessions()
    await record_consent(sessions, PHONE, "marketing", "web form", True, NOON)
    later = (NOON + timedelta(days=1)).isoformat()
    scheduled = ok(await send(executor, campaign="spring", send_at=later))["message"]
    transactional = ok(await send(executor, message="Your order has shipped.", send_at=later))["message"]
    await revoke_consent(sessions, PHONE, NOON, "test")
    report = await OutboxDispatcher(sessions, LogProvider(), clock=lambda: NOON + timedelta(days=1)).run_once()
    assert (report.sent, report.failed) == (1, 1)
    history = ok(await executor.execute(SMS, {"action": "history", "phone_number": PHONE}, "coach"))["messages"]
    by_id = {m["message_id"]: m for m in history}
    assert by_id[scheduled["message_id"]]["status"] == "failed"
    assert "consent" in by_id[scheduled["message_id"]]["last_error"]
    assert by_id[transactional["message_id"]]["status"] == "sent"


async def test_demo_customers_have_demo_consents(executor: ToolExecutor) -> None:
    for customer in ("CUST001", "CUST002", "CUST003"):
        ok(await executor.execute(SMS, {"customer_id": customer, "message": OFFER, "campaign": "demo"}, "sdr"))
    refused = await executor.execute(SMS, {"customer_id": "CUST004", "message": OFFER, "campaign": "demo"}, "sdr")
    failed(refused, "SMS_NO_CONSENT")


# --- CLI ------------------------------------------------------------------------------------------------------


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("SALESBOOST_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def call(cli: CliRunner, payload: dict[str, object]) -> dict[str, object]:
    out = cli.invoke(cli_app, ["call", SMS, json.dumps(payload), "--role", "sdr"])
    envelope: dict[str, object] = json.loads(out.output)
    return envelope


def test_seed_consent_and_revoke_by_cli(cli: CliRunner) -> None:
    seeded = cli.invoke(cli_app, ["db", "seed"])
    assert seeded.exit_code == 0, seeded.output
    assert "SMS consents: 4 added" in seeded.output
    assert "SMS consents: 0 added" in cli.invoke(cli_app, ["db", "seed"]).output  # idempotent
    # The demo numbers are fictional: the log provider texts nobody, and quiet hours do not hold them back.
    demo = {"customer_id": "CUST004", "message": OFFER, "campaign": "demo"}
    assert call(cli, demo)["error"]["code"] == "SMS_NO_CONSENT"  # type: ignore[index]
    out = cli.invoke(cli_app, ["sms", "consent", "+1 604 555 0110", "--source", "web form"])
    assert out.exit_code == 0, out.output
    assert "+16045550110: written marketing consent recorded" in out.output
    assert call(cli, demo)["ok"] is True
    revoked = cli.invoke(cli_app, ["sms", "revoke-consent", "+16045550110", "--scope", "marketing"])
    assert "1 consent(s) revoked" in revoked.output
    assert call(cli, demo)["error"]["code"] == "SMS_NO_CONSENT"  # type: ignore[index]
    bad = cli.invoke(cli_app, ["sms", "consent", "+16045550110", "--source", "x", "--scope", "everything"])
    assert bad.exit_code == 2
    assert "scope must be one of" in bad.output


# --- REST -----------------------------------------------------------------------------------------------------

KEYS = {role: f"test-{role}-key-0123456789abcdef" for role in ("admin", "sdr", "coach")}


@pytest.fixture
async def http(db_url: str) -> AsyncIterator[httpx.AsyncClient]:
    keys = ",".join(f"{key}:{role}" for role, key in KEYS.items())
    app = create_app(load_settings(database_url=db_url, api_keys=keys))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        yield client


def auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[role]}"}


async def test_consent_over_rest(http: httpx.AsyncClient) -> None:
    body = {"phone_number": "(212) 555-1234", "scope": "marketing", "source": "web form", "written": True}
    refused = await http.post("/api/v1/sms/consents", json=body, headers=auth("coach"))
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "ROLE_FORBIDDEN")
    assert (await http.post("/api/v1/sms/consents", json=body)).status_code == 401
    created = await http.post("/api/v1/sms/consents", json=body, headers=auth("sdr"))
    assert created.status_code == 201, created.text
    consent = created.json()
    assert (consent["phone"], consent["scope"], consent["written"], consent["revoked_at"]) == (
        PHONE, "marketing", True, None
    )
    assert consent["source"].startswith("web form (by ")
    bad = await http.post("/api/v1/sms/consents", json={**body, "phone_number": "12"}, headers=auth("admin"))
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "REQUEST_INVALID")
    revoke = {"phone_number": PHONE}
    assert (await http.post("/api/v1/sms/consents/revoke", json=revoke, headers=auth("coach"))).status_code == 403
    revoked = await http.post("/api/v1/sms/consents/revoke", json=revoke, headers=auth("admin"))
    assert revoked.json() == {"phone": PHONE, "revoked": 1}
    ledger = await http.get("/api/v1/sms/consents", params={"phone_number": PHONE}, headers=auth("sdr"))
    [entry] = ledger.json()["consents"]
    assert entry["revoked_at"] is not None
    assert entry["revoked_by"].startswith("api: ")
