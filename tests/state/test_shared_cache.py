"""The result cache shared on Redis: a hit across replicas, invalidation across replicas, shared statistics,
and the per-tool bound."""

from __future__ import annotations

from shared_state import Replicas


async def test_a_result_cached_by_one_replica_is_a_hit_on_the_other(replicas: Replicas) -> None:
    a, b = replicas()
    first = await a.execute("echo", {"text": "hi", "times": 2}, "coach")
    assert first.ok
    assert not first.cached
    hit = await b.execute("echo", {"text": "hi", "times": 2}, "coach")
    assert hit.cached
    assert hit.result == first.result
    assert b.registry.get("echo").tool.runs == 0  # type: ignore[attr-defined]


async def test_a_write_on_one_replica_drops_what_the_other_cached(replicas: Replicas) -> None:
    a, b = replicas()
    await b.execute("echo", {"text": "hi"}, "coach")
    assert (await b.execute("echo", {"text": "hi"}, "coach")).cached
    await b.execute("echo", {"text": "other"}, "coach")
    update = await a.execute("actions", {"action": "update", "value": "hi"}, "admin", idempotency_key="k1")
    assert update.ok
    assert not (await b.execute("echo", {"text": "hi"}, "coach")).cached
    assert (await b.execute("echo", {"text": "other"}, "coach")).cached  # another tag: kept


async def test_statistics_add_up_across_replicas_and_each_tool_is_bounded(replicas: Replicas) -> None:
    a, b = replicas(cache_max_entries=3)
    for i in range(5):
        await (a, b)[i % 2].execute("echo", {"text": str(i)}, "coach")
    await a.execute("echo", {"text": "4"}, "coach")  # the newest: a hit
    evicted = await b.execute("echo", {"text": "0"}, "coach")  # the oldest: evicted at the fourth
    assert not evicted.cached
    stats = await a.cache.statistics()
    assert (stats["hits"], stats["misses"], stats["size"], stats["max_entries"]) == (1, 6, 3, 3)
    assert stats["evictions"] == 3
    assert stats["by_tool"]["echo"] == {"hits": 1, "misses": 6, "hit_rate": 1 / 7}
    assert await b.cache.statistics() == stats
    assert a.cache.get_statistics()["hits"] == 1  # the replica's own
