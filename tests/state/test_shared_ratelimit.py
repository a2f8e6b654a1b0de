"""Rate limits shared on Redis: exactly the configured number pass across replicas, decided by Redis's clock."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from salesboost.tools.base import RateLimit
from salesboost.tools.ratelimit import load_rate_limits
from shared_state import Replicas


async def test_exactly_the_limit_passes_across_two_replicas_calling_at_once(replicas: Replicas) -> None:
    a, b = replicas()
    # `limited` allows 2 per 60 s per caller: 20 calls at once, half on each replica.
    results = await asyncio.gather(*(
        (a if i % 2 else b).execute("limited", {"seconds": 0}, "coach") for i in range(20)
    ))
    assert sum(r.ok for r in results) == 2
    refused = [r.error for r in results if r.error is not None]
    assert {e.code for e in refused} == {"TOOL_RATE_LIMITED"}
    assert all(0 < e.details["retry_after"] <= 30 and e.details["limit"] == 2 for e in refused)
    # Another caller (a key id) has its own budget, on either replica.
    assert (await b.execute("limited", {"seconds": 0}, "coach", caller_id="key-1")).ok


async def test_a_role_may_have_its_own_limit(replicas: Replicas, tmp_path: Path) -> None:
    limits = tmp_path / "limits.yaml"
    limits.write_text("tools: {}\nroles:\n  admin:\n    limited: {calls: 4, per_seconds: 60}\n    echo: null\n")
    a, b = replicas(rate_limits_file=limits)
    admin = [await (a, b)[i % 2].execute("limited", {"seconds": 0}, "admin") for i in range(6)]
    assert [r.ok for r in admin] == [True] * 4 + [False] * 2
    coach = [await a.execute("limited", {"seconds": 0}, "coach") for _ in range(3)]
    assert [r.ok for r in coach] == [True, True, False]


def test_the_limits_file_names_a_bad_entry(tmp_path: Path) -> None:
    path = tmp_path / "limits.yaml"
    path.write_text("tools:\n  echo: {calls: 0}\n")
    with pytest.raises(ValueError, match=r"tools\.echo"):
        load_rate_limits(path)
    path.write_text("tools:\n  echo: {calls: 3, per_seconds: 10}\n  limited: null\n")
    assert load_rate_limits(path).tools == {"echo": RateLimit(3, 10.0), "limited": None}
