"""The SMS dispatcher and its providers: the Twilio-style HTTP API (a local server), the log provider, retries,
a dispatcher killed while posting."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from customer_harness import customer_executor
from fake_sms_api import ACCOUNT, TOKEN, FakeSmsApi, running_fake_api
from harness import ok

from salesboost.clock import as_utc
from salesboost.config import load_settings
from salesboost.sales.sms.inbound import opt_out
from salesboost.sales.sms.outbox import (
    HttpProvider,
    LogProvider,
    OutboxDispatcher,
    provider_from_settings,
    record_delivery_status,
)
from salesboost.store.sms import SmsMessage
from salesboost.tools.base import ToolBackends
from salesboost.tools.executor import ToolExecutor

SMS = "sms_outreach"
JOHN = "+14155550101"
SENDER = "+15005550006"
SALESBOOST = str(Path(sys.executable).with_name("salesboost"))


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
    assert http.idempotent is False  # unless the operator says the API drops a repeated key
    await http.aclose()
    trusted = provider_from_settings(load_settings(
        sms_provider="http", sms_http_account_sid=ACCOUNT, sms_from_number=SENDER, sms_http_idempotent=True
    ))
    assert trusted.idempotent is True
    await trusted.aclose()
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


def _dispatcher_env(url: str, api_url: str) -> dict[str, str]:
    env = {
        **os.environ, "SALESBOOST_DATABASE_URL": url, "SALESBOOST_SMS_PROVIDER": "http",
        "SALESBOOST_SMS_HTTP_BASE_URL": api_url, "SALESBOOST_SMS_HTTP_ACCOUNT_SID": ACCOUNT,
        "SALESBOOST_SMS_HTTP_AUTH_TOKEN": TOKEN, "SALESBOOST_SMS_FROM_NUMBER": SENDER,
        "SALESBOOST_SMS_DISPATCH_INTERVAL": "0.1",
    }
    env.pop("SALESBOOST_SMS_HTTP_IDEMPOTENT", None)  # the default: the provider may text a repeated key twice
    return env


async def _wait_for_requests(api: FakeSmsApi, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(api.requests) < count:
        assert time.monotonic() < deadline, f"the provider got {len(api.requests)} requests, not {count}"
        await asyncio.sleep(0.05)


async def test_a_dispatcher_killed_while_posting(
    executor: ToolExecutor, backends: ToolBackends, tmp_path: Path
) -> None:
    """`salesboost sms dispatch` is killed (SIGKILL) while the provider holds its first post; the provider
    ignores idempotency keys. A fresh dispatcher sends the three messages never attempted at once, each on its
    first attempt, and does not post the one in flight again, before or after its lease runs out."""
    ids = [await queue(executor, f"Message {i}") for i in range(4)]
    with running_fake_api(stall_first=1, stall_seconds=30, honours_keys=False) as api:
        env = _dispatcher_env(backends.settings.database_url, api.base_url)
        log = tmp_path / "dispatch.log"
        with log.open("wb") as output:
            killed = await asyncio.create_subprocess_exec(
                SALESBOOST, "sms", "dispatch", env=env, cwd=tmp_path, stdout=output, stderr=output
            )
            try:
                await _wait_for_requests(api, 1)
            finally:
                killed.kill()  # SIGKILL: nothing of the dispatcher runs after this
                await killed.wait()
        assert killed.returncode == -signal.SIGKILL, log.read_text()
        assert [r["key"] for r in api.requests] == [f"salesboost-sms-{ids[0]}"]
        in_flight, *untouched = reversed(await status_of(executor))
        assert (in_flight["status"], in_flight["attempts"]) == ("queued", 1)
        assert [(m["status"], m["attempts"]) for m in untouched] == [("queued", 0)] * 3

        started = time.monotonic()
        fresh = await asyncio.create_subprocess_exec(
            SALESBOOST, "sms", "dispatch", "--once", env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(fresh.communicate(), 120)
        took = time.monotonic() - started
        assert fresh.returncode == 0, err.decode()
        assert "sent 3, retried 0, failed 0" in out.decode()
        assert took < 30, f"{took:.1f} s: the never-attempted messages waited (the lease is 60 s)"
        in_flight, *others = reversed(await status_of(executor))
        assert [(m["status"], m["attempts"]) for m in others] == [("sent", 1)] * 3
        assert (in_flight["status"], in_flight["attempts"]) == ("queued", 1)  # its lease still holds

        later = datetime.now(UTC) + timedelta(seconds=61)
        provider = HttpProvider(api.base_url, ACCOUNT, TOKEN, SENDER)
        outbox = OutboxDispatcher(backends.sessions(), provider, clock=lambda: later)
        report = await outbox.run_once()
        await outbox.aclose()
    assert (report.failed, report.message_ids) == (1, [ids[0]])
    in_flight = (await status_of(executor))[-1]
    assert (in_flight["status"], in_flight["attempts"]) == ("failed", 1)
    assert str(in_flight["last_error"]).startswith("outcome unknown: the dispatcher stopped while posting it")
    assert sorted(m["key"] for m in api.texted) == sorted(f"salesboost-sms-{i}" for i in ids)  # each once


@pytest.mark.parametrize("idempotent", [True, False])
async def test_a_post_abandoned_mid_flight_is_repeated_only_to_an_idempotent_provider(
    executor: ToolExecutor, backends: ToolBackends, idempotent: bool
) -> None:
    message_id = await queue(executor)
    start = datetime.now(UTC)
    with running_fake_api(stall_first=1, stall_seconds=5, honours_keys=idempotent) as api:
        provider = HttpProvider(api.base_url, ACCOUNT, TOKEN, SENDER, idempotent=idempotent)
        dying = asyncio.create_task(OutboxDispatcher(backends.sessions(), provider, clock=lambda: start).run_once())
        await _wait_for_requests(api, 1)
        dying.cancel()  # the process ends mid-post: nothing after the claim runs
        with contextlib.suppress(asyncio.CancelledError):
            await dying
        within_lease = OutboxDispatcher(backends.sessions(), provider, clock=lambda: start + timedelta(seconds=30))
        assert (await within_lease.run_once()).handled == 0
        after_lease = OutboxDispatcher(backends.sessions(), provider, clock=lambda: start + timedelta(seconds=61))
        report = await after_lease.run_once()
        await provider.aclose()
    [message] = await status_of(executor)
    assert report.message_ids == [message_id]
    assert len(api.texted) == 1
    if idempotent:  # posted again with the same key: the provider dropped it
        assert report.sent == 1
        assert [r["key"] for r in api.requests] == [f"salesboost-sms-{message_id}"] * 2
        assert (message["status"], message["attempts"]) == ("sent", 2)
    else:
        assert report.failed == 1
        assert len(api.requests) == 1
        assert (message["status"], message["attempts"]) == ("failed", 1)
        assert "SALESBOOST_SMS_HTTP_IDEMPOTENT" in str(message["last_error"])


async def test_a_lost_answer_is_not_posted_again_to_a_provider_that_ignores_keys(
    executor: ToolExecutor, backends: ToolBackends
) -> None:
    await queue(executor)
    with running_fake_api(stall_first=1, stall_seconds=1.0, honours_keys=False) as api:
        outbox = OutboxDispatcher(
            backends.sessions(), HttpProvider(api.base_url, ACCOUNT, TOKEN, SENDER, timeout=0.2), retry_delay=0
        )
        first = await outbox.run_once()
        second = await outbox.run_once()
        await outbox.aclose()
    assert (first.failed, second.handled) == (1, 0)
    assert len(api.requests) == len(api.texted) == 1
    [message] = await status_of(executor)
    assert message["status"] == "failed"
    assert str(message["last_error"]).startswith("outcome unknown: no answer from the provider (ReadTimeout)")


async def test_the_senders_messaging_service_goes_to_the_provider_and_into_history(
    executor: ToolExecutor, backends: ToolBackends
) -> None:
    await queue(executor, "Registered campaign")
    with running_fake_api() as api:
        settings = load_settings(
            sms_provider="http", sms_http_base_url=api.base_url, sms_http_account_sid=ACCOUNT,
            sms_http_auth_token=TOKEN, sms_from_number=SENDER, sms_messaging_service_sid="MG0123456789abcdef",
        )
        outbox = OutboxDispatcher.from_settings(settings, backends.sessions())
        assert (await outbox.run_once()).sent == 1
        await outbox.aclose()
    [request] = api.requests
    assert (request["MessagingServiceSid"], request["From"]) == ("MG0123456789abcdef", SENDER)
    [message] = await status_of(executor)
    assert (message["sender"], message["messaging_service_sid"]) == (SENDER, "MG0123456789abcdef")
    # The log provider has neither: the history says so.
    await queue(executor, "Through the log")
    await OutboxDispatcher(backends.sessions(), LogProvider()).run_once()
    latest = (await status_of(executor))[0]
    assert (latest["sender"], latest["messaging_service_sid"]) == (None, None)
