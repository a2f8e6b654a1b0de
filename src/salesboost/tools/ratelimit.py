"""Per-caller, per-tool rate limits: what the executor needs of a limiter, the in-process token bucket
(refilled continuously, O(1) per call), and the limits file.

The caller is the API key's id, else the role (`Call.caller`). A tool's limit is its policy's, as the limits
file (`SALESBOOST_RATE_LIMITS_FILE`) sets it for the eight tools; the file may give a role (`admin`) its own.
The Redis implementation, shared by replicas, is `state.ratelimit`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from salesboost.tools.base import RateLimit
from salesboost.tools.errors import ToolRateLimitedError
from salesboost.yamlfiles import load_yaml

# (tool, role) -> the role's own limit for the tool (None: unlimited)
RoleLimits = Mapping[tuple[str, str], RateLimit | None]


class Limiter(Protocol):
    # Whether some role has limits of its own (so a tool without a limit may still have one for that role).
    by_role: bool

    def check(
        self, tool: str, caller: str, role: str, limit: RateLimit | None
    ) -> Awaitable[None] | None:
        """Take a token or raise `ToolRateLimitedError`; an implementation that must wait (Redis) returns an
        awaitable that does so, the in-process one decides at once and returns None."""


def refusal(tool: str, limit: RateLimit, wait: float) -> ToolRateLimitedError:
    """The one refusal: `retry_after`, and what the HTTP layer turns into `RateLimit-*` headers."""
    return ToolRateLimitedError(
        f"{tool} allows {limit.calls} calls per {limit.per_seconds:g} s; retry after {wait:.1f} s",
        details={"retry_after": round(wait, 3), "limit": limit.calls, "remaining": 0,
                 "window_seconds": limit.per_seconds},
    )


class RateLimiter:
    """In-process token buckets keyed by (tool, caller)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, roles: RoleLimits | None = None) -> None:
        self._clock = clock
        self._roles = roles or None
        self.by_role = self._roles is not None
        self._buckets: dict[tuple[str, str], list[float]] = {}  # key -> [tokens, updated_at]

    def check(self, tool: str, caller: str, role: str, limit: RateLimit | None) -> None:
        """Take a token, or refuse with `ToolRateLimitedError` saying when one is free."""
        if self._roles is not None:
            limit = self._roles.get((tool, role), limit)
        if limit is None:
            return
        wait = self.acquire(tool, caller, limit)
        if wait:
            raise refusal(tool, limit, wait)

    def acquire(self, tool: str, caller: str, limit: RateLimit) -> float:
        """Take a token: 0.0 when allowed, else the seconds until one is free."""
        now = self._clock()
        key = (tool, caller)
        bucket = self._buckets.get(key)
        rate = limit.calls / limit.per_seconds
        if bucket is None:
            bucket = self._buckets[key] = [float(limit.calls), now]
        else:
            bucket[0] = min(float(limit.calls), bucket[0] + (now - bucket[1]) * rate)
            bucket[1] = now
        if bucket[0] >= 1.0:
            bucket[0] -= 1.0
            return 0.0
        return (1.0 - bucket[0]) / rate


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The limits file: per tool, for every caller; per role and tool, a role's own."""

    tools: dict[str, RateLimit | None] = field(default_factory=dict)
    roles: dict[tuple[str, str], RateLimit | None] = field(default_factory=dict)


def _limit(where: str, value: Any) -> RateLimit | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or set(value) - {"calls", "per_seconds"} or "calls" not in value:
        raise ValueError(f"{where}: expected {{calls: N, per_seconds: S}} or null, got {value!r}")
    limit = RateLimit(calls=int(value["calls"]), per_seconds=float(value.get("per_seconds", 60.0)))
    if limit.calls < 1 or limit.per_seconds <= 0:
        raise ValueError(f"{where}: calls must be at least 1 and per_seconds positive")
    return limit


def load_rate_limits(path: Path | None) -> RateLimits:
    """Read the limits file (None: no limits beyond the tools' own); a bad entry fails naming it."""
    if path is None:
        return RateLimits()
    data: Any = load_yaml(path.read_text(encoding="utf-8")) or {}
    tools = {str(name): _limit(f"{path}: tools.{name}", v) for name, v in (data.get("tools") or {}).items()}
    roles = {
        (str(name), str(role)): _limit(f"{path}: roles.{role}.{name}", v)
        for role, limits in (data.get("roles") or {}).items()
        for name, v in (limits or {}).items()
    }
    return RateLimits(tools, roles)
