"""Delivering the SMS outbox: a dispatcher that hands queued messages to a provider, and the providers.

The dispatcher claims a message with a conditional UPDATE that sets a lease (`locked_until`), so two
dispatchers never send the same message at once, and a dispatcher that dies mid-delivery only delays it:
when the lease runs out the message is claimed again. Every attempt for a message carries the same
idempotency key (`salesboost-sms-<id>`), so a provider that got the first attempt but timed out on the
answer does not send twice. Transient failures are retried up to `SALESBOOST_SMS_MAX_ATTEMPTS` with the
runtime's backoff (`ToolRetryPolicy.delay`: doubling, capped, jittered so that messages failed together are
not retried together); a permanent one (the provider refused the message) fails it at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from salesboost.clock import utcnow
from salesboost.config import Settings
from salesboost.masking import mask
from salesboost.sales.sms.outreach import is_opted_out
from salesboost.store.db import writing
from salesboost.store.sms import SmsMessage
from salesboost.tools.retry import ToolRetryPolicy

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OutboundSms:
    message_id: int
    to: str
    body: str
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class Receipt:
    provider_message_id: str
    status: str  # "sent", or "delivered" when the provider already knows


class DeliveryError(Exception):
    """The provider did not take the message. `transient` ones are retried; others fail the message."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class SmsProvider(Protocol):
    name: str

    async def send(self, sms: OutboundSms) -> Receipt: ...

    async def aclose(self) -> None: ...


class LogProvider:
    """The default: writes the message (masked) to the log and marks it sent. Nothing leaves the machine."""

    name = "log"

    async def send(self, sms: OutboundSms) -> Receipt:
        log.info("sms %s to %s: %s", sms.message_id, mask(sms.to), mask(sms.body)[:80])
        return Receipt(provider_message_id=f"log-{sms.message_id}", status="sent")

    async def aclose(self) -> None:
        return None


class HttpProvider:
    """A Twilio-style REST API: `POST {base}/2010-04-01/Accounts/{sid}/Messages.json` with basic auth."""

    name = "http"

    def __init__(
        self,
        base_url: str,
        account_sid: str,
        auth_token: str,
        from_number: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not account_sid or not from_number:
            raise ValueError(
                "the http SMS provider needs SALESBOOST_SMS_HTTP_ACCOUNT_SID and SALESBOOST_SMS_FROM_NUMBER"
            )
        self.from_number = from_number
        self.path = f"/2010-04-01/Accounts/{account_sid}/Messages.json"
        self.client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), auth=(account_sid, auth_token), timeout=timeout, transport=transport
        )

    async def send(self, sms: OutboundSms) -> Receipt:
        headers = {"Idempotency-Key": sms.idempotency_key, "I-Twilio-Idempotency-Token": sms.idempotency_key}
        data = {"To": sms.to, "From": self.from_number, "Body": sms.body}
        try:
            response = await self.client.post(self.path, data=data, headers=headers)
        except httpx.TimeoutException as exc:
            raise DeliveryError(f"provider timed out ({type(exc).__name__})", transient=True) from exc
        except httpx.TransportError as exc:
            raise DeliveryError(f"provider unreachable ({type(exc).__name__})", transient=True) from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise DeliveryError(f"provider answered {response.status_code}", transient=True)
        if response.status_code >= 400:
            raise DeliveryError(f"provider refused the message: {response.status_code} {response.text[:200]}",
                                transient=False)
        body: dict[str, Any] = response.json()
        status = "delivered" if body.get("status") == "delivered" else "sent"
        return Receipt(provider_message_id=str(body.get("sid", "")), status=status)

    async def aclose(self) -> None:
        await self.client.aclose()


def provider_from_settings(settings: Settings) -> SmsProvider:
    if settings.sms_provider == "http":
        return HttpProvider(
            settings.sms_http_base_url,
            settings.sms_http_account_sid,
            settings.sms_http_auth_token.get_secret_value(),
            settings.sms_from_number,
            timeout=settings.sms_http_timeout,
        )
    return LogProvider()


@dataclass(slots=True)
class DispatchReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    message_ids: list[int] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed


