"""Quiet hours: the next moment a text may reach its recipient, in the recipient's local time.

The time zones come from the number (`phonenumbers`' timezone data). A number may map to several (an Alaska
number to Anchorage and Adak): the moment must be inside the window in every one of them. The window is data
(`data/sms/quiet_hours.yaml`): a default (the TCPA's 8:00 to 21:00) and stricter ones for countries or states,
a state told from the number's geocoding description. A number with no known zone is read in the fallback
zone (`SALESBOOST_SMS_TIMEZONE`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
import yaml

from salesboost.clock import local_zone
from salesboost.yamlfiles import load_yaml

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Far enough to find a window for any zones whose windows overlap at all (the rules repeat weekly).
_SEARCH_DAYS = 8


class QuietHoursError(ValueError):
    """The quiet-hours file is malformed (raised at start-up, naming the entry)."""


@dataclass(frozen=True, slots=True)
class Window:
    start: time
    end: time


@dataclass(frozen=True, slots=True)
class Week:
    """The window of each weekday (Monday first); None: no texts that day."""

    days: tuple[Window | None, ...]
    name: str  # the entry it came from: "default", "US-FL", ...

    def window(self, day: date) -> Window | None:
        return self.days[day.weekday()]


@dataclass(frozen=True, slots=True)
class Recipient:
    """Where a number's texts land: its zones and the sending hours that apply there."""

    zones: tuple[ZoneInfo, ...]
    week: Week


class QuietHours:
    def __init__(self, default: Week, regions: dict[str, tuple[frozenset[str], Week]], fallback: ZoneInfo) -> None:
        self.default = default
        self.regions = regions
        self.fallback = fallback

    @classmethod
    def load(cls, path: Path, fallback: ZoneInfo) -> QuietHours:
        try:
            data: Any = load_yaml(path.read_text(encoding="utf-8"))
            default = _week(data["default"], "default")
            regions = {
                str(key): (frozenset(str(m) for m in entry.get("match", [])), _week(entry, str(key)))
                for key, entry in (data.get("regions") or {}).items()
            }
        except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError, ValueError) as exc:
            raise QuietHoursError(f"{path}: {exc}") from None
        return cls(default, regions, fallback)

    def recipient(self, e164: str, zone: ZoneInfo | None = None) -> Recipient:
        """Where the number's texts land: in `zone` when the customer's own is known, else in every zone the
        number maps to ("Etc/Unknown" when it maps to none: then the fallback)."""
        # The geocoder's and time zones' data cost about 0.3 s to import: only a process that sends texts pays it.
        from phonenumbers import timezone as number_zones

        number = phonenumbers.parse(e164)
        if zone is not None:
            return Recipient((zone,), self._week_for(number))
        zones = tuple(z for name in number_zones.time_zones_for_number(number) if (z := local_zone(name)) is not None)
        return Recipient(zones or (self.fallback,), self._week_for(number))

    def _week_for(self, number: phonenumbers.PhoneNumber) -> Week:
        from phonenumbers import geocoder

        country = phonenumbers.region_code_for_number(number) or ""
        place = str(geocoder.description_for_number(number, "en"))
        code = place.rsplit(", ", 1)[1] if ", " in place else None
        for key, (names, week) in self.regions.items():
            if key.startswith(f"{country}-") and (place in names or (code is not None and code in names)):
                return week
        entry = self.regions.get(country)
        return entry[1] if entry is not None else self.default

    def next_allowed(self, recipient: Recipient, moment: datetime) -> datetime | None:
        """`moment` when it is inside the window in every zone of the recipient, else the first moment after it
        that is; None when the zones' windows never overlap (no such moment within a week)."""
        if self._allowed(recipient, moment):
            return moment
        # The allowed moments are an intersection of windows, so the first one is some zone's opening time.
        openings = sorted(
            opening
            for zone in recipient.zones
            for offset in range(-1, _SEARCH_DAYS)
            if (opening := self._opening(recipient.week, zone, moment.astimezone(zone).date() + timedelta(offset)))
            is not None and opening > moment
        )
        return next((o.astimezone(UTC) for o in openings if self._allowed(recipient, o)), None)

    def _allowed(self, recipient: Recipient, moment: datetime) -> bool:
        for zone in recipient.zones:
            local = moment.astimezone(zone)
            window = recipient.week.window(local.date())
            if window is None or not window.start <= local.time().replace(tzinfo=None) < window.end:
                return False
        return True

    @staticmethod
    def _opening(week: Week, zone: ZoneInfo, day: date) -> datetime | None:
        window = week.window(day)
        return None if window is None else datetime.combine(day, window.start, tzinfo=zone)


def _window(value: Any, where: str) -> Window | None:
    if value is None:
        return None
    start, end = time.fromisoformat(str(value["start"])), time.fromisoformat(str(value["end"]))
    if not start < end:
        raise ValueError(f"{where}: start {start} must come before end {end}")
    return Window(start, end)


def _week(entry: Any, name: str) -> Week:
    every_day = _window(entry["hours"], f"{name}.hours")
    days = tuple(_window(entry[day], f"{name}.{day}") if day in entry else every_day for day in WEEKDAYS)
    return Week(days, name)
