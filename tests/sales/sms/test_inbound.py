"""STOP, START and HELP through `salesboost sms inbound`, on SQLite and PostgreSQL (the signed webhook runs the
same handling: tests/api/test_sms_webhooks.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from salesboost.cli import app
from salesboost.config import get_settings

PHONE = "+12125551234"
OFFER = {"phone_number": PHONE, "message": "Spring offer. Reply STOP to opt out.", "campaign": "spring"}


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("SALESBOOST_DATABASE_URL", db_url)
    monkeypatch.setenv("SALESBOOST_SMS_TRANSACTIONAL_ANY_HOUR", "true")  # whatever the hour the test runs at
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def inbound(cli: CliRunner, body: str, phone: str = PHONE) -> list[str]:
    out = cli.invoke(app, ["sms", "inbound", phone, body])
    assert out.exit_code == 0, out.output
    return out.output.splitlines()


def code_of(cli: CliRunner, payload: dict[str, object]) -> str | None:
    envelope = json.loads(cli.invoke(app, ["call", "sms_outreach", json.dumps(payload), "--role", "sdr"]).output)
    return None if envelope["ok"] else str(envelope["error"]["code"])


@pytest.mark.parametrize(
    "body", ["STOP", "stop", " Stop. ", "STOP!!", "stopall", "Unsubscribe", "cancel", "END", "quit", "revoke",
             "OPTOUT", "opt-out", "Opt out"],
)
def test_every_stop_word_in_any_case_with_punctuation(cli: CliRunner, body: str) -> None:
    [outcome, reply] = inbound(cli, body)
    assert outcome == f"{PHONE}: opted_out"
    assert reply.startswith("reply: SalesBoost: you are unsubscribed")
    assert code_of(cli, {"phone_number": PHONE, "message": "Hello"}) == "SMS_OPTED_OUT"


@pytest.mark.parametrize("body", ["Please stop texting me", "STOP IT", "stopping by tomorrow", "unstoppable"])
def test_stop_inside_a_sentence_is_no_keyword(cli: CliRunner, body: str) -> None:
    assert inbound(cli, body) == [f"{PHONE}: ignored"]


def test_one_confirmation_then_nothing(cli: CliRunner) -> None:
    assert len(inbound(cli, "STOP")) == 2
    assert inbound(cli, "STOP") == [f"{PHONE}: already_opted_out"]  # no second confirmation
    assert inbound(cli, "cancel") == [f"{PHONE}: already_opted_out"]
    assert inbound(cli, "Hello?") == [f"{PHONE}: ignored"]


def test_start_resubscribes_only_an_opted_out_number(cli: CliRunner) -> None:
    assert inbound(cli, "yes") == [f"{PHONE}: ignored"]  # a "yes" in a conversation is no keyword
    inbound(cli, "STOP")
    for word in ("START", "unstop", "Yes!"):
        [outcome, reply] = inbound(cli, word)
        assert outcome == f"{PHONE}: opted_in"
        assert "resubscribed" in reply
        assert "Msg&data rates may apply" in reply
        inbound(cli, "STOP")


def test_help_names_the_brand_the_program_how_to_stop_and_rates(cli: CliRunner) -> None:
    for body in ("HELP", "help?", "Info"):
        [outcome, reply] = inbound(cli, body)
        assert outcome == f"{PHONE}: help"
        assert reply.startswith("reply: SalesBoost: texts from your SalesBoost sales contact")
        assert "Reply STOP to opt out" in reply
        assert "Msg&data rates may apply" in reply


def test_stop_revokes_consent_and_start_does_not_restore_it(cli: CliRunner) -> None:
    assert cli.invoke(app, ["sms", "consent", PHONE, "--source", "web form"]).exit_code == 0
    assert code_of(cli, OFFER) is None
    inbound(cli, "STOP")
    inbound(cli, "START")
    assert code_of(cli, {"phone_number": PHONE, "message": "Your order has shipped."}) is None
    assert code_of(cli, OFFER) == "SMS_NO_CONSENT"  # marketing needs new written consent


def test_reply_texts_are_data(cli: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    replies = tmp_path / "replies.yaml"
    replies.write_text(
        "brand: Acme\nprogram: order updates\ncontact: 555-0100\nreplies:\n  stop: '{brand} stopped'\n"
        "  start: '{brand} started'\n  help: '{brand} {program}, call {contact}. Msg&data rates may apply.'\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("SALESBOOST_SMS_REPLIES_FILE", str(replies))
    get_settings.cache_clear()
    assert inbound(cli, "HELP")[1] == "reply: Acme order updates, call 555-0100. Msg&data rates may apply."
    assert inbound(cli, "STOP")[1] == "reply: Acme stopped"
    replies.write_text("brand: Acme\n", encoding="utf-8")
    broken = cli.invoke(app, ["sms", "inbound", PHONE, "HELP"])
    assert broken.exit_code == 2
    assert "SALESBOOST_SMS_REPLIES_FILE" in broken.output
