"""The bandit's statistics stores: the Redis one applies exactly the in-process one's update, atomically, and two
executors on one Redis learn together."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from redis.asyncio import Redis

from salesboost.state.bandit import LocalBanditStore, RedisBanditStore
from salesboost.tools.selection import ContextEncoder, SelectionContext

features = ContextEncoder(["coach", "sdr"], ["discovery", "closing"]).features


@pytest.fixture
async def redis_key(redis_url: str) -> AsyncIterator[str]:
    key = f"test:bandit:{uuid.uuid4().hex}"
    yield key
    client = Redis.from_url(redis_url)
    await client.delete(key)
    await client.aclose()


@pytest.mark.redis
async def test_redis_applies_the_same_update_as_memory(redis_url: str, redis_key: str) -> None:
    local, shared = LocalBanditStore(), RedisBanditStore(Redis.from_url(redis_url), redis_key)
    rng = np.random.default_rng(7)
    try:
        for i in range(30):
            x = features(["coach", "sdr"][i % 2], SelectionContext(stage="closing", payload_size=i * 100), i % 24)
            arm = ["a", "b", "c"][int(rng.integers(3))]
            r = float(rng.uniform(-0.5, 1.0))
            for store in (local, shared):
                await store.update(arm, r, x, ["a", "b", "c"], 0.97)
        await shared.update("a", 1.0, None, ["a"], 0.97)  # epsilon-greedy's update: counts only
        await local.update("a", 1.0, None, ["a"], 0.97)
        mine, theirs = await local.snapshot(), await shared.snapshot()
        assert set(mine) == set(theirs) == {"a", "b", "c"}
        for name in mine:
            assert theirs[name].pulls == mine[name].pulls
            assert theirs[name].reward_sum == pytest.approx(mine[name].reward_sum, abs=1e-9)
            np.testing.assert_allclose(theirs[name].a, mine[name].a, rtol=1e-9, atol=1e-9)  # type: ignore[arg-type]
            np.testing.assert_allclose(theirs[name].b, mine[name].b, rtol=1e-9, atol=1e-9)  # type: ignore[arg-type]
        read = await shared.read(["a", "never"])
        assert read["never"].pulls == 0
        assert read["never"].a is None
        assert read["a"].pulls == mine["a"].pulls
    finally:
        await shared.aclose()


@pytest.mark.redis
async def test_concurrent_updates_are_not_lost(redis_url: str, redis_key: str) -> None:
    stores = [RedisBanditStore(Redis.from_url(redis_url), redis_key) for _ in range(4)]
    x = features("coach", SelectionContext(), 12)
    try:
        await asyncio.gather(*(s.update("a", 0.5, x, ["a", "b"], 1.0) for s in stores for _ in range(25)))
        arm = (await stores[0].read(["a"]))["a"]
        assert arm.pulls == 100
        assert arm.reward_sum == pytest.approx(50.0)
        assert arm.a is not None
        np.testing.assert_allclose(arm.a, np.identity(len(x)) + 100 * np.outer(x, x), rtol=1e-9)
    finally:
        for s in stores:
            await s.aclose()


@pytest.mark.redis
async def test_two_executors_share_their_statistics(make_executor: Any, redis_url: str, redis_key: str) -> None:
    settings = {"bandit_enabled": True, "bandit_epsilon": 0.0, "redis_url": redis_url, "bandit_redis_key": redis_key}
    one, two = make_executor(**settings), make_executor(**settings)
    assert one.bandit is not two.bandit
    choice = await one.select_tool(["lookup", "echo"], "coach")
    assert choice.tool == "lookup"  # untried first
    await one.execute("lookup", {"key": "missing"}, "coach", tool_call_id=choice.tool_call_id)
    await one.bandit.flush()
    # The other executor knows lookup was tried (and failed): it tries echo, then both prefer echo.
    other = await two.select_tool(["lookup", "echo"], "coach")
    assert other.tool == "echo"
    await two.execute("echo", {"text": "x"}, "coach", tool_call_id=other.tool_call_id)
    await two.bandit.flush()
    assert (await one.select_tool(["lookup", "echo"], "coach")).tool == "echo"
    stats = await one.bandit.statistics()
    assert stats["store"] == "redis"
    assert {name: arm["pulls"] for name, arm in stats["arms"].items()} == {"lookup": 1, "echo": 1}
    assert stats == await two.bandit.statistics()


async def test_an_unreachable_redis_costs_the_learning_not_the_calls(make_executor: Any) -> None:
    ex = make_executor(bandit_enabled=True, redis_url="redis://127.0.0.1:1/0")
    choice = await ex.select_tool(["lookup", "echo"], "coach")
    assert choice.tool == "lookup"  # chosen without statistics: untried first
    result = await ex.execute("lookup", {"key": "known"}, "coach", tool_call_id=choice.tool_call_id)
    assert result.ok
    await ex.bandit.flush()  # the update failed, logged, and nothing raised
    stats = await ex.bandit.statistics()
    assert (stats["store"], stats["available"], stats["arms"]) == ("redis", False, {})
