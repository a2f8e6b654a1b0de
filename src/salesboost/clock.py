"""UTC time, the one way: now, a stored timestamp read back, and the event stamp (milliseconds and `Z`); and a
local time zone by its IANA name."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """The timestamp as an aware UTC datetime: SQLite hands stored ones back without a zone (all are UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso_stamp(moment: datetime | None = None) -> str:
    """`2026-11-24T10:00:00.000Z`: UTC with milliseconds (now when no moment is given)."""
    return as_utc(moment or utcnow()).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def local_zone(name: str) -> ZoneInfo | None:
    """The IANA time zone of that name; None for a name the zone database does not know ("Etc/Unknown", "Mars")."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
