"""Inbound texts: the carrier keywords (CTIA) and the replies they get.

A text whose only word is a stop keyword (any case, punctuation ignored: "Stop.", "opt-out") opts the number
out and revokes its consents at once, in one transaction, and gets one confirmation; a second STOP gets none,
and nothing else is texted to the number (the dispatcher fails what was still queued). START, UNSTOP or YES
lift an opt-out and get a confirmation, only from a number that had opted out (a "yes" in a conversation is
no keyword then). HELP (or INFO) gets the help text, whatever the number's state. Consents revoked by STOP stay
revoked after START: marketing needs new written consent. The reply texts are data
(`SALESBOOST_SMS_REPLIES_FILE`); the webhook answers them to the provider, the CLI prints them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from salesboost.sales.sms.consent import revoke_in
from salesboost.store.db import writing
from salesboost.store.sms import SmsOptOut
from salesboost.yamlfiles import load_yaml

STOP_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
START_KEYWORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})
_NOT_A_LETTER = re.compile(r"[\W_]+")

Outcome = Literal["opted_out", "already_opted_out", "opted_in", "help", "ignored"]


@dataclass(frozen=True, slots=True)
class Replies:
    stop: str
    start: str
    help: str

    @classmethod
    def load(cls, path: Path) -> Replies:
        """The reply texts with the brand, program and contact filled in (`ValueError` names what is wrong)."""
        try:
            data: Any = load_yaml(path.read_text(encoding="utf-8"))
            fill = {key: str(data[key]) for key in ("brand", "program", "contact")}
            texts = {kind: str(data["replies"][kind]).format(**fill) for kind in ("stop", "start", "help")}
        except (OSError, yaml.YAMLError, KeyError, TypeError, IndexError, ValueError) as exc:
            raise ValueError(f"{path}: {type(exc).__name__}: {exc}") from None
        return cls(**texts)


@dataclass(frozen=True, slots=True)
class Inbound:
    outcome: Outcome
    reply: str | None  # the text to answer, if any


def keyword_of(body: str) -> str:
    """The text as a keyword: letters and digits only, upper case ("Stop!" and "opt-out" read STOP, OPTOUT)."""
    return _NOT_A_LETTER.sub("", body).upper()


async def handle_inbound(
    sessions: async_sessionmaker[AsyncSession], phone: str, body: str, now: datetime, replies: Replies
) -> Inbound:
    """Apply an inbound text from `phone` (E.164) and say what to answer."""
    keyword = keyword_of(body)
    if keyword in STOP_KEYWORDS:
        added = await opt_out(sessions, phone, now, source="inbound", keyword=keyword)
        return Inbound("opted_out", replies.stop) if added else Inbound("already_opted_out", None)
    if keyword in START_KEYWORDS:
        return Inbound("opted_in", replies.start) if await opt_in(sessions, phone) else Inbound("ignored", None)
    if keyword in HELP_KEYWORDS:
        return Inbound("help", replies.help)
    return Inbound("ignored", None)


async def opt_out(
    sessions: async_sessionmaker[AsyncSession], phone: str, now: datetime, source: str, keyword: str | None = None
) -> bool:
    """Record that `phone` (E.164) wants no more messages, revoking its consents with it; False when it had
    already opted out."""
    async with writing(sessions) as session:
        if await session.get(SmsOptOut, phone) is not None:
            return False
        session.add(SmsOptOut(phone=phone, opted_out_at=now, source=source, keyword=keyword))
        await revoke_in(session, phone, now, f"opt-out ({keyword or source})")
    return True


async def opt_in(sessions: async_sessionmaker[AsyncSession], phone: str) -> bool:
    """Lift an opt-out (the number replied START); False when there was none."""
    async with writing(sessions) as session:
        result = await session.execute(delete(SmsOptOut).where(SmsOptOut.phone == phone))
    return bool(getattr(result, "rowcount", 0))
