"""`execute_many` keeps a batch's meaning: reads side by side, a write as a barrier, a deadline, input order."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pydantic import Field

from salesboost.config import DATA_DIR
from salesboost.sales import crm
from salesboost.sales.crm.seed import seed_customers
from salesboost.tools.base import Tool, ToolBackends, ToolContext, ToolInput, ToolOutput, ToolPolicy
from salesboost.tools.executor import ToolExecutor
from salesboost.tools.permissions import load_permissions
from salesboost.tools.registry import ToolRegistry
from sample_tools import EVERYONE, private_executor


class NapInput(ToolInput):
    seconds: float = Field(ge=0)
    mark: str = ""


class NapOutput(ToolOutput):
    mark: str


class Journal:
    """When each call started and ended, by mark, on the loop's clock."""

    def __init__(self) -> None:
        self.spans: dict[str, tuple[float, float]] = {}
        self.running = self.peak = 0

    async def nap(self, args: NapInput) -> NapOutput:
        loop = asyncio.get_running_loop()
        start = loop.time()
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await asyncio.sleep(args.seconds)
        finally:
            self.running -= 1
        self.spans[args.mark] = (start, loop.time())
        return NapOutput(mark=args.mark)


class NapTool(Tool[NapInput, NapOutput]):
    """Read-only: sleeps without blocking the loop."""

    name = "nap"
    description = "Sleeps, then answers its mark."
    Input = NapInput
    Output = NapOutput
    policy = ToolPolicy(roles=EVERYONE, timeout=5.0, retry=False)

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def run(self, args: NapInput, ctx: ToolContext) -> NapOutput:
        return await self.journal.nap(args)


class StampInput(NapInput):
    action: str = Field("stamp", pattern="^(stamp|peek)$")


class StampTool(NapTool):
    """Writes with action `stamp`, reads with action `peek`: classified by the validated action."""

    name = "stamp"
    description = "Stamps (a write) or peeks (a read)."
    Input = StampInput  # type: ignore[assignment]
    policy = ToolPolicy(
        roles=EVERYONE, read_only=False, action_field="action", write_actions=frozenset({"stamp"}), timeout=5.0,
        retry=False,
    )


def with_naps(make_executor: Any, **settings: Any) -> tuple[ToolExecutor, Journal]:
    executor: ToolExecutor = make_executor(**settings)
    journal = Journal()
    executor.registry.register(NapTool(journal))
    executor.registry.register(StampTool(journal))
    return executor, journal


def nap(mark: str, seconds: float = 0.05, **extra: Any) -> dict[str, Any]:
    return {"tool": "nap", "payload": {"seconds": seconds, "mark": mark}, "tool_call_id": mark, **extra}


def stamp(mark: str, action: str = "stamp", seconds: float = 0.05) -> dict[str, Any]:
    payload = {"seconds": seconds, "mark": mark, "action": action}
    return {"tool": "stamp", "payload": payload, "tool_call_id": mark}


async def test_fifty_reads_of_100_ms_five_at_a_time_take_ten_rounds(make_executor: Any) -> None:
    executor, journal = with_naps(make_executor)
    calls = [nap(f"n{i}", 0.1) for i in range(50)]
    start = time.perf_counter()
    results = await executor.execute_many(calls, "coach", max_concurrent=5)
    elapsed = time.perf_counter() - start
    # The ideal, measured side by side on this loop: ten rounds of five 100 ms sleeps.
    start = time.perf_counter()
    for _ in range(10):
        await asyncio.gather(*(asyncio.sleep(0.1) for _ in range(5)))
    ideal = max(time.perf_counter() - start, 1.0)
    print(f"50 x 100 ms at 5: {elapsed:.3f} s; ideal {ideal:.3f} s; ratio {elapsed / ideal:.3f}")
    assert [r.tool_call_id for r in results] == [f"n{i}" for i in range(50)]
    assert all(r.ok for r in results)
    assert journal.peak == 5
    assert elapsed <= 1.15 * ideal


async def test_a_write_is_a_barrier(make_executor: Any) -> None:
    executor, journal = with_naps(make_executor)
    calls = [nap("r1"), nap("r2", 0.1), stamp("w"), nap("r3"), stamp("p", "peek"), nap("r4")]
    results = await executor.execute_many(calls, "coach", max_concurrent=5)
    assert [r.result for r in results] == [{"mark": m} for m in ("r1", "r2", "w", "r3", "p", "r4")]
    spans = journal.spans
    assert spans["w"][0] >= max(spans["r1"][1], spans["r2"][1])  # everything before the write finished first
    assert min(spans["r3"][0], spans["p"][0], spans["r4"][0]) >= spans["w"][1]  # everything after starts after
    # A peek is a read by its validated action: it ran beside the reads after the write.
    assert spans["p"][0] < spans["r3"][1]
    assert spans["r1"][0] < spans["r2"][1]  # the reads before the write ran side by side too


