"""Status events fanned out through Redis: a subscriber on one replica sees the calls served by the other."""

from __future__ import annotations

import asyncio

from salesboost.state.events import RedisEventBus
from shared_state import Replicas


async def test_a_subscriber_on_one_replica_receives_the_calls_of_the_other_in_order(replicas: Replicas) -> None:
    a, b = replicas()
    sub = b.events.subscribe(frozenset({"s1"}))
    assert isinstance(b.events, RedisEventBus)
    await asyncio.wait_for(b.events.listening.wait(), 5)
    for i in range(20):
        await a.execute("echo", {"text": f"t{i}"}, "coach", tool_call_id=f"c{i}", session_id="s1")
    await a.execute("echo", {"text": "elsewhere"}, "coach", session_id="s2")
    got = [await asyncio.wait_for(sub.get(), 5) for _ in range(40)]
    assert [(e["data"]["tool_call_id"], e["data"]["status"]) for e in got] == [
        (f"c{i}", status) for i in range(20) for status in ("started", "completed")
    ]
    assert sub.queue.empty()  # nothing of s2, and nothing twice


async def test_a_replica_delivers_its_own_events_once(replicas: Replicas) -> None:
    a, _ = replicas()
    sub = a.events.subscribe(frozenset({"s1"}))
    assert isinstance(a.events, RedisEventBus)
    await asyncio.wait_for(a.events.listening.wait(), 5)
    await a.execute("echo", {"text": "x"}, "coach", tool_call_id="c1", session_id="s1")
    assert [sub.queue.get_nowait()["data"]["status"] for _ in range(2)] == ["started", "completed"]
    await asyncio.sleep(0.2)  # its echo through Redis comes back, and is dropped
    assert sub.queue.empty()
