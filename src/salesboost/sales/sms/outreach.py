"""SMS outreach on the database: accepting a message into the outbox, history and campaign numbers.

Accepting is one transaction: the per-phone counter of the local day is bumped with a conditional UPDATE
(`count < limit`), and the outbox row is written beside it, so two racing sends can never both be the
sixth and a crash can never count a message it did not queue. Its first statement is a write (the claim on
the idempotency key, else the counter's row), which on SQLite takes the database's write lock before anything
is read (PostgreSQL locks the counter row instead). A send with a key is accepted once (`sales.replay`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from salesboost.sales.replay import Claim, run_once
from salesboost.sales.sms.codes import SMS_DAILY_LIMIT, SMS_NO_CONSENT, SMS_OPTED_OUT
from salesboost.sales.sms.consent import has_marketing_consent
from salesboost.sales.sms.segments import SegmentCount
from salesboost.store.sms import SMS_STATUSES, SmsDailyCounter, SmsMessage, SmsOptOut
from salesboost.tools.errors import ToolDomainError


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A validated message, ready to be accepted."""

    phone: str
    body: str
    count: SegmentCount
    customer_number: int | None = None
    campaign: str | None = None
    marketing: bool = False  # needs written consent to marketing texts
    send_at: datetime | None = None  # later than now: held as `scheduled` until then


@dataclass(frozen=True, slots=True)
class Accepted:
    message: SmsMessage
    duplicate: bool
    sent_today: int | None  # None for a duplicate: it counted when it was first accepted


def local_day(moment: datetime, zone: ZoneInfo) -> date:
    """The calendar day of `moment` where the daily limit is counted."""
    return moment.astimezone(zone).date()


def _insert_ignore(session: AsyncSession, phone: str, day: date) -> Any:
    if session.get_bind().dialect.name == "sqlite":
        insert: Any = sqlite_insert
    else:  # imported here: a process on SQLite never loads PostgreSQL's dialect (about 30 ms at start-up)
        from sqlalchemy.dialects.postgresql import insert
    return insert(SmsDailyCounter).values(phone=phone, day=day, count=0).on_conflict_do_nothing()


async def accept(
    sessions: async_sessionmaker[AsyncSession],
    out: Outgoing,
    claim: Claim | None,
    now: datetime,
    zone: ZoneInfo,
    daily_limit: int,
) -> Accepted:
    """Queue the message (or schedule it for `out.send_at`), or replay the first one sent with its key;
    `SMS_OPTED_OUT` / `SMS_DAILY_LIMIT`. The daily limit counts the day it will be sent."""
    due = out.send_at if out.send_at is not None and out.send_at > now else now
    day = local_day(due, zone)

    async def queue(session: AsyncSession) -> tuple[Accepted, str]:
        await session.execute(_insert_ignore(session, out.phone, day))
        if await session.get(SmsOptOut, out.phone) is not None:
            raise ToolDomainError(
                SMS_OPTED_OUT,
                "this number has opted out of text messages (it replied STOP); do not contact it by SMS",
                details={"phone": out.phone},
            )
        if out.marketing and not await has_marketing_consent(session, out.phone):
            raise ToolDomainError(
                SMS_NO_CONSENT,
                "a marketing text needs the recipient's prior express written consent on record, and this number "
                "has none in force; send it without campaign/marketing only if it is not marketing, or record "
                "the consent first (salesboost sms consent, POST /api/v1/sms/consents)",
                details={"phone": out.phone},
            )
        counted = await session.scalar(
            update(SmsDailyCounter)
            .where(
                SmsDailyCounter.phone == out.phone,
                SmsDailyCounter.day == day,
                SmsDailyCounter.count < daily_limit,
            )
            .values(count=SmsDailyCounter.count + 1)
            .returning(SmsDailyCounter.count)
        )
        if counted is None:
            raise ToolDomainError(
                SMS_DAILY_LIMIT,
                f"this number already got {daily_limit} messages today ({day.isoformat()}, {zone.key}); "
                "try again tomorrow",
                details={"phone": out.phone, "day": day.isoformat(), "limit": daily_limit},
            )
        message = SmsMessage(
            phone=out.phone,
            customer_number=out.customer_number,
            campaign=out.campaign,
            marketing=out.marketing,
            body=out.body,
            encoding=out.count.encoding,
            segments=out.count.segments,
            characters=out.count.characters,
            status="queued" if due == now else "scheduled",
            attempts=0,
            local_day=day,
            created_at=now,
            updated_at=now,
            next_attempt_at=due,
            send_at=None if due == now else due,
        )
        session.add(message)
        await session.flush()
        return Accepted(message, duplicate=False, sent_today=int(counted)), str(message.id)

    async def first(session: AsyncSession, message_id: str) -> Accepted:
        return Accepted(await session.get_one(SmsMessage, int(message_id)), duplicate=True, sent_today=None)

    return await run_once(sessions, claim, now, queue, first)


async def is_opted_out(session: AsyncSession, phone: str) -> bool:
    return await session.get(SmsOptOut, phone) is not None


async def history(
    session: AsyncSession, *, phone: str | None, customer_number: int | None, limit: int
) -> Sequence[SmsMessage]:
    """The latest messages to a phone or a customer, newest first."""
    query = select(SmsMessage).order_by(SmsMessage.id.desc()).limit(limit)
    if phone is not None:
        query = query.where(SmsMessage.phone == phone)
    else:
        query = query.where(SmsMessage.customer_number == customer_number)
    return (await session.scalars(query)).all()


@dataclass(frozen=True, slots=True)
class CampaignStats:
    total_sent: int
    unique_recipients: int
    total_segments: int
    by_status: dict[str, int]


async def campaign_stats(session: AsyncSession, campaign: str) -> CampaignStats:
    """Every message of the campaign, whatever its status (`by_status` splits them)."""
    in_campaign = SmsMessage.campaign == campaign
    totals = (
        await session.execute(
            select(
                func.count(),
                func.count(func.distinct(SmsMessage.phone)),
                func.coalesce(func.sum(SmsMessage.segments), 0),
            ).where(in_campaign)
        )
    ).one()
    rows = await session.execute(select(SmsMessage.status, func.count()).where(in_campaign).group_by(SmsMessage.status))
    by_status = dict.fromkeys(SMS_STATUSES, 0)
    by_status.update({status: int(n) for status, n in rows.all()})
    return CampaignStats(int(totals[0]), int(totals[1]), int(totals[2]), by_status)
