"""The SMS dispatcher and its providers: the Twilio-style HTTP API (a local server), the log provider, retries."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from customer_harness import customer_executor
from fake_sms_api import ACCOUNT, TOKEN, running_fake_api
from harness import ok

from salesboost.clock import as_utc
from salesboost.config import load_settings
from salesboost.sales.sms.outbox import (
    HttpProvider,
    LogProvider,
    OutboxDispatcher,
    provider_from_settings,
    record_delivery_status,
)
from salesboost.sales.sms.outreach import opt_out
from salesboost.store.sms import SmsMessage
from salesboost.tools.base import ToolBackends
from salesboost.tools.executor import ToolExecutor

SMS = "sms_outreach"
JOHN = "+14155550101"
SENDER = "+15005550006"


@pytest.fixture
async def executor(backends: ToolBackends) -> AsyncIterator[ToolExecutor]:
    async with customer_executor(backends) as executor:
        yield executor


async def queue(executor: ToolExecutor, message: str = "Hello from SalesBoost", phone: str = JOHN) -> int:
    result = ok(await executor.execute(SMS, {"phone": phone, "message": message}, "sdr"))
    return int(result["message"]["message_id"])


async def status_of(executor: ToolExecutor, phone: str = JOHN) -> list[dict[str, object]]:
    return list(ok(await executor.execute(SMS, {"action": "history", "phone": phone}, "coach"))["messages"])


async def test_http_provider_posts_twilio_style(executor: ToolExecutor, backends: ToolBackends) -> None:
    message_id = await queue(executor, "Hi John, contract attached.")
    with running_fake_api(answer_status="delivered") as api:
        outbox = OutboxDispatcher(backends.sessions(), HttpProvider(api.base_url, ACCOUNT, TOKEN, SENDER))
        report = await outbox.run_once()
        await outbox.aclose()
    assert (report.sent, report.failed, report.retried) == (1, 0, 0)
    [request] = api.requests
    assert request["To"] == JOHN
    assert request["From"] == SENDER
    assert request["Body"] == "Hi John, contract attached."
    assert request["key"] == f"salesboost-sms-{message_id}"
    [message] = await status_of(executor)
    assert message["status"] == "delivered"
    assert message["sent_at"] is not None
    assert message["delivered_at"] is not None


async def test_refused_messages_fail_and_server_errors_retry(executor: ToolExecutor, backends: ToolBackends) -> None:
    await queue(executor, "first")
    await queue(executor, "second")
    with running_fake_api(fail_with=[400, 503]) as api:
        outbox = OutboxDispatcher(
            backends.sessions(), HttpProvider(api.base_url, ACCOUNT, TOKEN, SENDER), retry_delay=0
        )
        first = await outbox.run_once()
        second = await outbox.run_once()
        await outbox.aclose()
    assert (first.failed, first.retried, first.sent) == (1, 1, 0)
    assert (second.sent, second.handled) == (1, 1)
    newest, oldest = await status_of(executor)
    assert oldest["status"] == "failed"
    assert "400" in str(oldest["last_error"])
    assert newest["status"] == "sent"
    assert newest["attempts"] == 2


async def test_bad_credentials_fail_the_message(executor: ToolExecutor, backends: ToolBackends) -> None:
    await queue(executor)
    with running_fake_api() as api:
        outbox = OutboxDispatcher(backends.sessions(), HttpProvider(api.base_url, ACCOUNT, "wrong", SENDER))
        report = await outbox.run_once()
        await outbox.aclose()
    assert report.failed == 1
    assert "401" in str((await status_of(executor))[0]["last_error"])


async def test_gives_up_after_max_attempts(executor: ToolExecutor, backends: ToolBackends) -> None:
    await queue(executor)
    # Nothing listens on this port: every attempt is a transport error.
    provider = HttpProvider("http://127.0.0.1:9", ACCOUNT, TOKEN, SENDER, timeout=0.5)
    outbox = OutboxDispatcher(backends.sessions(), provider, max_attempts=3, retry_delay=0)
    reports = [await outbox.run_once() for _ in range(4)]
    await outbox.aclose()
    assert [(r.retried, r.failed) for r in reports] == [(1, 0), (1, 0), (0, 1), (0, 0)]
    [message] = await status_of(executor)
    assert message["status"] == "failed"
    assert message["attempts"] == 3
    assert "unreachable" in str(message["last_error"])


async def test_backoff_waits_before_the_next_attempt(executor: ToolExecutor, backends: ToolBackends) -> None:
    await queue(executor)
    provider = HttpProvider("http://127.0.0.1:9", ACCOUNT, TOKEN, SENDER, timeout=0.5)
    outbox = OutboxDispatcher(backends.sessions(), provider, retry_delay=3600)
    assert (await outbox.run_once()).retried == 1
    assert (await outbox.run_once()).handled == 0  # not due for an hour
    await outbox.aclose()


async def test_backoff_doubles_up_to_its_cap_with_jitter(executor: ToolExecutor, backends: ToolBackends) -> None:
    message_id = await queue(executor)
    now = [datetime.now(UTC)]
    provider = HttpProvider("http://127.0.0.1:9", ACCOUNT, TOKEN, SENDER, timeout=0.5)
    outbox = OutboxDispatcher(
        backends.sessions(), provider, retry_delay=100, retry_max_delay=150, clock=lambda: now[0]
    )
    waits = []
    for _ in range(3):
        assert (await outbox.run_once()).retried == 1
        async with backends.sessions()() as session:
            due = as_utc((await session.get_one(SmsMessage, message_id)).next_attempt_at)
        waits.append((due - now[0]).total_seconds())
        now[0] = due
    await outbox.aclose()
    # 100 then 200 and 400 capped at 150, each less up to half of it so that failures do not retry in step.
    assert 50 <= waits[0] <= 100
    assert 75 <= waits[1] <= 150
    assert 75 <= waits[2] <= 150


async def test_log_provider_masks_and_marks_sent(
    executor: ToolExecutor, backends: ToolBackends, caplog: pytest.LogCaptureFixture
) -> None:
    await queue(executor, "Call me back at +1 212 555 0199 please")
    with caplog.at_level(logging.INFO, logger="salesboost.sales.sms.outbox"):
        report = await OutboxDispatcher(backends.sessions(), LogProvider()).run_once()
    assert report.sent == 1
    assert "sms" in caplog.text
    assert JOHN not in caplog.text
    assert "555 0199" not in caplog.text
    [message] = await status_of(executor)
    assert message["status"] == "sent"


async def test_a_number_that_opts_out_before_delivery_is_not_texted(
    executor: ToolExecutor, backends: ToolBackends
) -> None:
    await queue(executor)
    await opt_out(backends.sessions(), JOHN, datetime.now(UTC), source="cli")
    report = await OutboxDispatcher(backends.sessions(), LogProvider()).run_once()
    assert report.failed == 1
    [message] = await status_of(executor)
    assert message["status"] == "failed"
    assert "opted out" in str(message["last_error"])


async def test_delivery_status_callbacks(executor: ToolExecutor, backends: ToolBackends) -> None:
    message_id = await queue(executor)
    await OutboxDispatcher(backends.sessions(), LogProvider()).run_once()
    now = datetime.now(UTC)
    assert await record_delivery_status(backends.sessions(), f"log-{message_id}", "delivered", now)
    assert not await record_delivery_status(backends.sessions(), "unknown", "delivered", now)
    with pytest.raises(ValueError, match="unknown delivery status"):
        await record_delivery_status(backends.sessions(), f"log-{message_id}", "teleported", now)
    [message] = await status_of(executor)
    assert message["status"] == "delivered"
    assert message["delivered_at"] is not None


async def test_provider_from_settings() -> None:
    assert isinstance(provider_from_settings(load_settings()), LogProvider)
    http = provider_from_settings(load_settings(
        sms_provider="http", sms_http_account_sid=ACCOUNT, sms_http_auth_token=TOKEN, sms_from_number=SENDER
    ))
    assert isinstance(http, HttpProvider)
    assert http.path == f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    await http.aclose()
    with pytest.raises(ValueError, match="ACCOUNT_SID"):
        provider_from_settings(load_settings(sms_provider="http"))


async def test_run_forever_delivers_until_stopped(executor: ToolExecutor, backends: ToolBackends) -> None:
    await queue(executor)
    stop = asyncio.Event()
    outbox = OutboxDispatcher(backends.sessions(), LogProvider())
    running = asyncio.create_task(outbox.run_forever(interval=0.05, stop=stop))
    for _ in range(200):
        if (await status_of(executor))[0]["status"] == "sent":
            break
        await asyncio.sleep(0.05)
    await queue(executor, "a second one, picked up on a later round")
    for _ in range(200):
        if all(m["status"] == "sent" for m in await status_of(executor)):
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(running, 5)
    assert [m["status"] for m in await status_of(executor)] == ["sent", "sent"]
