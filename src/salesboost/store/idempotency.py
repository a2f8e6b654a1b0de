"""Idempotency records: the first outcome of every side-effecting call made with a key (CRM creates, SMS sends).

A record belongs to the caller that sent the key (`owner`), so the same key from two callers makes two records.
Its primary key is what makes a call happen once: see `salesboost.sales.replay`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from salesboost.store.base import Base


class IdempotencyRecord(Base):
    """What the call made (`resource_id`, in its scope), and a hash of the payload it carried."""

    __tablename__ = "idempotency_records"

    scope: Mapped[str] = mapped_column(String(100), primary_key=True)  # the tool and action, e.g. sms_outreach.send
    owner: Mapped[str] = mapped_column(String(100), primary_key=True)  # the caller's key id, or "role:<role>"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
