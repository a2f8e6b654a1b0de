"""ToolCache: TTL expiry, LRU eviction order, statistics and access tracking."""

from __future__ import annotations

from salesboost.tools.cache import MISS, ToolCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_ttl_expiry() -> None:
    clock = Clock()
    cache = ToolCache(10, clock=clock)
    cache.set(("t", 1), "v", ttl=5)
    clock.now += 4.9
    assert cache.get(("t", 1)) == "v"
    clock.now += 0.2
    assert cache.get(("t", 1)) is MISS
    assert len(cache) == 0


def test_lru_evicts_least_recently_used() -> None:
    cache = ToolCache(3)
    for k in "abc":
        cache.set(("t", k), k, ttl=60)
    assert cache.get(("t", "a")) == "a"  # a is now the most recent
    cache.set(("t", "d"), "d", ttl=60)
    assert cache.get(("t", "b")) is MISS  # b was the least recently used
    assert [cache.get(("t", k)) for k in "acd"] == ["a", "c", "d"]
    assert cache.get_statistics()["evictions"] == 1


def test_without_lru_eviction_is_first_in_first_out() -> None:
    cache = ToolCache(2, lru_enabled=False)
    cache.set(("t", "a"), "a", ttl=60)
    cache.set(("t", "b"), "b", ttl=60)
    cache.get(("t", "a"))
    cache.set(("t", "c"), "c", ttl=60)
    assert cache.get(("t", "a")) is MISS
    assert cache.get(("t", "b")) == "b"


def test_statistics_by_tool() -> None:
    cache = ToolCache(10)
    cache.set(("x", 1), 1, ttl=60)
    cache.get(("x", 1))
    cache.get(("x", 2))
    cache.get(("y", 1))
    stats = cache.get_statistics()
    assert stats["hits"] == 1
    assert stats["misses"] == 2
    assert stats["hit_rate"] == 1 / 3
    assert stats["size"] == 1
    assert stats["by_tool"] == {
        "x": {"hits": 1, "misses": 1, "hit_rate": 0.5},
        "y": {"hits": 0, "misses": 1, "hit_rate": 0.0},
    }


def test_top_accessed_and_tracking_switch() -> None:
    cache = ToolCache(10)
    cache.set(("t", "a"), "a", ttl=60)
    cache.set(("t", "b"), "b", ttl=60)
    for _ in range(3):
        cache.get(("t", "b"))
    cache.get(("t", "a"))
    top = cache.get_top_accessed(1)
    assert len(top) == 1
    assert top[0]["tool"] == "t"
    assert top[0]["access_count"] == 3
    assert top[0]["key"] == "t:b"
    assert top[0]["last_accessed"] is not None
    assert top[0]["age_seconds"] >= 0
    untracked = ToolCache(10, access_tracking=False)
    untracked.set(("t", "a"), "a", ttl=60)
    untracked.get(("t", "a"))
    assert untracked.get_top_accessed(1)[0]["access_count"] == 0


def test_clear_tool_tags_and_replace() -> None:
    cache = ToolCache(10)
    cache.set(("a", 1), 1, ttl=60, tags=("customer:1",))
    cache.set(("a", 2), 2, ttl=60, tags=("customer:2",))
    cache.set(("b", 1), 3, ttl=60, tags=("customer:1",))
    assert cache.invalidate_tag("customer:1") == 2
    assert cache.invalidate_tag("customer:1") == 0
    assert len(cache) == 1
    cache.set(("a", 2), 22, ttl=60)
    assert cache.get(("a", 2)) == 22
    assert cache.invalidate_tag("customer:2") == 0  # the replaced entry dropped its old tag
    assert cache.clear_tool("a") == 1
    cache.set(("b", 9), 9, ttl=60)
    cache.clear()
    assert len(cache) == 0
