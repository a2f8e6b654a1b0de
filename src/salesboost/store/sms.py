"""SMS tables: the outbox (every accepted message and its delivery state), per-day counters, opt-outs.

A send writes its outbox row and bumps its counter in one transaction, so a crash can never leave a
counted message that will not be delivered, nor a queued one that was not counted. Phones are E.164.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from salesboost.store.base import Base

# `scheduled`: held until `send_at` (quiet hours, or a send asked for later); then `queued` for the dispatcher.
SMS_STATUSES: tuple[str, ...] = ("scheduled", "queued", "sent", "delivered", "failed")
STATUS_CHECK = "status IN (" + ", ".join(f"'{s}'" for s in SMS_STATUSES) + ")"


class SmsMessage(Base):
    __tablename__ = "sms_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    phone: Mapped[str] = mapped_column(String(20))
    customer_number: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("customers.number", ondelete="SET NULL")
    )
    campaign: Mapped[str | None] = mapped_column(String(100))
    # A marketing text (a campaign, or marked so): needs written consent when queued and again when delivered.
    marketing: Mapped[bool] = mapped_column(Boolean, default=False)
    body: Mapped[str] = mapped_column(Text)
    encoding: Mapped[str] = mapped_column(String(8))
    segments: Mapped[int] = mapped_column(Integer)
    characters: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer)
    provider: Mapped[str | None] = mapped_column(String(20))
    provider_message_id: Mapped[str | None] = mapped_column(String(100))
    sender: Mapped[str | None] = mapped_column(String(20))  # the number it was sent from
    messaging_service_sid: Mapped[str | None] = mapped_column(String(64))  # e.g. the 10DLC campaign's service
    last_error: Mapped[str | None] = mapped_column(Text)
    local_day: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    send_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # when a scheduled send is due
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(STATUS_CHECK, name="status"),
        Index("ix_sms_outbox_phone_id", "phone", "id"),
        Index("ix_sms_outbox_customer_number_id", "customer_number", "id"),
        Index("ix_sms_outbox_campaign", "campaign"),
        Index("ix_sms_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_sms_outbox_provider_message_id", "provider_message_id"),
    )


class SmsDailyCounter(Base):
    """Messages accepted for one phone on one local calendar day; bumped with a conditional UPDATE."""

    __tablename__ = "sms_daily_counters"

    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)

    __table_args__ = (CheckConstraint("count >= 0", name="count"),)


class SmsOptOut(Base):
    """A number that said STOP (or was opted out by an operator); removed again by START."""

    __tablename__ = "sms_opt_outs"

    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    opted_out_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(20))
    keyword: Mapped[str | None] = mapped_column(String(20))


CONSENT_SCOPES: tuple[str, ...] = ("marketing", "transactional")


class SmsConsent(Base):
    """The consent ledger: one row per consent given, never deleted; a revocation stamps `revoked_at`.

    `written` is prior express written consent (the TCPA's bar for marketing texts); `source` says where the
    consent was captured (a web form, a signed order, `demo seed`, ...)."""

    __tablename__ = "sms_consents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    phone: Mapped[str] = mapped_column(String(20))
    scope: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(200))
    written: Mapped[bool] = mapped_column(Boolean)
    consented_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        CheckConstraint("scope IN (" + ", ".join(f"'{s}'" for s in CONSENT_SCOPES) + ")", name="scope"),
        Index("ix_sms_consents_phone_scope", "phone", "scope"),
    )
