"""Delivering the SMS outbox: a dispatcher that hands queued messages to a provider, and the providers.

A message is claimed when, and only when, it is about to be posted: one conditional UPDATE sets its lease
(`locked_until`) and counts the attempt, and commits before the provider is called. So a `queued` message with a
lease is one being posted, and nothing else is claimed: two dispatchers never post one message at once, and a
dispatcher that is killed leaves every message it had not started as it was (due at once for the next
dispatcher, `attempts` unchanged) and at most the one it was posting behind its lease.

A lease that ran out on a `queued` message means its dispatcher stopped while posting it: whether the provider
took the message is unknown. Every post of a message carries the same idempotency key (`salesboost-sms-<id>`);
a provider that drops a repeated key (`idempotent`) is sent it again, under a new lease, and texts it at most
once. Any other provider could text it twice, so the message is not posted again: it is marked `failed` with a
`last_error` that begins "outcome unknown", for a person to check in the provider's log. A post whose answer
never came (the connection dropped or timed out after the request went out) is the same case.

Other transient failures (the provider unreachable, 429, 5xx) are retried up to `SALESBOOST_SMS_MAX_ATTEMPTS`
with the runtime's backoff (`ToolRetryPolicy.delay`: doubling, capped, jittered so that messages failed together
are not retried together); a permanent one (the provider refused the message) fails it at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from salesboost.clock import utcnow
from salesboost.config import Settings
from salesboost.masking import mask
from salesboost.sales.sms.consent import has_marketing_consent
from salesboost.sales.sms.outreach import is_opted_out
from salesboost.store.db import writing
from salesboost.store.sms import SmsMessage
from salesboost.tools.retry import ToolRetryPolicy

if TYPE_CHECKING:
    import httpx

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
    """The provider did not take the message (`transient` ones are retried, others fail it), or, with
    `outcome_unknown`, the request went out and no answer came back: it may have taken it."""

    def __init__(self, message: str, *, transient: bool, outcome_unknown: bool = False) -> None:
        super().__init__(message)
        self.transient = transient
        self.outcome_unknown = outcome_unknown


class SmsProvider(Protocol):
    name: str
    # Who the texts come from, recorded on each message: the sender number, and the messaging service that
    # carries its registration (a US 10DLC campaign is registered on one); None when the provider has none.
    sender: str | None
    messaging_service_sid: str | None
    # The provider drops a second post with the same idempotency key: posting a message again texts it once.
    idempotent: bool

    async def send(self, sms: OutboundSms) -> Receipt: ...

    async def aclose(self) -> None: ...


class LogProvider:
    """The default: writes the message (masked) to the log and marks it sent. Nothing leaves the machine."""

    name = "log"
    idempotent = True  # a second post is a second log line: nobody is texted
    sender: str | None = None
    messaging_service_sid: str | None = None

    async def send(self, sms: OutboundSms) -> Receipt:
        log.info("sms %s to %s: %s", sms.message_id, mask(sms.to), mask(sms.body)[:80])
        return Receipt(provider_message_id=f"log-{sms.message_id}", status="sent")

    async def aclose(self) -> None:
        return None


class HttpProvider:
    """A Twilio-style REST API: `POST {base}/2010-04-01/Accounts/{sid}/Messages.json` with basic auth. It sends
    the idempotency key as `Idempotency-Key` and `I-Twilio-Idempotency-Token`; whether the API drops a repeated
    one is the operator's to say (`idempotent`, SALESBOOST_SMS_HTTP_IDEMPOTENT), so by default it does not."""

    name = "http"

    def __init__(
        self,
        base_url: str,
        account_sid: str,
        auth_token: str,
        from_number: str,
        *,
        timeout: float = 10.0,
        idempotent: bool = False,
        messaging_service_sid: str = "",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not account_sid or not from_number:
            raise ValueError(
                "the http SMS provider needs SALESBOOST_SMS_HTTP_ACCOUNT_SID and SALESBOOST_SMS_FROM_NUMBER"
            )
        self.from_number = from_number
        self.sender: str | None = from_number
        self.messaging_service_sid = messaging_service_sid or None
        self.idempotent = idempotent
        self.path = f"/2010-04-01/Accounts/{account_sid}/Messages.json"
        import httpx  # about 0.08 s to import: only a process that sends through the HTTP provider pays it

        self.client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), auth=(account_sid, auth_token), timeout=timeout, transport=transport
        )

    async def send(self, sms: OutboundSms) -> Receipt:
        headers = {"Idempotency-Key": sms.idempotency_key, "I-Twilio-Idempotency-Token": sms.idempotency_key}
        data = {"To": sms.to, "From": self.from_number, "Body": sms.body}
        if self.messaging_service_sid is not None:
            data["MessagingServiceSid"] = self.messaging_service_sid
        import httpx  # imported by __init__ already

        try:
            response = await self.client.post(self.path, data=data, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:  # the request never went out
            raise DeliveryError(f"provider unreachable ({type(exc).__name__})", transient=True) from exc
        except httpx.TransportError as exc:  # it went out, or may have: a read or write timed out or broke
            raise DeliveryError(
                f"no answer from the provider ({type(exc).__name__})", transient=True, outcome_unknown=True
            ) from exc
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
            idempotent=settings.sms_http_idempotent,
            messaging_service_sid=settings.sms_messaging_service_sid,
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
            # A lease outlives any single post (its connect, write and read each time out), so a slow post is
            # never taken for an abandoned one.
            lease_seconds=max(60.0, 3 * settings.sms_http_timeout),
        )

    async def run_once(self) -> DispatchReport:
        """Settle the posts abandoned by a dispatcher that stopped, then deliver what is due now (one batch)."""
        report = DispatchReport()
        await self._settle_abandoned(report)
        now = self.clock()
        async with self.sessions() as session:
            due = (
                await session.scalars(
                    select(SmsMessage.id).where(self._due(now)).order_by(SmsMessage.id).limit(self.batch_size)
                )
            ).all()
        for message_id in due:
            message = await self._claim(message_id, report)
            if message is not None:
                await self._post(message, report)
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

    def _due(self, now: datetime) -> ColumnElement[bool]:
        """Queued, or scheduled and its `send_at` (its `next_attempt_at`) has come."""
        return and_(
            SmsMessage.status.in_(("queued", "scheduled")),
            SmsMessage.next_attempt_at <= now,
            SmsMessage.locked_until.is_(None),
        )

    async def _settle_abandoned(self, report: DispatchReport) -> None:
        """Messages whose lease ran out while `queued`: their dispatcher stopped while posting them."""
        now = self.clock()
        abandoned = and_(SmsMessage.status == "queued", SmsMessage.locked_until < now)
        why = "the dispatcher stopped while posting it"
        async with writing(self.sessions) as session:
            if self.provider.idempotent:
                # Due again, at once: posted again below with the same key, which the provider drops if it took
                # the first post. `attempts` already counts that post; one that was the last is not repeated.
                await session.execute(
                    update(SmsMessage)
                    .where(abandoned, SmsMessage.attempts < self.retry.max_attempts)
                    .values(locked_until=None, updated_at=now)
                )
                last_error = f"outcome unknown: {why}, on its last attempt"
            else:
                last_error = self._outcome_unknown(why)
            failed = (
                await session.scalars(
                    update(SmsMessage)
                    .where(abandoned)
                    .values(status="failed", locked_until=None, updated_at=now, last_error=last_error)
                    .returning(SmsMessage.id)
                )
            ).all()
        report.failed += len(failed)
        report.message_ids.extend(failed)

    async def _claim(self, message_id: int, report: DispatchReport) -> SmsMessage | None:
        """Claim a due message for the post about to be made: lease and attempt count, committed before the
        post. None when another dispatcher took it first, or when it may no longer be sent (then it fails)."""
        now = self.clock()
        async with writing(self.sessions) as session:
            row = (
                await session.execute(
                    select(SmsMessage.phone, SmsMessage.marketing).where(SmsMessage.id == message_id)
                )
            ).one_or_none()
            refusal = None if row is None else await self._refusal(session, row.phone, row.marketing)
            values: dict[str, Any] = (
                {"status": "failed", "last_error": refusal}
                if refusal is not None
                else {"status": "queued", "locked_until": now + self.lease, "attempts": SmsMessage.attempts + 1}
            )
            message: SmsMessage | None = await session.scalar(
                update(SmsMessage)
                .where(SmsMessage.id == message_id, self._due(now))
                .values(updated_at=now, **values)
                .returning(SmsMessage)
            )
        if message is None:
            return None
        report.message_ids.append(message_id)
        if refusal is not None:
            report.failed += 1
            return None
        return message

    @staticmethod
    async def _refusal(session: AsyncSession, phone: str, marketing: bool) -> str | None:
        """Why a message queued earlier may no longer be delivered: an opt-out, or consent revoked since."""
        if await is_opted_out(session, phone):
            return "the number opted out before delivery"
        if marketing and not await has_marketing_consent(session, phone):
            return "the written consent to marketing texts was revoked before delivery"
        return None

    async def _post(self, message: SmsMessage, report: DispatchReport) -> None:
        sms = OutboundSms(message.id, message.phone, message.body, f"salesboost-sms-{message.id}")
        try:
            receipt = await self.provider.send(sms)
        except DeliveryError as exc:
            if exc.outcome_unknown and not self.provider.idempotent:
                await self._finish(message.id, status="failed", last_error=self._outcome_unknown(str(exc)))
                report.failed += 1
            elif exc.transient and message.attempts < self.retry.max_attempts:
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
            sender=self.provider.sender, messaging_service_sid=self.provider.messaging_service_sid,
            provider_message_id=receipt.provider_message_id, sent_at=now,
            delivered_at=now if receipt.status == "delivered" else None,
        )
        report.sent += 1

    def _outcome_unknown(self, why: str) -> str:
        return (
            f"outcome unknown: {why}; not posted again: the {self.provider.name!r} provider is not known to drop a "
            "repeated idempotency key (SALESBOOST_SMS_HTTP_IDEMPOTENT), so a second post could text twice; check "
            "the provider's log"
        )

    async def _finish(self, message_id: int, **values: Any) -> None:
        async with writing(self.sessions) as session:
            await session.execute(
                update(SmsMessage)
                .where(SmsMessage.id == message_id)
                .values(locked_until=None, updated_at=self.clock(), **values)
            )


