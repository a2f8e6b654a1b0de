"""Timestamps read back from the database: SQLite returns them without a zone, PostgreSQL with one."""

from __future__ import annotations

from datetime import UTC, datetime


def as_utc(value: datetime) -> datetime:
    """The timestamp as an aware UTC datetime (every timestamp we store is UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
