"""Quiet hours through `executor.execute` with an injected clock: every US zone, a multi-zone number, stricter
states, another country; scheduled sends delivered by the dispatcher at `send_at`, not before."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from customer_harness import customer_executor
from harness import failed, ok

from salesboost.config import SettingsError, load_settings
from salesboost.sales.sms.consent import record_consent
from salesboost.sales.sms.outbox import LogProvider, OutboxDispatcher
from salesboost.sales.sms.tool import rules_from_settings
from salesboost.tools.base import ToolBackends
from salesboost.tools.executor import ToolExecutor
from salesboost.tools.result import ToolResult

SMS = "sms_outreach"
# Tuesday 10 March 2026, 12:30 UTC (US daylight saving time began on the 8th): 08:30 in New York.
TUESDAY = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)


@pytest.fixture
async def executor(backends: ToolBackends) -> AsyncIterator[ToolExecutor]:
    backends.clock = lambda: TUESDAY
    async with customer_executor(backends) as executor:
        yield executor


async def send(executor: ToolExecutor, phone: str, **fields: object) -> ToolResult:
    payload = {"phone_number": phone, "message": "Your order has shipped.", **fields}
    return await executor.execute(SMS, payload, "sdr")


def at(hour: int, minute: int = 0, day: int = 10) -> str:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC).isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(
    ("phone", "where", "status", "send_at"),
    [
        ("+12125551234", "New York, Eastern: 08:30", "queued", None),
        ("+13055551234", "Florida (8:00-20:00), Eastern: 08:30", "queued", None),
        ("+13125551234", "Chicago, Central: 07:30", "scheduled", at(13)),
        ("+15125551234", "Texas (9:00-21:00), Central: 07:30", "scheduled", at(14)),
        ("+13035551234", "Denver, Mountain: 06:30", "scheduled", at(14)),
        ("+14155551234", "San Francisco, Pacific: 05:30", "scheduled", at(15)),
        ("+19075551234", "Alaska: Anchorage 04:30 and Adak 03:30, both must be in the window", "scheduled", at(17)),
        ("+18085551234", "Hawaii: 02:30", "scheduled", at(18)),
        ("+442079461234", "London: 12:30", "queued", None),
    ],
)
async def test_every_zone_in_the_window_or_scheduled_for_its_opening(
    executor: ToolExecutor, phone: str, where: str, status: str, send_at: str | None
) -> None:
    message = ok(await send(executor, phone))["message"]
    assert (message["status"], message["send_at"] and message["send_at"].replace("+00:00", "Z")) == (
        status, send_at
    ), where


async def test_a_stricter_state_closes_earlier(executor: ToolExecutor, backends: ToolBackends) -> None:
    backends.clock = lambda: datetime(2026, 3, 11, 0, 30, tzinfo=UTC)  # 20:30 on Tuesday in the East
    assert ok(await send(executor, "+12125551234"))["message"]["status"] == "queued"  # New York: until 21:00
    florida = ok(await send(executor, "+13055551234"))["message"]  # Florida: until 20:00
    assert (florida["status"], florida["send_at"]) == ("scheduled", "2026-03-11T12:00:00Z")


async def test_texas_sundays_open_at_noon(executor: ToolExecutor, backends: ToolBackends) -> None:
    backends.clock = lambda: datetime(2026, 3, 15, 15, 0, tzinfo=UTC)  # Sunday, 10:00 in Austin
    assert ok(await send(executor, "+15125551234"))["message"]["send_at"] == "2026-03-15T17:00:00Z"
    assert ok(await send(executor, "+13125551234"))["message"]["status"] == "queued"  # Chicago: from 8:00


async def test_a_scheduled_text_is_delivered_at_send_at_not_before(
    executor: ToolExecutor, backends: ToolBackends
) -> None:
    message = ok(await send(executor, "+14155551234"))["message"]
    assert message["status"] == "scheduled"
    due = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)

    def dispatcher(now: datetime) -> OutboxDispatcher:
        return OutboxDispatcher(backends.sessions(), LogProvider(), clock=lambda: now)

    assert (await dispatcher(due - timedelta(seconds=1)).run_once()).handled == 0
    history = ok(await executor.execute(SMS, {"action": "history", "phone_number": "+14155551234"}, "coach"))
    assert history["messages"][0]["status"] == "scheduled"
    report = await dispatcher(due).run_once()
    assert (report.sent, report.message_ids) == (1, [message["message_id"]])
    history = ok(await executor.execute(SMS, {"action": "history", "phone_number": "+14155551234"}, "coach"))
    sent = history["messages"][0]
    assert (sent["status"], sent["attempts"], sent["sent_at"]) == ("sent", 1, "2026-03-10T15:00:00Z")


async def test_send_at_schedules_and_counts_the_day_it_is_sent(executor: ToolExecutor) -> None:
    tomorrow = at(15, day=11)  # 11:00 in New York
    for i in range(5):
        scheduled = ok(await send(executor, "+12125551234", message=f"Reminder {i}", send_at=tomorrow))
        assert (scheduled["message"]["status"], scheduled["sent_today"]) == ("scheduled", i + 1)
    assert "2026-03-11" in failed(await send(executor, "+12125551234", send_at=tomorrow), "SMS_DAILY_LIMIT")
    assert ok(await send(executor, "+12125551234"))["sent_today"] == 1  # today is counted apart
    late = ok(await send(executor, "+12125551234", send_at=at(3, day=12)))["message"]  # 23:00 on the 11th there
    assert late["send_at"] == "2026-03-12T12:00:00Z"  # moved to the next opening, 08:00 on the 12th


@pytest.mark.parametrize(
    ("send_at", "code"),
    [
        (at(12), "SMS_INVALID_SEND_AT"),  # before now
        ((TUESDAY + timedelta(days=35, minutes=1)).isoformat(), "SMS_INVALID_SEND_AT"),
        ("2026-03-11T15:00:00", "TOOL_INPUT_INVALID"),  # no offset: whose 15:00?
    ],
)
async def test_send_at_must_be_ahead_by_at_most_35_days(executor: ToolExecutor, send_at: str, code: str) -> None:
    failed(await send(executor, "+12125551234", send_at=send_at), code)


async def test_35_days_ahead_is_allowed(executor: ToolExecutor) -> None:
    message = ok(await send(executor, "+12125551234", send_at=(TUESDAY + timedelta(days=35)).isoformat()))["message"]
    assert message["send_at"] == "2026-04-14T12:30:00Z"


async def test_transactional_texts_may_be_exempt_marketing_never(backends: ToolBackends) -> None:
    backends.clock = lambda: TUESDAY  # 05:30 in San Francisco
    async with customer_executor(backends, sms_transactional_any_hour=True) as executor:
        await record_consent(backends.sessions(), "+14155551234", "marketing", "web form", True, TUESDAY)
        assert ok(await send(executor, "+14155551234"))["message"]["status"] == "queued"
        offer = {"message": "Spring offer. Reply STOP to opt out."}
        assert ok(await send(executor, "+14155551234", **offer, marketing=True))["message"]["status"] == "scheduled"
        campaign = ok(await send(executor, "+14155551234", **offer, campaign="spring"))["message"]
        assert campaign["status"] == "scheduled"


async def test_test_numbers_reach_nobody_and_skip_quiet_hours(executor: ToolExecutor) -> None:
    message = ok(await send(executor, "+14155550101"))["message"]  # 05:30 in San Francisco, but fictional
    assert (message["test_number"], message["status"]) == (True, "queued")


async def test_zones_whose_windows_never_overlap(backends: ToolBackends, tmp_path: Path) -> None:
    hours = tmp_path / "hours.yaml"
    hours.write_text('default:\n  hours: {start: "08:00", end: "09:00"}\n', encoding="utf-8")
    backends.clock = lambda: TUESDAY
    async with customer_executor(backends, sms_quiet_hours_file=hours) as executor:
        # Anchorage's 08:00-09:00 and Adak's, an hour later, never meet.
        result = await send(executor, "+19075551234")
        assert "never overlap" in failed(result, "SMS_NO_SENDING_WINDOW")
        assert ok(await send(executor, "+13125551234"))["message"]["send_at"] == "2026-03-10T13:00:00Z"


def test_a_bad_quiet_hours_file_is_refused_at_start_up(tmp_path: Path) -> None:
    hours = tmp_path / "hours.yaml"
    hours.write_text('default:\n  hours: {start: "21:00", end: "08:00"}\n', encoding="utf-8")
    with pytest.raises(SettingsError, match=r"SALESBOOST_SMS_QUIET_HOURS_FILE.*must come before"):
        rules_from_settings(load_settings(sms_quiet_hours_file=hours))


async def create_customer(executor: ToolExecutor, phone: str, time_zone: str) -> str:
    created = ok(await executor.execute(
        "crm_integration",
        {"action": "create", "data": {"name": f"Customer in {time_zone}", "phone": phone, "time_zone": time_zone}},
        "sdr", idempotency_key=f"create-{phone[1:]}",
    ))["customer"]
    assert created["time_zone"] == time_zone
    return str(created["customer_id"])


async def test_the_customers_own_time_zone_wins_over_the_numbers(executor: ToolExecutor) -> None:
    """A New York number whose owner lives in Los Angeles: at 08:30 in New York it is 05:30 where the text lands,
    so it waits for 08:00 Pacific, by customer or by the phone on file; another New York number goes at once."""
    customer_id = await create_customer(executor, "+12125551234", "America/Los_Angeles")
    by_customer = ok(await executor.execute(
        SMS, {"customer_id": customer_id, "message": "Your order has shipped."}, "sdr", idempotency_key="tz-1"
    ))["message"]
    assert (by_customer["status"], by_customer["send_at"]) == ("scheduled", at(15))
    assert ok(await send(executor, "+12125551234"))["message"]["send_at"] == at(15)
    assert ok(await send(executor, "+12125551235"))["message"]["status"] == "queued"


async def test_a_time_zone_must_be_a_real_one(executor: ToolExecutor) -> None:
    result = await executor.execute(
        "crm_integration",
        {"action": "create", "data": {"name": "Nowhere Ltd", "time_zone": "America/Springfield"}},
        "sdr", idempotency_key="tz-bad",
    )
    assert "data.time_zone" in failed(result, "TOOL_INPUT_INVALID")


async def test_a_customers_zone_lets_a_number_with_disjoint_zones_be_texted(
    backends: ToolBackends, tmp_path: Path
) -> None:
    """Alaska's two zones never share an 08:00-09:00 window: by number the text cannot go, by the customer's own
    zone it goes at 08:00 in Anchorage."""
    hours = tmp_path / "hours.yaml"
    hours.write_text('default:\n  hours: {start: "08:00", end: "09:00"}\n', encoding="utf-8")
    backends.clock = lambda: TUESDAY
    async with customer_executor(backends, sms_quiet_hours_file=hours) as executor:
        customer_id = await create_customer(executor, "+19075551234", "America/Anchorage")
        result = await executor.execute(
            SMS, {"customer_id": customer_id, "message": "Your order has shipped."}, "sdr", idempotency_key="ak-1"
        )
        assert (ok(result)["message"]["status"], ok(result)["message"]["send_at"]) == ("scheduled", at(16))
