"""Circuit breakers shared on Redis: tripped through one replica, open on all; one trial cluster-wide."""

from __future__ import annotations

import asyncio

from salesboost.tools.executor import ToolExecutor
from shared_state import Replicas


async def _settled(*executors: ToolExecutor) -> None:
    """The outcomes are written after the call answered: wait for those on their way."""
    for executor in executors:
        await executor.parts.breakers.drain()  # type: ignore[attr-defined]


async def test_a_breaker_tripped_on_one_replica_fails_fast_on_the_other(replicas: Replicas) -> None:
    a, b = replicas(circuit_failure_threshold=2, circuit_reset_seconds=0.5)
    for _ in range(2):  # `sleepy` times out after 0.1 s
        timed_out = await a.execute("sleepy", {"seconds": 1}, "coach")
        assert timed_out.error is not None
        assert timed_out.error.code == "TOOL_TIMEOUT"
    await _settled(a)
    fast = await b.execute("sleepy", {"seconds": 0}, "coach")
    assert fast.error is not None
    assert fast.error.code == "TOOL_CIRCUIT_OPEN"
    assert 0 < fast.error.details["retry_after"] <= 0.5
    assert b.circuit_state("sleepy") == "open"

    # Past the reset, exactly one trial passes across both replicas (it takes 50 ms, while the others ask);
    # its success closes the circuit for all.
    await asyncio.sleep(0.6)
    trials = await asyncio.gather(*((a, b)[i % 2].execute("sleepy", {"seconds": 0.05}, "coach") for i in range(6)))
    assert sum(r.ok for r in trials) == 1
    assert {r.error.code for r in trials if r.error is not None} == {"TOOL_CIRCUIT_OPEN"}
    await _settled(a, b)
    assert (await a.execute("sleepy", {"seconds": 0}, "coach")).ok
    assert (await b.execute("sleepy", {"seconds": 0}, "coach")).ok


async def test_a_failed_trial_opens_the_circuit_again_everywhere(replicas: Replicas) -> None:
    a, b = replicas(circuit_failure_threshold=1, circuit_reset_seconds=0.3, retry_enabled=False)
    assert not (await a.execute("flaky", {"failures": 99}, "coach")).ok
    await _settled(a)
    await asyncio.sleep(0.35)
    trial = await b.execute("flaky", {"failures": 99}, "coach")  # b's own tool has not failed yet: it crashes
    assert trial.error is not None
    assert trial.error.code == "TOOL_EXECUTION_FAILED"
    await _settled(b)
    again = await a.execute("flaky", {"failures": 0}, "coach")
    assert again.error is not None
    assert again.error.code == "TOOL_CIRCUIT_OPEN"
