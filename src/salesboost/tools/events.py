"""Status events: their shapes, the in-process bus the WebSocket subscribes to, and callbacks.

Neither a subscriber nor a callback can slow a call: the bus only ever `put_nowait`s into bounded queues (a
subscriber whose queue is full is dropped), and a callback that suspends continues in a task of its own,
bounded by a timeout, while the call goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from salesboost.clock import iso_stamp
from salesboost.masking import preview
from salesboost.tools.call import Call
from salesboost.tools.running import step

log = logging.getLogger(__name__)

StatusCallback = Callable[[dict[str, Any]], Awaitable[None] | None]

EVENT_NAME = "tool_status"


def status_event(data: dict[str, Any]) -> dict[str, Any]:
    """The full event around a data dict, stamped now (UTC, milliseconds, `Z`)."""
    return {"event": EVENT_NAME, "data": data, "timestamp": iso_stamp()}


class Subscription:
    """A bounded queue of events for one subscriber; iterate it with `async for`."""

    def __init__(self, bus: EventBus, sessions: frozenset[str] | None, caller: str | None, maxsize: int) -> None:
        self._bus = bus
        self.sessions = sessions  # None: every session
        self.caller = caller  # None: the calls of every caller
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize)
        self.dropped = False
        self.closed = False

    def offer(self, event: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            log.warning("event subscriber too slow: dropped after %d queued events", self.queue.maxsize)
            self.dropped = True
            self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._bus.unsubscribe(self)

    async def get(self) -> dict[str, Any]:
        return await self.queue.get()

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        while not self.closed or not self.queue.empty():
            yield await self.queue.get()


class EventBus:
    """In-process fan-out of status events by session."""

    def __init__(self, queue_size: int = 1000) -> None:
        self.queue_size = queue_size
        self._by_session: dict[str, set[Subscription]] = {}
        self._everything: set[Subscription] = set()

    def subscribe(self, sessions: frozenset[str] | None = None, caller: str | None = None) -> Subscription:
        """Events of these sessions (None: of every session, for an admin or the dashboard), of the calls made by
        this caller id (None: by anyone)."""
        sub = Subscription(self, sessions, caller, self.queue_size)
        if sessions is None:
            self._everything.add(sub)
        else:
            for session in sessions:
                self._by_session.setdefault(session, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub.sessions is None:
            self._everything.discard(sub)
        else:
            for session in sub.sessions:
                subs = self._by_session.get(session)
                if subs is not None:
                    subs.discard(sub)
                    if not subs:
                        del self._by_session[session]

    @property
    def subscriber_count(self) -> int:
        return len(self._everything) + len({sub for subs in self._by_session.values() for sub in subs})

    def wants(self, session_id: str | None) -> bool:
        """Whether anybody listens to this session: lets the executor skip building events."""
        return bool(self._everything) or (session_id is not None and session_id in self._by_session)

    def publish(self, event: dict[str, Any], session_id: str | None, caller_id: str | None = None) -> None:
        targets = list(self._everything)
        if session_id is not None:
            targets.extend(self._by_session.get(session_id, ()))
        for sub in targets:
            if sub.caller is None or sub.caller == caller_id:
                sub.offer(event)


class CallbackRunner:
    """Delivers events to status callbacks in order, never letting one fail or hold up a call."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._tasks: set[asyncio.Task[None]] = set()

    def deliver(
        self, callback: StatusCallback, data: dict[str, Any], pending: asyncio.Task[None] | None
    ) -> asyncio.Task[None] | None:
        """Deliver now if the callback finishes without waiting; else in a task, after `pending`.

        Returns the task still delivering (pass it back with the call's next event), or None.
        """
        if pending is not None and not pending.done():
            return self._spawn(self._after(pending, callback, data))
        try:
            outcome = callback(data)
            if not asyncio.iscoroutine(outcome):
                return None
            done, rest = step(outcome)
        except Exception:
            log.warning("status callback failed", exc_info=True)
            return None
        return None if done else self._spawn(self._finish(rest))

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _finish(self, awaitable: Any) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                await awaitable
        except Exception:
            log.warning("status callback failed or took longer than %.1f s", self.timeout, exc_info=True)

    async def _after(self, pending: asyncio.Task[None], callback: StatusCallback, data: dict[str, Any]) -> None:
        await asyncio.wait([pending])
        try:
            outcome = callback(data)
            if asyncio.iscoroutine(outcome):
                await self._finish(outcome)
        except Exception:
            log.warning("status callback failed", exc_info=True)

    async def drain(self) -> None:
        """Wait for the callbacks still running (at most their timeout)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks))


class StatusEvents:
    """The `started`, `completed` and `failed` events of calls, delivered to the call's status callback and to
    the bus's subscribers of its session. Built only when somebody listens."""

    def __init__(self, bus: EventBus, callbacks: CallbackRunner) -> None:
        self.bus = bus
        self.callbacks = callbacks

    def started(self, call: Call) -> None:
        self._emit(
            call, {"tool_name": call.name, "status": "started", "tool_call_id": call.tool_call_id,
                   "caller_role": call.role},
        )

    def record(self, call: Call) -> None:
        """The closing event (a recorder: it runs once the outcome is known)."""
        if not call.events:
            return
        error = call.error
        data: dict[str, Any] = {
            "tool_name": call.name,
            "status": "completed" if error is None else "failed",
            "tool_call_id": call.tool_call_id,
            "caller_role": call.role,
            "latency_ms": call.latency_ms,
            "cached": call.cached,
            "retry_count": call.retries,
        }
        if error is not None:
            data["error"] = preview(error.message, 300)
            data["error_code"] = error.code
        else:
            data["result_preview"] = preview(self._describe(call))
        self._emit(call, data)

    @staticmethod
    def _describe(call: Call) -> str:
        """The tool's own line about its output model (read before it was dumped to JSON)."""
        entry, output = call.entry, call.output
        if entry is not None and output is not None:
            try:
                return entry.tool.preview(output)
            except Exception:
                log.warning("preview of %s failed", call.name, exc_info=True)
        return str(call.result)

    def _emit(self, call: Call, data: dict[str, Any]) -> None:
        if call.callback is not None:
            call.pending = self.callbacks.deliver(call.callback, data, call.pending)
        if self.bus.wants(call.session_id):
            self.bus.publish(status_event(data), call.session_id, call.caller_id)
