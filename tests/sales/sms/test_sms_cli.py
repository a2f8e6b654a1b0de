"""The `salesboost sms` commands against a migrated database of each kind."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from salesboost.cli import app
from salesboost.config import get_settings


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("SALESBOOST_DATABASE_URL", db_url)
    monkeypatch.setenv("SALESBOOST_SMS_PROVIDER", "log")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_opt_out_inbound_and_opt_in(cli: CliRunner) -> None:
    out = cli.invoke(app, ["sms", "opt-out", "(415) 555-0101"])
    assert out.exit_code == 0, out.output
    assert "+14155550101 opted out" in out.output
    assert "already" in cli.invoke(app, ["sms", "opt-out", "+14155550101"]).output
    refused = cli.invoke(app, ["call", "sms_outreach", '{"phone": "+14155550101", "message": "hi"}', "--role", "sdr"])
    assert refused.exit_code == 1
    assert json.loads(refused.output)["error"]["code"] == "SMS_OPTED_OUT"
    assert "opted_in" in cli.invoke(app, ["sms", "inbound", "+14155550101", "START"]).output
    assert "had not opted out" in cli.invoke(app, ["sms", "opt-in", "+14155550101"]).output
    assert "opted_out" in cli.invoke(app, ["sms", "inbound", "+14155550101", "Unsubscribe"]).output
    assert "may be texted again" in cli.invoke(app, ["sms", "opt-in", "+14155550101"]).output
    bad = cli.invoke(app, ["sms", "opt-out", "12"])
    assert bad.exit_code == 2
    assert "too short" in bad.output


def test_dispatch_once_and_delivery_status(cli: CliRunner) -> None:
    sent = cli.invoke(app, ["call", "sms_outreach", '{"phone": "+14155550101", "message": "hi"}', "--role", "sdr"])
    assert sent.exit_code == 0, sent.output
    message_id = json.loads(sent.output)["result"]["message"]["message_id"]
    out = cli.invoke(app, ["sms", "dispatch", "--once"])
    assert out.exit_code == 0, out.output
    assert "sent 1, retried 0, failed 0" in out.output
    assert "sent 0" in cli.invoke(app, ["sms", "dispatch", "--once"]).output
    assert cli.invoke(app, ["sms", "status", f"log-{message_id}", "delivered"]).exit_code == 0
    assert cli.invoke(app, ["sms", "status", "nope", "delivered"]).exit_code == 2
    history = cli.invoke(app, ["call", "sms_outreach", '{"action": "history", "phone": "+14155550101"}'])
    assert json.loads(history.output)["result"]["messages"][0]["status"] == "delivered"
