"""`SharedRedis`: the process's one Redis connection pool, whether Redis answers, and the fallbacks.

Every Redis-backed part goes through one `SharedRedis`. An operation that fails (connection refused or
reset, a timeout) marks Redis down: from then on the parts take their local path at once, without waiting for
a connection timeout on every call, and each such decision is counted in `salesboost_state_fallbacks_total`
by component. A background probe pings Redis every `SALESBOOST_REDIS_RETRY_SECONDS` while it is down, and
the parts return to shared state by themselves once it answers (no restart).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as redis
from prometheus_client import Counter
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# What an unreachable or dying Redis raises: redis-py's own errors, and the OS's below them.
ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)

POOL_SIZE = 64

FALLBACKS = Counter(
    "salesboost_state_fallbacks_total",
    "Decisions taken locally because Redis did not answer, by component (ratelimit, circuit, cache, events).",
    ["component"],
)


class SharedRedis:
    """One connection pool, the up/down state and the reconnect probe."""

    def __init__(self, url: str, *, prefix: str = "sb:", timeout: float = 0.5, retry_seconds: float = 1.0) -> None:
        self.url = url
        self.prefix = prefix  # of every key and channel: replicas sharing state share it
        self.retry_seconds = retry_seconds
        # At most POOL_SIZE connections, reused: a burst of calls waits for one (up to `timeout`) rather than
        # opening a connection each.
        pool = redis.BlockingConnectionPool.from_url(
            url, max_connections=POOL_SIZE, timeout=timeout, socket_timeout=timeout, socket_connect_timeout=timeout,
        )
        self.client: redis.Redis = redis.Redis(connection_pool=pool)
        self.up = True
        self.fallbacks: dict[str, int] = {}
        self._probe: asyncio.Task[None] | None = None
        self._on_up: list[Callable[[], Awaitable[None]]] = []
        self._counters = {name: FALLBACKS.labels(name) for name in ("ratelimit", "circuit", "cache", "events")}

    def on_up(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run `hook` each time Redis answers again after an outage (a part resubscribes, replays, ...)."""
        self._on_up.append(hook)

    def fallback(self, component: str) -> None:
        """Count one decision taken locally."""
        self.fallbacks[component] = self.fallbacks.get(component, 0) + 1
        self._counters[component].inc()

    def failed(self, component: str, exc: BaseException) -> None:
        """An operation failed: Redis is down until the probe reaches it again."""
        self.fallback(component)
        self.down(exc)

    def down(self, exc: BaseException) -> None:
        if self.up:
            self.up = False
            log.warning("Redis at %s unreachable (%s: %s): shared state falls back to local until it answers",
                        self.redacted, type(exc).__name__, exc)
        self._start_probe()

    @property
    def redacted(self) -> str:
        """The URL without its password (it is logged)."""
        password = self.client.connection_pool.connection_kwargs.get("password")
        return self.url.replace(f":{password}@", ":***@") if password else self.url

    @property
    def status(self) -> str:
        return "ok" if self.up else f"degraded: Redis unreachable at {self.redacted}, local fallback in use"

    async def probe(self) -> str:
        """`status`, after asking Redis when it is thought up (`/readyz`)."""
        if self.up:
            try:
                await self.client.ping()
            except ERRORS as exc:
                self.down(exc)
        return self.status

    def _start_probe(self) -> None:
        if self._probe is not None and not self._probe.done():
            return
        self._probe = asyncio.get_running_loop().create_task(self._reconnect(), name="redis-probe")

    async def _reconnect(self) -> None:
        while True:
            await asyncio.sleep(self.retry_seconds)
            try:
                # The pooled connections were opened to the Redis that went away: new ones, or the first call
                # after the return would fail on a dead socket and mark Redis down again.
                await self.client.connection_pool.disconnect()
                await self.client.ping()
                for hook in self._on_up:
                    await hook()
            except ERRORS:
                continue
            break
        self.up = True
        log.warning("Redis at %s answers again: shared state resumed", self.redacted)

    def spawn(self, component: str, work: Awaitable[Any], tasks: set[asyncio.Task[Any]]) -> None:
        """Run a write nobody waits for (a recorder's), counting a failure as a fallback."""

        async def run() -> None:
            try:
                await work
            except ERRORS as exc:
                self.failed(component, exc)

        task = asyncio.get_running_loop().create_task(run())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def aclose(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
        await self.client.aclose(close_connection_pool=True)
