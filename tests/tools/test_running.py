"""A blocking tool's deadline on the thread pool: counted from when a worker takes the call; a call that found
no worker within its timeout is withdrawn as TOOL_BUSY, never run, and no breaker hears of it."""

from __future__ import annotations

from typing import Any


async def test_a_queued_call_keeps_its_whole_timeout_and_one_never_started_is_busy(make_executor: Any) -> None:
    ex = make_executor(sync_tool_threads=1, circuit_failure_threshold=2)
    calls = [{"tool": "queued", "payload": {"seconds": 0.6}} for _ in range(4)]
    first, second, third, fourth = await ex.execute_many(calls, "coach", max_concurrent=4)
    # One worker: the first runs 0.0-0.6 s, the second 0.6-1.2 s (0.2 s past the 1 s timeout since it was
    # queued, but within 1 s of starting); the other two are still queued at 1 s.
    assert first.ok
    assert second.ok
    for busy in (third, fourth):
        assert busy.error is not None
        assert busy.error.code == "TOOL_BUSY"
        assert busy.error.retryable
        assert busy.error.details["retry_after"] == 1.0
    assert ex.registry.get("queued").tool.runs == 2  # withdrawn calls never ran
    assert ex.circuit_state("queued") == "closed"


async def test_a_started_run_past_its_timeout_is_a_timeout(make_executor: Any) -> None:
    ex = make_executor(sync_tool_threads=1)
    result = await ex.execute("queued", {"seconds": 1.6}, "coach")
    assert result.error is not None
    assert result.error.code == "TOOL_TIMEOUT"
    assert 0.99 < result.latency_ms / 1000 < 1.6  # the whole timeout, not the whole run