async def test_a_call_that_fails_validation_is_no_barrier_and_stops_nothing(make_executor: Any) -> None:
    executor, journal = with_naps(make_executor)
    calls = [
        nap("r1"),
        {"tool": "stamp", "payload": {"action": "stamp", "seconds": -1}, "tool_call_id": "bad"},
        {"tool": "nope", "payload": {}, "tool_call_id": "unknown"},
        {"tool": "flaky", "payload": {"failures": 9, "kind": "value"}, "tool_call_id": "crash"},
        nap("r2"),
    ]
    results = await executor.execute_many(calls, "coach", max_concurrent=5)
    assert [r.tool_call_id for r in results] == ["r1", "bad", "unknown", "crash", "r2"]
    assert [r.error.code if r.error else "ok" for r in results] == [
        "ok", "TOOL_INPUT_INVALID", "TOOL_NOT_FOUND", "TOOL_EXECUTION_FAILED", "ok",
    ]
    assert journal.spans["r2"][0] < journal.spans["r1"][1]  # all five ran as one step


async def test_calls_not_started_by_the_deadline_answer_timeout_without_running(make_executor: Any) -> None:
    executor, journal = with_naps(make_executor)
    calls = [nap("a", 0.1), nap("b", 0.4), stamp("w"), nap("c", 0.0), nap("d", 0.0, tool_call_id=None)]
    events: list[dict[str, Any]] = []
    results = await executor.execute_many(
        calls, "coach", max_concurrent=1, deadline_s=0.3, status_callback=events.append
    )
    assert [r.ok for r in results[:2]] == [True, True]  # a started at once, b at 0.1 s: both before 0.3 s
    for r in results[2:]:
        assert r.error is not None
        assert r.error.code == "TOOL_TIMEOUT"
        assert r.error.retryable
        assert r.error.details == {"deadline_s": 0.3, "started": False}
        assert r.audit_id  # recorded like any refused call
    assert results[4].tool_call_id.startswith("auto-")  # named, though it never ran
    assert set(journal.spans) == {"a", "b"}  # nothing past the deadline ran
    await executor.aclose()  # delivers the events
    late = {r.tool_call_id for r in results[2:]}
    assert {(e["tool_call_id"], e["status"], e.get("error_code")) for e in events if e["tool_call_id"] in late} == {
        (i, status, code) for i in late for status, code in (("started", None), ("failed", "TOOL_TIMEOUT"))
    }


async def test_parallel_off_runs_one_at_a_time(make_executor: Any) -> None:
    executor, journal = with_naps(make_executor, parallel_enabled=False)
    results = await executor.execute_many([nap(f"n{i}", 0.01) for i in range(4)], "coach", max_concurrent=4)
    assert all(r.ok for r in results)
    assert journal.peak == 1


async def crm_executor(backends: ToolBackends) -> ToolExecutor:
    registry = ToolRegistry(permissions=load_permissions(DATA_DIR / "permissions.yaml"), backends=backends)
    registry.register(crm.build(backends))
    await seed_customers(backends)
    return private_executor(registry)


async def test_a_read_after_a_write_sees_it_on_the_real_crm(backends: ToolBackends) -> None:
    """read, update, read of one customer in one batch, on SQLite and PostgreSQL: the second read sees the
    update (and the first read's cached profile does not hide it)."""
    executor = await crm_executor(backends)
    try:
        read = {"tool": "crm_integration", "payload": {"action": "read", "customer_id": "CUST002"}}
        update = {
            "tool": "crm_integration", "idempotency_key": "batch-update-1",
            "payload": {"action": "update", "customer_id": "CUST002", "data": {"stage": "closing"}},
        }
        results = await executor.execute_many([read, update, read], "admin", max_concurrent=5)
        assert all(r.ok for r in results), [r.error for r in results]
        before, written, after = (r.result["customer"] for r in results if r.result is not None)
        assert before["stage"] == "discovery"
        assert written["stage"] == "closing"
        assert after["stage"] == "closing"
        assert after["version"] == before["version"] + 1
    finally:
        await executor.aclose()