class OutboxDispatcher:
    """Delivers queued messages through one provider. Safe to run in several processes at once."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        provider: SmsProvider,
        *,
        max_attempts: int = 8,
        retry_delay: float = 2.0,
        retry_max_delay: float = 3600.0,
        lease_seconds: float = 60.0,
        batch_size: int = 50,
        clock: Any = utcnow,
    ) -> None:
        self.sessions = sessions
        self.provider = provider
        self.retry = ToolRetryPolicy(max_attempts=max_attempts, base_delay=retry_delay, max_delay=retry_max_delay)
        self.lease = timedelta(seconds=lease_seconds)
        self.batch_size = batch_size
        self.clock = clock

    @classmethod
    def from_settings(
        cls, settings: Settings, sessions: async_sessionmaker[AsyncSession], provider: SmsProvider | None = None
    ) -> OutboxDispatcher:
        return cls(
            sessions,
            provider or provider_from_settings(settings),
            max_attempts=settings.sms_max_attempts,
            retry_delay=settings.sms_retry_delay,
            retry_max_delay=settings.sms_retry_max_delay,
            # A lease outlives any single attempt, so a slow attempt is never claimed twice.
            lease_seconds=max(60.0, 3 * settings.sms_http_timeout),
        )

    async def run_once(self) -> DispatchReport:
        """Deliver what is due now (one batch); returns what happened."""
        report = DispatchReport()
        for message in await self._claim():
            await self._deliver(message, report)
        return report

    async def run_forever(self, interval: float, stop: asyncio.Event | None = None) -> None:
        """Deliver until `stop` is set; a full batch is followed at once by the next."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                report = await self.run_once()
            except Exception:
                log.exception("sms dispatch failed; trying again in %.1f s", interval)
                report = DispatchReport()
            if report.handled < self.batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval)

    async def aclose(self) -> None:
        await self.provider.aclose()

    async def _claim(self) -> list[SmsMessage]:
        now = self.clock()
        free = or_(SmsMessage.locked_until.is_(None), SmsMessage.locked_until < now)
        async with self.sessions() as session:
            due = (
                await session.scalars(
                    select(SmsMessage.id)
                    .where(SmsMessage.status == "queued", SmsMessage.next_attempt_at <= now, free)
                    .order_by(SmsMessage.id)
                    .limit(self.batch_size)
                )
            ).all()
        claimed: list[SmsMessage] = []
        for message_id in due:
            async with writing(self.sessions) as session:
                taken = await session.scalar(
                    update(SmsMessage)
                    .where(SmsMessage.id == message_id, SmsMessage.status == "queued", free)
                    .values(locked_until=now + self.lease, attempts=SmsMessage.attempts + 1, updated_at=now)
                    .returning(SmsMessage.id)
                )
                if taken is not None:
                    claimed.append(await session.get_one(SmsMessage, message_id, populate_existing=True))
        return claimed

    async def _deliver(self, message: SmsMessage, report: DispatchReport) -> None:
        report.message_ids.append(message.id)
        async with self.sessions() as session:
            opted_out = await is_opted_out(session, message.phone)
        if opted_out:
            await self._finish(message.id, status="failed", last_error="the number opted out before delivery")
            report.failed += 1
            return
        sms = OutboundSms(message.id, message.phone, message.body, f"salesboost-sms-{message.id}")
        try:
            receipt = await self.provider.send(sms)
        except DeliveryError as exc:
            if exc.transient and message.attempts < self.retry.max_attempts:
                delay = self.retry.delay(message.attempts - 1)
                await self._finish(
                    message.id, status="queued", last_error=str(exc),
                    next_attempt_at=self.clock() + timedelta(seconds=delay),
                )
                report.retried += 1
            else:
                await self._finish(message.id, status="failed", last_error=str(exc))
                report.failed += 1
            return
        now = self.clock()
        await self._finish(
            message.id, status=receipt.status, last_error=None, provider=self.provider.name,
            provider_message_id=receipt.provider_message_id, sent_at=now,
            delivered_at=now if receipt.status == "delivered" else None,
        )
        report.sent += 1

    async def _finish(self, message_id: int, **values: Any) -> None:
        async with writing(self.sessions) as session:
            await session.execute(
                update(SmsMessage)
                .where(SmsMessage.id == message_id)
                .values(locked_until=None, updated_at=self.clock(), **values)
            )


async def record_delivery_status(
    sessions: async_sessionmaker[AsyncSession], provider_message_id: str, status: str, now: datetime
) -> bool:
    """Apply a provider's status callback (`delivered`, `failed`, `undelivered`); False for an unknown id."""
    mapped = {"delivered": "delivered", "failed": "failed", "undelivered": "failed", "sent": "sent"}.get(status)
    if mapped is None:
        raise ValueError(f"unknown delivery status {status!r}")
    values: dict[str, Any] = {"status": mapped, "updated_at": now}
    if mapped == "delivered":
        values["delivered_at"] = now
    async with writing(sessions) as session:
        result = await session.execute(
            update(SmsMessage).where(SmsMessage.provider_message_id == provider_message_id).values(**values)
        )
    return bool(getattr(result, "rowcount", 0))
