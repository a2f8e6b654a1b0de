"""Redis dying mid-run and coming back: calls keep answering on local state, each fallback is counted, and the
shared state resumes by itself."""

from __future__ import annotations

import asyncio

import pytest

from salesboost.assembly import create_backends
from salesboost.config import Settings
from salesboost.state.redis import SharedRedis
from salesboost.tools.executor import ToolExecutor
from sample_tools import make_registry, private_executor
from shared_state import RedisServer


def _shared(executor: ToolExecutor) -> SharedRedis:
    shared = executor.parts.shared
    assert isinstance(shared, SharedRedis)
    return shared


async def _until(condition: object, seconds: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while not condition():  # type: ignore[operator]
        assert loop.time() < end, "condition not met in time"
        await asyncio.sleep(0.05)


@pytest.fixture
async def on_server(settings: Settings, redis_server: RedisServer) -> object:
    made: list[ToolExecutor] = []

    def make(**overrides: object) -> ToolExecutor:
        s = settings.model_copy(
            update={"redis_url": redis_server.url, "redis_retry_seconds": 0.1, "redis_timeout": 2.0, **overrides}
        )
        executor = private_executor(make_registry(create_backends(s)))
        made.append(executor)
        return executor

    yield make
    for executor in made:
        await executor.aclose()


async def test_a_redis_outage_falls_back_locally_and_shared_state_resumes(
    on_server: object, redis_server: RedisServer
) -> None:
    executor: ToolExecutor = on_server()  # type: ignore[operator]
    shared = _shared(executor)
    assert (await executor.execute("echo", {"text": "a"}, "coach")).ok
    assert (await executor.execute("echo", {"text": "a"}, "coach")).cached

    redis_server.kill()
    outage = [await executor.execute("echo", {"text": "a"}, "coach") for _ in range(3)]
    assert all(r.ok and not r.cached for r in outage)  # the cache is bypassed, the calls still answer
    assert not shared.up
    assert shared.fallbacks["cache"] >= 3
    # The default `local` fallback: this replica's own bucket (`limited`: 2 per minute).
    limited = [await executor.execute("limited", {"seconds": 0}, "coach") for _ in range(3)]
    assert [r.ok for r in limited] == [True, True, False]
    assert shared.fallbacks["ratelimit"] == 3
    assert "degraded: Redis unreachable" in await shared.probe()

    redis_server.start()  # the same port, empty
    await _until(lambda: shared.up)
    assert await shared.probe() == "ok"
    assert not (await executor.execute("echo", {"text": "a"}, "coach")).cached  # a new, empty Redis
    assert (await executor.execute("echo", {"text": "a"}, "coach")).cached
    # Shared limits again: the new Redis has a fresh bucket.
    assert (await executor.execute("limited", {"seconds": 0}, "coach")).ok


@pytest.mark.parametrize(("mode", "passed"), [("fail-open", 3), ("fail-closed", 0)])
async def test_the_rate_limit_fallback_setting(
    on_server: object, redis_server: RedisServer, mode: str, passed: int
) -> None:
    executor: ToolExecutor = on_server(rate_limit_fallback=mode)  # type: ignore[operator]
    redis_server.kill()
    results = [await executor.execute("limited", {"seconds": 0}, "coach") for _ in range(3)]
    assert sum(r.ok for r in results) == passed
    for refused in (r for r in results if r.error is not None):
        assert refused.error is not None
        assert refused.error.code == "TOOL_RATE_LIMITED"
        assert "cannot be checked" in refused.error.message


async def test_invalidations_made_during_an_outage_are_replayed(on_server: object) -> None:
    """Redis kept its data (a network cut, not a restart): a tag dropped meanwhile must not come back stale."""
    a: ToolExecutor = on_server()  # type: ignore[operator]
    b: ToolExecutor = on_server()  # type: ignore[operator]
    await a.execute("echo", {"text": "hi"}, "coach")
    assert (await b.execute("echo", {"text": "hi"}, "coach")).cached
    shared = _shared(a)
    shared.failed("cache", ConnectionError("cut"))  # a believes Redis is gone; Redis keeps the entry
    assert (await a.execute("actions", {"action": "update", "value": "hi"}, "admin")).ok
    await _until(lambda: shared.up)
    assert not (await b.execute("echo", {"text": "hi"}, "coach")).cached
