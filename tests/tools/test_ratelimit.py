from __future__ import annotations

import pytest

from salesboost.assembly import build_runtime
from salesboost.config import DATA_DIR, Settings
from salesboost.tools.base import RateLimit
from salesboost.tools.errors import ToolRateLimitedError
from salesboost.tools.ratelimit import RateLimiter, load_rate_limits


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


def test_a_role_may_have_its_own_limit_or_none() -> None:
    limiter = RateLimiter(roles={("t", "admin"): RateLimit(calls=3, per_seconds=10), ("t", "npc"): None})
    limit = RateLimit(calls=1, per_seconds=10)
    limiter.check("t", "key-coach", "coach", limit)
    with pytest.raises(ToolRateLimitedError) as refused:
        limiter.check("t", "key-coach", "coach", limit)
    assert refused.value.details == {"retry_after": 10.0, "limit": 1, "remaining": 0, "window_seconds": 10.0}
    for _ in range(3):
        limiter.check("t", "key-admin", "admin", limit)
    with pytest.raises(ToolRateLimitedError):
        limiter.check("t", "key-admin", "admin", limit)
    for _ in range(10):
        limiter.check("t", "key-npc", "npc", limit)  # unlimited


def test_the_default_limits_are_the_original_designs() -> None:
    limits = load_rate_limits(DATA_DIR / "rate_limits.yaml")
    assert {name: (lim.calls, lim.per_seconds) for name, lim in limits.tools.items() if lim is not None} == {
        "knowledge_retriever": (10, 60), "crm_integration": (5, 60), "sms_outreach": (20, 3600),
        "compliance_check": (15, 60), "profile_reader": (20, 60), "price_calculator": (30, 60),
        "stage_classifier": (10, 60), "competitor_analysis": (5, 60),
    }
    assert limits.roles == {}


async def test_the_registry_takes_the_limits_file_and_a_refusal_is_a_failed_event(settings: Settings) -> None:
    runtime = build_runtime(settings.model_copy(update={"rate_limits_file": DATA_DIR / "rate_limits.yaml"}))
    try:
        entry = runtime.registry.lookup("competitor_analysis")
        assert entry is not None
        assert entry.policy.rate_limit == RateLimit(calls=5, per_seconds=60)
        events: list[dict[str, object]] = []
        results = [
            await runtime.executor.execute(
                "competitor_analysis", {"competitor_name": "CompetitorA"}, "coach", events.append
            ) for _ in range(6)
        ]
        assert [r.ok for r in results] == [True] * 5 + [False]
        assert events[-1]["status"] == "failed"
        assert events[-1]["error_code"] == "TOOL_RATE_LIMITED"
    finally:
        await runtime.aclose()
