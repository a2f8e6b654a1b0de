"""Session ownership: which API key owns each session id, durably, so that no restart and no other replica
forgets it (the rule that uses it: `salesboost.api.sessions`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from salesboost.store.base import Base


class SessionOwner(Base):
    """One row per claimed session; never updated, so a cached owner never goes stale."""

    __tablename__ = "session_owners"

    session_id: Mapped[str] = mapped_column(String(128), primary_key=True)  # the API's longest session id
    key_id: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    # A key's sessions (the activity's filter) and its new sessions of a window (the per-key limit).
    __table_args__ = (Index("ix_session_owners_key_id_created_at", "key_id", "created_at"),)
