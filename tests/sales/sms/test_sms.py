"""sms_outreach through `executor.execute`, with its outbox delivered by the dispatcher, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from customer_harness import customer_executor
from fake_sms_api import ACCOUNT, TOKEN, running_fake_api
from harness import failed, ok

from salesboost.sales.sms.inbound import Replies, handle_inbound, opt_in, opt_out
from salesboost.sales.sms.outbox import HttpProvider, LogProvider, OutboxDispatcher
from salesboost.tools.base import ToolBackends
from salesboost.tools.executor import ToolExecutor
from salesboost.tools.result import ToolResult

SMS = "sms_outreach"
JOHN = "+14155550101"  # CUST001's phone in the demo data


@pytest.fixture
async def executor(backends: ToolBackends) -> AsyncIterator[ToolExecutor]:
    async with customer_executor(backends) as executor:
        yield executor


async def send(executor: ToolExecutor, payload: dict[str, object], key: str | None = None) -> ToolResult:
    return await executor.execute(SMS, {"action": "send", **payload}, "sdr", idempotency_key=key)


def dispatcher(backends: ToolBackends, **options: object) -> OutboxDispatcher:
    return OutboxDispatcher(backends.sessions(), LogProvider(), **options)  # type: ignore[arg-type]


async def test_send_to_a_customer_queues_it(executor: ToolExecutor) -> None:
    result = ok(await send(executor, {"customer_id": "CUST001", "message": "Hi John, does Tuesday 10am work?"}))
    assert set(result) == {"action", "message", "duplicate", "sent_today", "daily_limit", "compliance_warnings"}
    message = result["message"]
    assert message["phone"] == JOHN
    assert message["customer_id"] == "CUST001"
    assert message["status"] == "queued"
    assert message["encoding"] == "GSM-7"
    assert message["segments"] == 1
    assert message["characters"] == len("Hi John, does Tuesday 10am work?")
    assert result["duplicate"] is False
    assert result["sent_today"] == 1
    assert result["daily_limit"] == 5
    assert result["compliance_warnings"] == []


async def test_a_national_number_is_read_in_the_default_region(executor: ToolExecutor) -> None:
    message = ok(await send(executor, {"phone": "(415) 555-0101", "message": "Hello"}))["message"]
    assert message["phone"] == JOHN
    assert message["customer_id"] == "CUST001"  # linked by its phone, so history by customer finds it


@pytest.mark.parametrize(("phone", "reason"), [("12345", "too short"), ("+1 415 555", "short"), ("call me", "not a")])
async def test_invalid_phones_say_why(executor: ToolExecutor, phone: str, reason: str) -> None:
    result = await send(executor, {"phone": phone, "message": "Hello"})
    failed(result, "SMS_INVALID_PHONE")
    assert result.error is not None
    assert reason in result.error.details["reason"]


async def test_a_customer_without_a_phone(executor: ToolExecutor) -> None:
    customer = ok(await executor.execute("crm_integration", {"customer_id": "CUST011"}, "sdr"))["customer"]
    assert customer["phone"] is None
    failed(await send(executor, {"customer_id": "CUST011", "message": "Hello"}), "SMS_INVALID_PHONE")
    failed(await send(executor, {"customer_id": "CUST999", "message": "Hello"}), "CUSTOMER_NOT_FOUND")


async def test_encoding_and_segments(executor: ToolExecutor) -> None:
    ucs2 = ok(await send(executor, {"phone": JOHN, "message": "Thanks 🙏 see you soon"}))["message"]
    assert (ucs2["encoding"], ucs2["segments"], ucs2["characters"]) == ("UCS-2", 1, 21)
    long_gsm = ok(await send(executor, {"phone": JOHN, "message": "x" * 200 + "{}"}))["message"]
    assert (long_gsm["encoding"], long_gsm["segments"]) == ("GSM-7", 2)
    result = await send(executor, {"phone": JOHN, "message": "é" * 1531})
    failed(result, "TOOL_INPUT_INVALID")
    assert result.error is not None
    assert result.error.details["errors"][0]["field"] == "message"
    assert "11 SMS segments" in result.error.message
    failed(await send(executor, {"phone": JOHN, "message": "ж" * 671}), "TOOL_INPUT_INVALID")
    ok(await send(executor, {"phone": JOHN, "message": "ж" * 670}))  # exactly 10 UCS-2 segments


async def test_at_most_five_a_day_then_again_tomorrow(executor: ToolExecutor, backends: ToolBackends) -> None:
    today = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    backends.clock = lambda: today
    counts = [ok(await send(executor, {"phone": JOHN, "message": f"Note {i}"}))["sent_today"] for i in range(5)]
    assert counts == [1, 2, 3, 4, 5]
    result = await send(executor, {"phone": JOHN, "message": "One too many"})
    assert "5 messages today" in failed(result, "SMS_DAILY_LIMIT")
    ok(await send(executor, {"phone": "+12125550199", "message": "Another number is counted apart"}))
    backends.clock = lambda: today + timedelta(days=1)
    assert ok(await send(executor, {"phone": JOHN, "message": "New day"}))["sent_today"] == 1


async def test_the_day_is_counted_in_the_configured_timezone(backends: ToolBackends) -> None:
    async with customer_executor(backends, sms_timezone="America/Los_Angeles") as executor:
        late_evening = datetime(2026, 3, 11, 6, 30, tzinfo=UTC)  # 23:30 on the 10th in Los Angeles
        backends.clock = lambda: late_evening
        for i in range(5):
            ok(await send(executor, {"phone": JOHN, "message": f"Evening {i}"}))
        failed(await send(executor, {"phone": JOHN, "message": "Still the 10th"}), "SMS_DAILY_LIMIT")
        backends.clock = lambda: late_evening + timedelta(hours=1)  # 00:30 on the 11th there
        assert ok(await send(executor, {"phone": JOHN, "message": "Midnight passed"}))["sent_today"] == 1


async def test_twenty_concurrent_sends_to_one_phone_accept_exactly_five(executor: ToolExecutor) -> None:
    results = await asyncio.gather(*(send(executor, {"phone": JOHN, "message": f"Race {i}"}) for i in range(20)))
    accepted = [ok(r) for r in results if r.ok]
    refused = [r for r in results if not r.ok]
    assert len(accepted) == 5
    assert all(r.error is not None and r.error.code == "SMS_DAILY_LIMIT" for r in refused)
    assert sorted(a["sent_today"] for a in accepted) == [1, 2, 3, 4, 5]
    history = ok(await executor.execute(SMS, {"action": "history", "phone": JOHN, "limit": 100}, "coach"))
    assert history["count"] == 5


async def test_a_send_repeated_100_times_with_provider_timeouts_is_sent_once(
    executor: ToolExecutor, backends: ToolBackends
) -> None:
    payload = {"customer_id": "CUST002", "message": "Hi Sarah, the plant visit is confirmed for Thursday."}
    with running_fake_api(stall_first=3, stall_seconds=0.6) as api:
        # This API drops a repeated key, so a post whose answer timed out is posted again.
        provider = HttpProvider(api.base_url, ACCOUNT, TOKEN, "+15005550006", timeout=0.2, idempotent=True)
        outbox = OutboxDispatcher(backends.sessions(), provider, max_attempts=10, retry_delay=0)
        answers = []
        for i in range(100):
            answers.append(ok(await send(executor, payload, key="visit-confirmation")))
            if i % 10 == 9:
                await outbox.run_once()
        await outbox.aclose()
    assert len({a["message"]["message_id"] for a in answers}) == 1
    assert answers[0]["duplicate"] is False
    assert all(a["duplicate"] for a in answers[1:])
    assert len(api.texted) == 1  # the provider sent it once...
    assert len(api.requests) == 4  # ...although it was asked four times (three answers came too late)
    assert len({r["key"] for r in api.requests}) == 1
    history = ok(await executor.execute(SMS, {"action": "history", "customer_id": "CUST002"}, "coach"))
    assert history["count"] == 1
    assert history["messages"][0]["status"] == "sent"
    assert history["messages"][0]["attempts"] == 4
    # Only the first send was counted.
    assert ok(await send(executor, {"customer_id": "CUST002", "message": "And one more"}))["sent_today"] == 2


async def test_racing_sends_with_one_key_make_one_message(executor: ToolExecutor) -> None:
    payload = {"phone": JOHN, "message": "Only once"}
    results = await asyncio.gather(*(send(executor, payload, key="same") for _ in range(10)))
    assert len({ok(r)["message"]["message_id"] for r in results}) == 1
    assert sum(1 for r in results if not ok(r)["duplicate"]) == 1
    assert ok(await send(executor, {"phone": JOHN, "message": "Next"}))["sent_today"] == 2


async def test_one_key_from_two_callers_sends_one_message_each(executor: ToolExecutor) -> None:
    payload = {"action": "send", "phone": JOHN, "message": "Shared key"}
    callers = ("key-a", "key-b") * 5
    results = await asyncio.gather(*(
        executor.execute(SMS, payload, "sdr", idempotency_key="same", caller_id=c) for c in callers
    ))
    ids = {c: {ok(r)["message"]["message_id"] for r, o in zip(results, callers, strict=True) if o == c}
           for c in set(callers)}
    assert all(len(one) == 1 for one in ids.values())
    assert ids["key-a"] != ids["key-b"]
    assert sum(1 for r in results if not ok(r)["duplicate"]) == 2
    other = {"action": "send", "phone": JOHN, "message": "Not the same text"}
    assert ok(await executor.execute(SMS, other, "sdr", idempotency_key="same", caller_id="key-c"))["sent_today"] == 3


async def test_a_key_reused_for_another_message_is_refused(executor: ToolExecutor) -> None:
    ok(await send(executor, {"phone": JOHN, "message": "First"}, key="k1"))
    result = await send(executor, {"phone": JOHN, "message": "Something else"}, key="k1")
    assert "k1" in failed(result, "IDEMPOTENCY_KEY_REUSED")
    # The same recipient written another way is the same request.
    assert ok(await send(executor, {"phone": "415-555-0101", "message": "First"}, key="k1"))["duplicate"] is True
    failed(await send(executor, {"phone": JOHN, "message": "First"}, key="k" * 201), "TOOL_INPUT_INVALID")


async def test_opted_out_numbers_are_refused_until_start(executor: ToolExecutor, backends: ToolBackends) -> None:
    sessions, now = backends.sessions(), datetime.now(UTC)
    replies = Replies.load(backends.settings.sms_replies_file)
    assert (await handle_inbound(sessions, JOHN, " stop ", now, replies)).outcome == "opted_out"
    result = await send(executor, {"customer_id": "CUST001", "message": "Hello?"})
    assert "STOP" in failed(result, "SMS_OPTED_OUT")
    assert await opt_out(sessions, JOHN, now, source="cli") is False  # already out
    assert (await handle_inbound(sessions, JOHN, "What is this about?", now, replies)).outcome == "ignored"
    failed(await send(executor, {"phone": JOHN, "message": "Hello?"}), "SMS_OPTED_OUT")
    assert (await handle_inbound(sessions, JOHN, "START", now, replies)).outcome == "opted_in"
    assert ok(await send(executor, {"phone": JOHN, "message": "Welcome back"}))["sent_today"] == 1
    assert await opt_in(sessions, JOHN) is False


async def test_blocked_messages_are_refused_and_not_counted(executor: ToolExecutor) -> None:
    result = await send(executor, {"phone": JOHN, "message": "We guarantee you will double your revenue, risk-free!"})
    message = failed(result, "SMS_COMPLIANCE_BLOCKED")
    assert result.error is not None
    rules = result.error.details["rules"]
    assert rules
    assert all(rule in message for rule in rules)
    assert ok(await send(executor, {"phone": JOHN, "message": "Hello"}))["sent_today"] == 1


async def test_a_marketing_text_without_opt_out_wording_warns(executor: ToolExecutor) -> None:
    offer = "Spring offer: two months free!"
    result = ok(await send(executor, {"phone": JOHN, "message": offer, "campaign": "spring"}))
    assert result["compliance_warnings"]
    assert result["message"]["status"] == "queued"
    opted = offer + " Reply STOP to opt out."
    clean = ok(await send(executor, {"phone": JOHN, "message": opted, "campaign": "spring"}))
    assert clean["compliance_warnings"] == []


async def test_history_newest_first_by_phone_or_customer(executor: ToolExecutor) -> None:
    for text in ("one", "two", "three"):
        ok(await send(executor, {"customer_id": "CUST001", "message": text}))
    ok(await send(executor, {"phone": "+12125550199", "message": "other"}))
    by_customer = ok(await executor.execute(SMS, {"action": "history", "customer_id": "CUST001"}, "evaluator"))
    assert [m["body"] for m in by_customer["messages"]] == ["three", "two", "one"]
    by_phone = ok(await executor.execute(SMS, {"action": "history", "phone": "(415) 555-0101", "limit": 2}, "coach"))
    assert [m["body"] for m in by_phone["messages"]] == ["three", "two"]
    assert by_phone["count"] == 2
    failed(await executor.execute(SMS, {"action": "history"}, "coach"), "TOOL_INPUT_INVALID")


async def test_campaign_stats_come_from_the_outbox(executor: ToolExecutor, backends: ToolBackends) -> None:
    text = "Spring offer: two months free. Reply STOP to opt out."
    for customer in ("CUST001", "CUST002", "CUST003"):
        ok(await send(executor, {"customer_id": customer, "message": text, "campaign": "spring"}))
    ok(await send(executor, {"customer_id": "CUST001", "message": "x" * 170 + " Reply STOP to opt out.",
                             "campaign": "spring"}))
    ok(await send(executor, {"customer_id": "CUST001", "message": "Not in the campaign"}))
    before = ok(await executor.execute(SMS, {"action": "campaign_stats", "campaign": "spring"}, "evaluator"))
    assert before["total_sent"] == 4
    assert before["unique_recipients"] == 3
    assert before["total_segments"] == 5
    assert before["by_status"] == {"scheduled": 0, "queued": 4, "sent": 0, "delivered": 0, "failed": 0}
    await dispatcher(backends).run_once()
    after = ok(await executor.execute(SMS, {"action": "campaign_stats", "campaign": "spring"}, "coach"))
    assert after["by_status"]["sent"] == 4
    empty = ok(await executor.execute(SMS, {"action": "campaign_stats", "campaign": "none"}, "coach"))
    assert (empty["total_sent"], empty["unique_recipients"], empty["total_segments"]) == (0, 0, 0)


@pytest.mark.parametrize(
    ("payload", "role"),
    [
        ({"action": "send", "phone": JOHN, "message": "hi"}, "evaluator"),
        ({"action": "send", "phone": JOHN, "message": "hi"}, "npc"),
        ({"action": "history", "phone": JOHN}, "npc"),
    ],
)
async def test_roles(executor: ToolExecutor, payload: dict[str, object], role: str) -> None:
    failed(await executor.execute(SMS, payload, role), "TOOL_FORBIDDEN")


async def test_a_crash_between_commit_and_delivery_loses_nothing(
    executor: ToolExecutor, backends: ToolBackends
) -> None:
    sent = ok(await send(executor, {"customer_id": "CUST003", "message": "Queued before the crash"}))["message"]

    class Crash(BaseException):
        """The process dies in the middle of a delivery."""

    class DyingProvider(LogProvider):
        async def send(self, sms: object) -> object:  # type: ignore[override]
            raise Crash

    start = datetime.now(UTC)
    first = OutboxDispatcher(backends.sessions(), DyingProvider(), lease_seconds=60, clock=lambda: start)
    with pytest.raises(Crash):
        await first.run_once()
    # Another dispatcher started right away leaves the claimed message alone while its lease holds...
    assert (await dispatcher(backends, clock=lambda: start + timedelta(seconds=30)).run_once()).handled == 0
    # ...and delivers it once the lease has run out.
    report = await dispatcher(backends, clock=lambda: start + timedelta(seconds=61)).run_once()
    assert (report.sent, report.message_ids) == (1, [sent["message_id"]])
    history = ok(await executor.execute(SMS, {"action": "history", "customer_id": "CUST003"}, "coach"))
    assert history["messages"][0]["status"] == "sent"
    assert history["messages"][0]["attempts"] == 2
    assert (await dispatcher(backends).run_once()).handled == 0


def test_an_unknown_timezone_is_refused_at_start_up() -> None:
    from salesboost.config import SettingsError, load_settings
    from salesboost.sales.sms.tool import rules_from_settings

    with pytest.raises(SettingsError, match="SALESBOOST_SMS_TIMEZONE"):
        rules_from_settings(load_settings(sms_timezone="Mars/Olympus_Mons"))
    assert rules_from_settings(load_settings(sms_timezone="Europe/Berlin")).zone.key == "Europe/Berlin"


async def test_a_nul_in_the_message_is_bad_input_on_both_databases(executor: ToolExecutor) -> None:
    failed(await send(executor, {"phone": JOHN, "message": "Hi\x00there"}, key="nul-sms"), "TOOL_INPUT_INVALID")
    assert executor.circuit_state(SMS) == "closed"


# --- the original example: `phone_number`, and the numbers reserved for fiction ------------------------------


async def test_phone_number_is_the_field_and_phone_its_alias(executor: ToolExecutor) -> None:
    by_name = ok(await send(executor, {"phone_number": "(415) 555-0101", "message": "One"}))["message"]
    by_alias = ok(await send(executor, {"phone": "(415) 555-0101", "message": "Two"}))["message"]
    assert by_name["phone"] == by_alias["phone"] == JOHN
    both = await send(executor, {"phone_number": JOHN, "phone": JOHN, "message": "Three"})
    assert "not both" in failed(both, "TOOL_INPUT_INVALID")
    history = ok(await executor.execute(SMS, {"action": "history", "phone_number": JOHN}, "coach"))
    assert history["count"] == 2
    schema = executor.registry.get(SMS).tool.Input.model_json_schema()
    assert "phone_number" in schema["properties"]
    assert "phone" not in schema["properties"]


@pytest.mark.parametrize("phone", ["+15550001000", "+1 555 123 4567", "+14155550100", "(212) 555-0199"])
async def test_fictional_numbers_are_test_numbers_with_the_log_provider(executor: ToolExecutor, phone: str) -> None:
    message = ok(await send(executor, {"phone_number": phone, "message": "Test"}))["message"]
    assert message["test_number"] is True
    assert message["status"] == "queued"


async def test_a_real_number_is_no_test_number(executor: ToolExecutor) -> None:
    message = ok(await send(executor, {"phone_number": "+14155551234", "message": "Hello"}))["message"]
    assert message["test_number"] is False
    # 555-0200 lies outside the reserved 0100-0199 block: phonenumbers decides, as for any other number.
    outside = ok(await send(executor, {"phone_number": "+14155550200", "message": "Hi"}))["message"]
    assert outside["test_number"] is False


async def test_a_real_provider_refuses_fictional_numbers(backends: ToolBackends) -> None:
    async with customer_executor(backends, sms_provider="http") as executor:
        result = await send(executor, {"phone_number": "+15550001000", "message": "Test"})
        assert "fictional" in failed(result, "SMS_INVALID_PHONE")
        assert result.error is not None
        assert result.error.details["reason"] == "fictional number"
        failed(await send(executor, {"customer_id": "CUST001", "message": "Hi"}), "SMS_INVALID_PHONE")
        assert ok(await send(executor, {"phone_number": "+14155551234", "message": "Hi"}))["sent_today"] == 1
