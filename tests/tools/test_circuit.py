"""`Breakers`: what trips a tool's breaker and when it lets a trial through, on a clock the test moves."""

from __future__ import annotations

from typing import Any

from salesboost.tools.executor import ToolExecutor


def clocked(make_executor: Any, threshold: int = 2, reset: float = 30.0) -> tuple[ToolExecutor, list[float]]:
    now = [1000.0]
    executor = make_executor(
        clock=lambda: now[0], circuit_failure_threshold=threshold, circuit_reset_seconds=reset
    )
    return executor, now


async def test_bad_input_domain_answers_and_refusals_never_trip_it(make_executor: Any) -> None:
    ex, _ = clocked(make_executor)
    for _ in range(5):
        await ex.execute("flaky", {"failures": -1}, "coach")  # bad input
        await ex.execute("lookup", {"key": "missing"}, "coach")  # a domain answer
        await ex.execute("flaky", {"failures": 0}, "ghost")  # an unknown role
    assert ex.circuit_state("flaky") == "closed"
    assert ex.circuit_state("lookup") == "closed"


async def test_crashes_in_a_row_open_it(make_executor: Any) -> None:
    ex, _ = clocked(make_executor, threshold=2)
    crash = {"failures": 100, "kind": "value"}
    assert (await ex.execute("flaky", crash, "coach")).error is not None
    assert (await ex.execute("lookup", {"key": "missing"}, "coach")).error is not None  # another tool's answer
    assert (await ex.execute("flaky", crash, "coach")).error is not None
    assert ex.circuit_state("flaky") == "open"  # two crashes in a row


async def test_an_answer_between_crashes_starts_the_count_again(make_executor: Any) -> None:
    ex, _ = clocked(make_executor, threshold=2)
    assert (await ex.execute("flaky", {"failures": 1, "kind": "value"}, "coach")).error is not None  # crash
    assert (await ex.execute("flaky", {"failures": 0}, "coach")).ok  # an answer
    assert (await ex.execute("flaky", {"failures": 100, "kind": "value"}, "coach")).error is not None  # crash
    assert ex.circuit_state("flaky") == "closed"


async def test_half_open_lets_one_trial_through_and_a_failed_trial_opens_it_again(make_executor: Any) -> None:
    ex, now = clocked(make_executor, threshold=1, reset=30.0)
    await ex.execute("flaky", {"failures": 100, "kind": "value"}, "coach")
    assert ex.circuit_state("flaky") == "open"
    now[0] += 30.0
    trial = await ex.execute("flaky", {"failures": 100, "kind": "value"}, "coach")
    assert trial.error is not None
    assert trial.error.code == "TOOL_EXECUTION_FAILED"  # the trial ran, and failed
    refused = await ex.execute("flaky", {"failures": 0}, "coach")
    assert refused.error is not None
    assert refused.error.code == "TOOL_CIRCUIT_OPEN"
    assert refused.error.details["retry_after"] == 30.0
