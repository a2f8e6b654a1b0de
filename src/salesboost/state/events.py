"""Status events fanned out to every replica through Redis pub/sub.

Why pub/sub and not Streams: a WebSocket subscriber wants the events from the moment it subscribed, live, and
nothing it missed (the contract has no replay); pub/sub delivers exactly that with no state left in Redis,
where a stream would need trimming, read positions per replica, and would keep customer previews on disk.

Each replica delivers its own calls' events to its own subscribers at once, as without Redis, and publishes
them on one channel, tagged with the replica's id; every other replica hands them to its subscribers. Order
per call holds end to end: one task publishes this replica's events in the order they were emitted (a batch
per round trip, on one connection), Redis delivers a channel's messages in order, and one task per replica
reads them. While Redis does not answer, events stay local (counted as `events` fallbacks) and the listener
subscribes again once it answers.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from typing import Any

import orjson

from salesboost.state.redis import ERRORS, SharedRedis
from salesboost.tools.events import EventBus, Subscription

log = logging.getLogger(__name__)


class RedisEventBus(EventBus):
    """`tools.events.EventBus` whose events reach the subscribers of every replica."""

    def __init__(self, shared: SharedRedis, queue_size: int = 1000) -> None:
        super().__init__(queue_size)
        self.shared = shared
        self.channel = f"{shared.prefix}events"
        self.origin = os.urandom(8).hex().encode()
        self._outbox: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.listening = asyncio.Event()  # set while subscribed to the channel
        self._back = asyncio.Event()
        shared.on_up(self._resume)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # built outside a loop (a CLI command): started on first use
        self._start()

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._publisher(), name="events-publisher"),
            loop.create_task(self._listener(), name="events-listener"),
        ]

    def subscribe(self, sessions: frozenset[str] | None = None, caller: str | None = None) -> Subscription:
        if not self._tasks:
            self._start()
        return super().subscribe(sessions, caller)

    def wants(self, session_id: str | None) -> bool:
        """A subscriber on any replica may want it: always, while Redis answers."""
        return self.shared.up or super().wants(session_id)

    def publish(self, event: dict[str, Any], session_id: str | None, caller_id: str | None = None) -> None:
        if super().wants(session_id):
            super().publish(event, session_id, caller_id)
        if not self.shared.up:
            self.shared.fallback("events")
            return
        if not self._tasks:
            self._start()
        self._outbox.append(orjson.dumps([session_id, caller_id, event]))
        self._wake.set()

    async def _publisher(self) -> None:
        prefix = self.origin + b" "
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._outbox:
                batch = [self._outbox.popleft() for _ in range(min(len(self._outbox), 500))]
                try:
                    async with self.shared.client.pipeline(transaction=False) as pipe:
                        for message in batch:
                            pipe.publish(self.channel, prefix + message)
                        await pipe.execute()
                except ERRORS as exc:
                    self.shared.failed("events", exc)
                    self._outbox.clear()  # delivered locally already; the others missed them

    async def _listener(self) -> None:
        while True:
            pubsub = self.shared.client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self.listening.set()
                while True:
                    message = await pubsub.get_message(timeout=self.shared.retry_seconds)
                    if message is not None:
                        self._deliver(message["data"])
            except ERRORS as exc:
                self.listening.clear()
                self.shared.failed("events", exc)
            finally:
                self.listening.clear()
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            if not self.shared.up:  # the probe says when to come back
                self._back.clear()
                await self._back.wait()

    async def _resume(self) -> None:
        self._back.set()

    def _deliver(self, data: bytes) -> None:
        origin, _, body = data.partition(b" ")
        if origin == self.origin:
            return
        session_id, caller_id, event = orjson.loads(body)
        if super().wants(session_id):
            super().publish(event, session_id, caller_id)

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
