"""The SMS consent ledger: consents recorded and revoked (never deleted), and the check a marketing text needs.

A marketing text (a campaign, or `marketing: true`) needs prior express written consent for the marketing scope
on record and not revoked (the TCPA's bar for marketing texts by an automated system): `SMS_NO_CONSENT`
otherwise, when it is accepted and again when the dispatcher is about to deliver it. Transactional texts need
none here (their consent is implied by the relationship); an opt-out (STOP) still stops every text.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from salesboost.sales.crm.customers import customer_number
from salesboost.store.customers import Customer
from salesboost.store.db import writing
from salesboost.store.sms import CONSENT_SCOPES, SmsConsent
from salesboost.tools.base import ToolBackends
from salesboost.yamlfiles import load_yaml


async def record_consent(
    sessions: async_sessionmaker[AsyncSession], phone: str, scope: str, source: str, written: bool, now: datetime
) -> SmsConsent:
    """Add a consent to the ledger (`phone` E.164, `scope` marketing or transactional)."""
    if scope not in CONSENT_SCOPES:
        raise ValueError(f"scope must be one of {', '.join(CONSENT_SCOPES)}, not {scope!r}")
    consent = SmsConsent(phone=phone, scope=scope, source=source, written=written, consented_at=now)
    async with writing(sessions) as session:
        session.add(consent)
    return consent


async def revoke_consent(
    sessions: async_sessionmaker[AsyncSession], phone: str, now: datetime, by: str, scope: str | None = None
) -> int:
    """Revoke the phone's consents in force (of one scope, or all): how many were revoked."""
    async with writing(sessions) as session:
        return await revoke_in(session, phone, now, by, scope)


async def revoke_in(session: AsyncSession, phone: str, now: datetime, by: str, scope: str | None = None) -> int:
    """`revoke_consent` inside a transaction the caller holds (an inbound STOP revokes with its opt-out)."""
    query = update(SmsConsent).where(SmsConsent.phone == phone, SmsConsent.revoked_at.is_(None))
    if scope is not None:
        query = query.where(SmsConsent.scope == scope)
    result = await session.execute(query.values(revoked_at=now, revoked_by=by))
    return int(getattr(result, "rowcount", 0))


async def has_marketing_consent(session: AsyncSession, phone: str) -> bool:
    """Prior express written consent to marketing texts, on record and in force."""
    found = await session.scalar(
        select(SmsConsent.id).where(
            SmsConsent.phone == phone,
            SmsConsent.scope == "marketing",
            SmsConsent.written.is_(True),
            SmsConsent.revoked_at.is_(None),
        ).limit(1)
    )
    return found is not None


async def consents_of(session: AsyncSession, phone: str) -> Sequence[SmsConsent]:
    """The phone's ledger, oldest first."""
    return (await session.scalars(select(SmsConsent).where(SmsConsent.phone == phone).order_by(SmsConsent.id))).all()


def _read(path: Path) -> list[dict[str, Any]]:
    raw: Any = load_yaml(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict) or not isinstance(raw.get("consents"), list):
        raise ValueError(f"{path}: needs a top-level 'consents' list")
    return list(raw["consents"])


async def seed_demo_consents(backends: ToolBackends) -> str:
    """Give the demo customers the consents of `SALESBOOST_SMS_CONSENTS_FILE` (idempotent)."""
    path = backends.settings.sms_consents_file
    now = backends.clock()
    added = 0
    async with writing(backends.sessions()) as session:
        for entry in _read(path):
            phone = await session.scalar(
                select(Customer.phone).where(Customer.number == customer_number(str(entry["customer_id"])))
            )
            scope, source = str(entry["scope"]), str(entry["source"])
            if scope not in CONSENT_SCOPES:
                raise ValueError(f"{path}: {entry['customer_id']}: scope must be one of {', '.join(CONSENT_SCOPES)}")
            if phone is None:  # the customer is not loaded, or has no phone
                continue
            known = await session.scalar(
                select(SmsConsent.id).where(
                    SmsConsent.phone == phone, SmsConsent.scope == scope, SmsConsent.source == source,
                    SmsConsent.revoked_at.is_(None),
                )
            )
            if known is None:
                session.add(SmsConsent(
                    phone=phone, scope=scope, source=source, written=bool(entry["written"]), consented_at=now
                ))
                added += 1
    return f"SMS consents: {added} added from {path}"
