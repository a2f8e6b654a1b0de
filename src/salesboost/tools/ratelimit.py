"""Per-caller, per-tool rate limits: a token bucket refilled continuously (O(1) per call), which refuses."""

from __future__ import annotations

import time
from collections.abc import Callable

from salesboost.tools.base import RateLimit
from salesboost.tools.errors import ToolRateLimitedError


class RateLimiter:
    """In-process token buckets keyed by (tool, caller)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[tuple[str, str], list[float]] = {}  # key -> [tokens, updated_at]

    def check(self, tool: str, caller: str, limit: RateLimit) -> None:
        """Take a token, or refuse with `ToolRateLimitedError` saying when one is free."""
        wait = self.acquire(tool, caller, limit)
        if wait:
            raise ToolRateLimitedError(
                f"{tool} allows {limit.calls} calls per {limit.per_seconds:g} s; retry after {wait:.1f} s",
                details={"retry_after": round(wait, 3)},
            )

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
