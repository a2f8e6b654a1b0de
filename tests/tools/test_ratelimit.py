from __future__ import annotations

import pytest

from salesboost.tools.base import RateLimit
from salesboost.tools.ratelimit import RateLimiter


def test_bucket_refills_continuously() -> None:
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    limit = RateLimit(calls=2, per_seconds=10)
    assert limiter.acquire("t", "a", limit) == 0.0
    assert limiter.acquire("t", "a", limit) == 0.0
    assert limiter.acquire("t", "a", limit) == 5.0  # one token every 5 s
    now[0] = 4.0
    assert limiter.acquire("t", "a", limit) == pytest.approx(1.0)
    now[0] = 5.0
    assert limiter.acquire("t", "a", limit) == 0.0
    assert limiter.acquire("t", "b", limit) == 0.0  # callers do not share a bucket
