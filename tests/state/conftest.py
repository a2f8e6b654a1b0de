"""Executors over the test tools whose state is in Redis, two of them sharing it as two replicas would."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as redis

from salesboost.assembly import create_backends
from salesboost.config import Settings
from salesboost.tools.executor import ToolExecutor
from sample_tools import make_registry, private_executor

Replicas = Callable[..., tuple[ToolExecutor, ToolExecutor]]


@pytest.fixture
def prefix() -> str:
    """Keys of their own, so tests (and other runs on the same Redis) never meet."""
    return f"test-{uuid.uuid4().hex[:10]}:"


@pytest.fixture
async def replicas(settings: Settings, redis_url: str, prefix: str) -> AsyncIterator[Replicas]:
    """`replicas(**settings)`: two executors over one Redis prefix, each with its own backends, connection pool,
    events listener and local fallback, as two processes would have; the prefix's keys are deleted afterwards."""
    made: list[ToolExecutor] = []

    def make(**overrides: object) -> tuple[ToolExecutor, ToolExecutor]:
        shared = settings.model_copy(
            update={"redis_url": redis_url, "redis_prefix": prefix, "redis_retry_seconds": 0.2,
                    "redis_timeout": 5.0, **overrides}
        )
        a, b = (private_executor(make_registry(create_backends(shared))) for _ in range(2))
        made.extend((a, b))
        return a, b

    yield make
    for executor in made:
        await executor.aclose()
    client = redis.Redis.from_url(redis_url)
    keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()
