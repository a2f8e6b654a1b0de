"""Customer tables: the customers themselves and the count of them.

A customer's public id (`CUST001`) is derived from `number`, an integer the database allocates, so two
concurrent creates can never get the same id. `search_text` is the lower-cased searchable text (name,
contact, e-mail, industry), indexed by an FTS5 trigram table on SQLite and a pg_trgm GIN index on PostgreSQL
(both created by the migration).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, DateTime, Identity, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from salesboost.store.base import Base

STAGES: tuple[str, ...] = (
    "opening",
    "discovery",
    "presentation",
    "objection_handling",
    "closing",
    "follow_up",
    "won",
    "lost",
)
STAGE_CHECK = "stage IN (" + ", ".join(f"'{s}'" for s in STAGES) + ")"


class Customer(Base):
    __tablename__ = "customers"

    number: Mapped[int] = mapped_column(Integer, Identity(always=False), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    contact: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(20))
    industry: Mapped[str | None] = mapped_column(String(100))
    time_zone: Mapped[str | None] = mapped_column(String(64))  # IANA name; texts' quiet hours follow it
    stage: Mapped[str] = mapped_column(String(30))
    deal_value: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    owner: Mapped[str | None] = mapped_column(String(100))
    notes: Mapped[str | None] = mapped_column(Text)
    profile: Mapped[dict[str, Any]] = mapped_column(JSON)
    search_text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        CheckConstraint(STAGE_CHECK, name="stage"),
        CheckConstraint("deal_value >= 0", name="deal_value"),
        Index("ix_customers_phone", "phone"),
        {"sqlite_autoincrement": True},
    )
    # Every UPDATE says `WHERE version = <the version read>`: a concurrent write makes it fail, not vanish.
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy reads it from the class)


class CustomerCount(Base):
    """The one row holding how many customers there are, kept by triggers (see migration 0002)."""

    __tablename__ = "customer_counts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    total: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)