# The provider's delivery states (Twilio's `MessageStatus`) -> ours; None: in progress, nothing to record.
_DELIVERY_STATES: dict[str, str | None] = {
    "accepted": None, "scheduled": None, "queued": None, "sending": None,
    "sent": "sent", "delivered": "delivered", "read": "delivered",
    "undelivered": "failed", "failed": "failed", "canceled": "failed",
}
# What a provider's error code means, for `last_error` (Twilio's codes; others are named by number).
PROVIDER_ERRORS: dict[str, str] = {
    "21211": "invalid 'To' number",
    "21610": "the recipient opted out at the provider (replied STOP)",
    "21614": "the 'To' number is not a mobile number",
    "30003": "unreachable handset",
    "30004": "message blocked",
    "30005": "unknown destination handset",
    "30006": "landline or unreachable carrier",
    "30007": "filtered by the carrier as spam",
}
OPTED_OUT_AT_PROVIDER = "21610"
# A later state never moves a message back: a `sent` callback arriving after `delivered` changes nothing.
_RANK = {"scheduled": 0, "queued": 0, "sent": 1, "delivered": 2, "failed": 3}


async def record_delivery_status(
    sessions: async_sessionmaker[AsyncSession],
    provider_message_id: str,
    status: str,
    now: datetime,
    error_code: str | None = None,
) -> SmsMessage | None:
    """Apply a provider's status callback to the message it names; None for an unknown id (`ValueError` for an
    unknown status). A failure keeps the provider's reason in `last_error`; error 21610 (the recipient opted
    out at the provider) is recorded as an opt-out by the caller (`inbound.opt_out`)."""
    if status not in _DELIVERY_STATES:
        raise ValueError(f"unknown delivery status {status!r}; known: {', '.join(_DELIVERY_STATES)}")
    mapped = _DELIVERY_STATES[status]
    async with writing(sessions) as session:
        message = await session.scalar(
            select(SmsMessage).where(SmsMessage.provider_message_id == provider_message_id).with_for_update()
        )
        if message is None or mapped is None or _RANK[mapped] <= _RANK[message.status]:
            return message
        message.status, message.updated_at = mapped, now
        if mapped == "delivered":
            message.delivered_at = now
        if mapped == "failed":
            reason = PROVIDER_ERRORS.get(error_code or "", f"provider error {error_code}" if error_code else status)
            message.last_error = f"{status} at the provider: {reason}"
        return message
