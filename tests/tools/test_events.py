"""The event bus: fan-out by session, bounded queues, slow subscribers dropped."""

from __future__ import annotations

from salesboost.tools.events import EventBus, status_event


def test_event_shape() -> None:
    event = status_event({"status": "started"})
    assert event["event"] == "tool_status"
    assert event["data"] == {"status": "started"}
    assert event["timestamp"].endswith("Z")
    assert len(event["timestamp"]) == len("2026-11-24T10:00:00.000Z")


async def test_slow_subscriber_is_dropped_without_blocking() -> None:
    bus = EventBus(queue_size=2)
    slow = bus.subscribe(frozenset({"s"}))
    fast = bus.subscribe(frozenset({"s"}))
    for i in range(3):
        bus.publish({"n": i}, "s")
        if i < 2:
            await fast.get()
    assert slow.dropped
    assert slow.closed
    assert not fast.dropped
    assert bus.subscriber_count == 1
    assert [e async for e in _take(slow, 2)] == [{"n": 0}, {"n": 1}]  # what it had queued is still readable


async def _take(sub: object, n: int):  # type: ignore[no-untyped-def]
    for _ in range(n):
        yield await sub.get()  # type: ignore[attr-defined]


async def test_subscription_iterates_until_closed() -> None:
    bus = EventBus()
    sub = bus.subscribe(None)
    bus.publish({"n": 1}, None)
    bus.publish({"n": 2}, "any")
    sub.close()
    assert [e["n"] async for e in sub] == [1, 2]
    assert not bus.wants("any")


async def test_a_subscription_for_one_caller_gets_only_that_callers_events() -> None:
    bus = EventBus()
    theirs = bus.subscribe(frozenset({"s"}), caller="key-1")
    anyones = bus.subscribe(frozenset({"s"}))
    bus.publish({"n": 1}, "s", "key-2")
    bus.publish({"n": 2}, "s", "key-1")
    bus.publish({"n": 3}, "s", None)
    theirs.close()
    anyones.close()
    assert [e["n"] async for e in theirs] == [2]
    assert [e["n"] async for e in anyones] == [1, 2, 3]
