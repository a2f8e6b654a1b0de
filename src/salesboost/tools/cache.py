"""`ToolCache`: results of read-only tools, by tool and validated input, with a TTL and an LRU bound.

Every operation is O(1) (an `OrderedDict` keeps recency). Keys come from the *validated* input, so a default
filled in by the model and the same value given explicitly share one entry. Cached values are shared between
callers: treat results as read-only. `Cache` is what the executor needs of a cache; the one shared by replicas
is `state.cache.RedisCache`.
"""

from __future__ import annotations

import heapq
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Final, Protocol

from pydantic import BaseModel


class _Miss:
    __slots__ = ()


MISS: Final = _Miss()

CacheKey = tuple[str, Hashable]


def key_for(tool: str, args: BaseModel, scope: str | None = None) -> CacheKey:
    """The key of a validated input: its field values when hashable, else its canonical JSON.

    A `scope` (the caller's role, for a tool whose answer depends on it) keeps separate entries.
    """
    body: Hashable = tuple(args.__dict__.values())
    try:
        hash(body)
    except TypeError:
        body = json.dumps(args.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return (tool, body) if scope is None else (tool, (scope, body))


class Cache(Protocol):
    """What the executor needs of a cache. The in-process one answers at once; a shared one answers `get`
    and `set` with awaitables, and holds the invalidations still on their way (`pending`, `settle`)."""

    @property
    def pending(self) -> object: ...

    async def settle(self) -> None: ...

    def get(self, key: CacheKey) -> Any:
        """(result, output), `MISS`, or (shared) an awaitable of either."""

    def set(self, key: CacheKey, value: Any, ttl: float, tags: tuple[str, ...] = ()) -> Awaitable[None] | None: ...

    def invalidate_tag(self, tag: str) -> object: ...

    def lookups(self) -> dict[str, list[int]]: ...

    def get_statistics(self) -> dict[str, Any]: ...

    async def statistics(self) -> dict[str, Any]:
        """`get_statistics()`, across every replica for a shared cache."""

    def get_top_accessed(self, limit: int = 10) -> list[dict[str, Any]]: ...


class _Entry:
    __slots__ = ("access_count", "counts", "created", "expires", "last_accessed", "tags", "value")

    def __init__(
        self, value: Any, created: float, expires: float, tags: tuple[str, ...], counts: list[int]
    ) -> None:
        self.value = value
        self.created = created
        self.expires = expires
        self.tags = tags
        self.counts = counts  # its tool's [hits, misses]: a hit counts without looking the tool up
        self.access_count = 0
        self.last_accessed: float | None = None


class ToolCache:
    def __init__(
        self,
        max_entries: int = 10_000,
        *,
        lru_enabled: bool = True,
        access_tracking: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self.lru_enabled = lru_enabled
        self.access_tracking = access_tracking
        self._clock = clock
        self._entries: OrderedDict[CacheKey, _Entry] = OrderedDict()
        self._tags: dict[str, set[CacheKey]] = {}
        self._by_tool: dict[str, list[int]] = {}  # tool -> [hits, misses]
        self._evictions = 0

    pending = ()  # nothing is ever on its way: invalidation is immediate

    async def settle(self) -> None:
        return None

    def get(self, key: CacheKey) -> Any:
        """The cached value, or `MISS`. Counts the hit or miss for the key's tool."""
        entry = self._entries.get(key)
        if entry is not None:
            now = self._clock()
            if entry.expires > now:
                entry.counts[0] += 1
                if self.lru_enabled:
                    self._entries.move_to_end(key)
                if self.access_tracking:
                    entry.access_count += 1
                    entry.last_accessed = now  # on the cache's clock; shown as wall time by get_top_accessed
                return entry.value
            self._drop(key)
        self._counts(key[0])[1] += 1
        return MISS

    def _counts(self, tool: str) -> list[int]:
        counts = self._by_tool.get(tool)
        if counts is None:
            counts = self._by_tool[tool] = [0, 0]
        return counts

    def set(self, key: CacheKey, value: Any, ttl: float, tags: tuple[str, ...] = ()) -> None:
        if key in self._entries:
            self._drop(key)
        now = self._clock()
        self._entries[key] = _Entry(value, now, now + ttl, tags, self._counts(key[0]))
        for tag in tags:
            self._tags.setdefault(tag, set()).add(key)
        while len(self._entries) > self.max_entries:
            oldest = next(iter(self._entries))
            self._drop(oldest)
            self._evictions += 1

    def lookups(self) -> dict[str, list[int]]:
        """Per tool, [hits, misses]: the one count of cache operations (the metrics read it too)."""
        return self._by_tool

    def invalidate_tag(self, tag: str) -> int:
        """Drop every entry stored with this tag; returns how many."""
        keys = self._tags.pop(tag, set())
        for key in keys:
            self._drop(key)
        return len(keys)

    def clear(self) -> None:
        self._entries.clear()
        self._tags.clear()

    def clear_tool(self, tool: str) -> int:
        keys = [k for k in self._entries if k[0] == tool]
        for key in keys:
            self._drop(key)
        return len(keys)

    def _drop(self, key: CacheKey) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        for tag in entry.tags:
            keys = self._tags.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._tags[tag]

    def __len__(self) -> int:
        return len(self._entries)

    def get_statistics(self) -> dict[str, Any]:
        hits = sum(h for h, _ in self._by_tool.values())
        misses = sum(m for _, m in self._by_tool.values())
        return {
            "hits": hits,
            "misses": misses,
            "hit_rate": hits / (hits + misses) if hits + misses else 0.0,
            "evictions": self._evictions,
            "size": len(self._entries),
            "max_entries": self.max_entries,
            "by_tool": {
                tool: {"hits": h, "misses": m, "hit_rate": h / (h + m) if h + m else 0.0}
                for tool, (h, m) in sorted(self._by_tool.items())
            },
        }

    async def statistics(self) -> dict[str, Any]:
        return self.get_statistics()

    def get_top_accessed(self, limit: int = 10) -> list[dict[str, Any]]:
        """The most-used entries (needs `access_tracking`), most accessed first."""
        now, wall = self._clock(), time.time()
        top = heapq.nlargest(limit, self._entries.items(), key=lambda item: item[1].access_count)
        return [
            {
                "key": _describe(key),
                "tool": key[0],
                "access_count": entry.access_count,
                "last_accessed": None if entry.last_accessed is None else wall - (now - entry.last_accessed),
                "age_seconds": round(now - entry.created, 3),
            }
            for key, entry in top
        ]


def _describe(key: CacheKey) -> str:
    tool, body = key
    return f"{tool}:{body}" if isinstance(body, str) else f"{tool}:{json.dumps(body, default=str)}"
