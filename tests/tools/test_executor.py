"""The executor's pipeline, through `execute()` only: every error code, retry rule, event and the envelope."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from salesboost.store.audit import ToolAuditRecord
from salesboost.tools.errors import ToolError
from salesboost.tools.executor import ToolExecutor
from salesboost.tools.result import ToolResult


def tool(executor: ToolExecutor, name: str) -> Any:
    return executor.registry.get(name).tool


async def audit_rows(executor: ToolExecutor) -> list[ToolAuditRecord]:
    assert executor.audit is not None
    await executor.audit.flush()
    async with executor.registry.backends.sessions()() as session:
        return list((await session.scalars(select(ToolAuditRecord).order_by(ToolAuditRecord.created_at))).all())


async def test_success_envelope(executor: ToolExecutor) -> None:
    result = await executor.execute("echo", {"text": "hi", "times": 2}, "coach")
    assert result.ok
    assert result.result == {"text": "hihi", "contact": "call +1 415 555 0100 or jane@example.com"}
    assert result.error is None
    assert result.tool == "echo"
    assert result.caller_role == "coach"
    assert result.tool_call_id.startswith("auto-")
    assert result.retry_count == 0
    assert not result.cached
    assert result.latency_ms >= 0
    assert result.audit_id
    # The envelope is JSON-able and round-trips.
    assert ToolResult.model_validate_json(result.model_dump_json()) == result


async def test_call_ids_are_unique_and_kept_when_given(executor: ToolExecutor) -> None:
    ids = {(await executor.execute("inline", {"seconds": 0}, "coach")).tool_call_id for _ in range(50)}
    assert len(ids) == 50
    given = await executor.execute("inline", {"seconds": 0}, "coach", tool_call_id="call-7")
    assert given.tool_call_id == "call-7"


@pytest.mark.parametrize(
    ("name", "payload", "role", "code"),
    [
        ("nope", {}, "coach", "TOOL_NOT_FOUND"),
        ("echo", {"text": "x"}, "intruder", "TOOL_FORBIDDEN"),
        ("actions", {"action": "read"}, "npc", "TOOL_FORBIDDEN"),
        ("actions", {"action": "update"}, "coach", "TOOL_FORBIDDEN"),
        ("echo", {"text": ""}, "coach", "TOOL_INPUT_INVALID"),
        ("echo", {"text": "x", "extra": 1}, "coach", "TOOL_INPUT_INVALID"),
        ("sleepy", {"seconds": 1}, "coach", "TOOL_TIMEOUT"),
        ("flaky", {"failures": 1, "kind": "value"}, "coach", "TOOL_EXECUTION_FAILED"),
        ("lookup", {"key": "missing"}, "coach", "THING_NOT_FOUND"),
    ],
)
async def test_error_codes(executor: ToolExecutor, name: str, payload: dict[str, Any], role: str, code: str) -> None:
    result = await executor.execute(name, payload, role)
    assert not result.ok
    assert result.error is not None
    assert result.error.code == code
    assert result.error.message
    assert result.result is None


async def test_disabled_tool(executor: ToolExecutor) -> None:
    executor.registry.disable("echo")
    result = await executor.execute("echo", {"text": "x"}, "coach")
    assert result.error is not None
    assert result.error.code == "TOOL_DISABLED"
    executor.registry.enable("echo")
    assert (await executor.execute("echo", {"text": "x"}, "coach")).ok


async def test_forbidden_action_names_the_action(executor: ToolExecutor) -> None:
    result = await executor.execute("actions", {"action": "update", "value": "v"}, "coach")
    assert result.error is not None
    assert "'update'" in result.error.message
    assert result.error.details == {"action": "update", "allowed_roles": ["admin"]}
    assert (await executor.execute("actions", {"action": "update", "value": "v"}, "admin")).ok


async def test_input_errors_carry_the_field_path(executor: ToolExecutor) -> None:
    result = await executor.execute("echo", {"text": "x", "times": 9}, "coach")
    assert result.error is not None
    errors = result.error.details["errors"]
    assert errors[0]["field"] == "times"
    assert "times" in result.error.message
    missing = await executor.execute("echo", None, "coach")
    assert missing.error is not None
    assert missing.error.details["errors"][0]["field"] == "text"


async def test_rate_limit_with_retry_after(executor: ToolExecutor) -> None:
    assert (await executor.execute("limited", {"seconds": 0}, "coach")).ok
    assert (await executor.execute("limited", {"seconds": 0}, "coach")).ok
    third = await executor.execute("limited", {"seconds": 0}, "coach")
    assert third.error is not None
    assert third.error.code == "TOOL_RATE_LIMITED"
    assert third.error.retryable
    assert 0 < third.error.details["retry_after"] <= 30
    # Another caller has its own bucket.
    assert (await executor.execute("limited", {"seconds": 0}, "admin")).ok


async def test_context_reaches_the_tool(executor: ToolExecutor) -> None:
    result = await executor.execute(
        "actions", {"action": "update", "value": "v"}, "admin", session_id="s1", idempotency_key="k1"
    )
    assert result.result is not None
    assert result.result["text"] == "update:admin:s1:k1"


# --- the caller's claim -------------------------------------------------------------------------------


async def test_the_claim_is_made_only_by_an_accepted_call_and_may_refuse_it(executor: ToolExecutor) -> None:
    claims: list[str] = []

    async def claim() -> None:
        claims.append("claimed")

    refused = [
        await executor.execute("nope", {}, "coach", claim=claim),
        await executor.execute("actions", {"action": "read"}, "npc", claim=claim),
        await executor.execute("echo", {"text": ""}, "coach", claim=claim),
    ]
    for _ in range(3):
        refused.append(await executor.execute("limited", {"seconds": 0}, "coach", claim=claim))
    assert [r.error.code if r.error else None for r in refused] == [
        "TOOL_NOT_FOUND", "TOOL_FORBIDDEN", "TOOL_INPUT_INVALID", None, None, "TOOL_RATE_LIMITED",
    ]
    assert claims == ["claimed", "claimed"]  # the two calls of `limited` its rate limit let through

    async def deny() -> None:
        raise ToolError("not yours", code="NOT_YOURS")

    echo = tool(executor, "echo")
    denied = await executor.execute("echo", {"text": "new"}, "coach", claim=deny, caller_id="key-1")
    assert denied.error is not None
    assert denied.error.code == "NOT_YOURS"
    assert echo.runs == 0
    [*_, row] = await audit_rows(executor)
    assert (row.error_code, row.caller_id) == ("NOT_YOURS", "key-1")


async def test_a_refused_claim_leaves_a_half_open_circuits_trial_to_the_next_call(make_executor: Any) -> None:
    now = [100.0]
    ex = make_executor(clock=lambda: now[0], circuit_failure_threshold=1, circuit_reset_seconds=30)
    assert (await ex.execute("flaky", {"failures": 100, "kind": "value"}, "coach")).error is not None
    now[0] += 30

    async def deny() -> None:
        raise ToolError("not yours", code="NOT_YOURS")

    denied = await ex.execute("flaky", {"failures": 0}, "coach", claim=deny)
    assert denied.error is not None
    assert denied.error.code == "NOT_YOURS"
    assert (await ex.execute("flaky", {"failures": 0}, "coach")).ok


# --- retry ---------------------------------------------------------------------------------------------


async def test_success_after_transient_failures_is_a_clean_success(executor: ToolExecutor) -> None:
    result = await executor.execute("flaky", {"failures": 2}, "coach")
    assert result.ok
    assert result.error is None
    assert result.retry_count == 2
    assert result.result == {"attempts": 3}
    rows = await audit_rows(executor)
    assert [(r.status, r.error_code, r.retry_count) for r in rows] == [("completed", None, 2)]


@pytest.mark.parametrize("kind", ["connection", "transient", "timeout"])
async def test_transient_failures_retry_until_attempts_run_out(executor: ToolExecutor, kind: str) -> None:
    result = await executor.execute("flaky", {"failures": 5, "kind": kind}, "coach")
    assert not result.ok
    assert result.retry_count == 2  # TOOL_RETRY_MAX_ATTEMPTS=3
    assert tool(executor, "flaky").attempts == 3
    assert result.error is not None
    assert result.error.code == ("TOOL_TIMEOUT" if kind == "timeout" else "TOOL_EXECUTION_FAILED")


async def test_bugs_and_domain_failures_are_never_retried(executor: ToolExecutor) -> None:
    bug = await executor.execute("flaky", {"failures": 1, "kind": "value"}, "coach")
    assert bug.retry_count == 0
    assert tool(executor, "flaky").attempts == 1
    domain = await executor.execute("lookup", {"key": "missing"}, "coach")
    assert domain.retry_count == 0
    assert tool(executor, "lookup").runs == 1


async def test_side_effect_is_not_retried_without_idempotency_key(executor: ToolExecutor) -> None:
    result = await executor.execute("write", {"failures": 1}, "coach")
    assert not result.ok
    assert result.retry_count == 0
    assert tool(executor, "write").attempts == 1


async def test_side_effect_is_retried_with_idempotency_key(executor: ToolExecutor) -> None:
    result = await executor.execute("write", {"failures": 1}, "coach", idempotency_key="send-1")
    assert result.ok
    assert result.retry_count == 1


async def test_retry_switched_off(make_executor: Any) -> None:
    ex = make_executor(retry_enabled=False)
    result = await ex.execute("flaky", {"failures": 1}, "coach")
    assert not result.ok
    assert result.retry_count == 0


# --- cache ---------------------------------------------------------------------------------------------


async def test_cache_hit_skips_the_tool_and_defaults_share_a_key(executor: ToolExecutor) -> None:
    first = await executor.execute("echo", {"text": "a"}, "coach")
    second = await executor.execute("echo", {"text": "a", "times": 1}, "npc")
    assert not first.cached
    assert second.cached
    assert second.result == first.result
    assert tool(executor, "echo").runs == 1
    stats = executor.cache.get_statistics()
    assert stats["by_tool"]["echo"] == {"hits": 1, "misses": 1, "hit_rate": 0.5}


async def test_cache_by_role_keeps_roles_apart(executor: ToolExecutor) -> None:
    coach = await executor.execute("whoami", {"text": "a"}, "coach")
    npc = await executor.execute("whoami", {"text": "a"}, "npc")
    again = await executor.execute("whoami", {"text": "a"}, "npc")
    assert coach.result == {"text": "a:coach", "contact": ""}
    assert not npc.cached
    assert npc.result == {"text": "a:npc", "contact": ""}
    assert again.cached
    assert tool(executor, "whoami").runs == 2


async def test_cached_result_cannot_be_corrupted_by_a_caller(executor: ToolExecutor) -> None:
    first = await executor.execute("echo", {"text": "a"}, "coach")
    assert first.result is not None
    first.result["text"] = "tampered"
    second = await executor.execute("echo", {"text": "a"}, "coach")
    assert second.result is not None
    assert second.result["text"] == "a"


async def test_domain_failures_are_not_cached(executor: ToolExecutor) -> None:
    await executor.execute("lookup", {"key": "missing"}, "coach")
    again = await executor.execute("lookup", {"key": "missing"}, "coach")
    assert not again.cached
    assert tool(executor, "lookup").runs == 2


async def test_write_invalidates_tagged_entries(executor: ToolExecutor) -> None:
    await executor.execute("echo", {"text": "a"}, "coach")
    await executor.execute("echo", {"text": "b"}, "coach")
    await executor.execute("actions", {"action": "update", "value": "a"}, "admin")
    assert not (await executor.execute("echo", {"text": "a"}, "coach")).cached
    assert (await executor.execute("echo", {"text": "b"}, "coach")).cached


# --- sync tools and concurrency ------------------------------------------------------------------------


async def test_blocking_tool_runs_off_the_event_loop(executor: ToolExecutor) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        for _ in range(10):
            await asyncio.sleep(0.01)
            ticks += 1

    result, _ = await asyncio.gather(executor.execute("blocking", {"seconds": 0.2}, "coach"), ticker())
    assert result.ok
    assert ticks == 10  # the loop kept running while the tool blocked a thread


async def test_inline_sync_tool(executor: ToolExecutor) -> None:
    assert (await executor.execute("inline", {"seconds": 0}, "coach")).ok


async def test_concurrent_calls(executor: ToolExecutor) -> None:
    results = await asyncio.gather(*(executor.execute("sleepy", {"seconds": 0.02}, "coach") for _ in range(50)))
    assert all(r.ok for r in results)
    assert len({r.tool_call_id for r in results}) == 50
    assert len(await audit_rows(executor)) == 50


async def test_execute_many_keeps_order_and_bounds_concurrency(executor: ToolExecutor) -> None:
    running = peak = 0
    original = executor.registry.get("sleepy").tool.run

    async def counting(args: Any, ctx: Any) -> Any:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        try:
            return await original(args, ctx)
        finally:
            running -= 1

    executor.registry.get("sleepy").tool.run = counting  # type: ignore[method-assign]
    calls = [{"tool": "sleepy", "payload": {"seconds": 0.01}, "tool_call_id": f"c{i}"} for i in range(12)]
    calls.append({"tool": "nope", "payload": {}})
    results = await executor.execute_many(calls, "coach", max_concurrent=3)
    assert [r.tool_call_id for r in results[:12]] == [f"c{i}" for i in range(12)]
    assert all(r.ok for r in results[:12])
    assert results[12].error is not None
    assert results[12].error.code == "TOOL_NOT_FOUND"
    assert peak == 3


# --- circuit breaker -----------------------------------------------------------------------------------


async def test_circuit_opens_after_repeated_crashes(make_executor: Any) -> None:
    now = [100.0]
    ex = make_executor(clock=lambda: now[0], circuit_failure_threshold=2, circuit_reset_seconds=30)
    for _ in range(2):
        assert (await ex.execute("flaky", {"failures": 100, "kind": "value"}, "coach")).error is not None
    assert ex.circuit_state("flaky") == "open"
    refused = await ex.execute("flaky", {"failures": 0}, "coach")
    assert refused.error is not None
    assert refused.error.code == "TOOL_CIRCUIT_OPEN"
    assert refused.error.details["retry_after"] == 30
    now[0] += 29.9
    assert ex.circuit_state("flaky") == "open"
    now[0] += 0.1
    assert ex.circuit_state("flaky") == "half_open"
    trial = await ex.execute("flaky", {"failures": 0}, "coach")
    assert trial.ok
    assert ex.circuit_state("flaky") == "closed"


# --- events ----------------------------------------------------------------------------------------------


async def test_events_in_order_with_content(executor: ToolExecutor) -> None:
    seen: list[dict[str, Any]] = []

    async def on_event(data: dict[str, Any]) -> None:
        seen.append(data)

    ok = await executor.execute("echo", {"text": "a"}, "coach", status_callback=on_event, tool_call_id="t1")
    await executor.execute("lookup", {"key": "x"}, "coach", status_callback=on_event, tool_call_id="t2")
    assert [(e["tool_call_id"], e["status"]) for e in seen] == [
        ("t1", "started"), ("t1", "completed"), ("t2", "started"), ("t2", "failed"),
    ]
    assert seen[0] == {"tool_name": "echo", "status": "started", "tool_call_id": "t1", "caller_role": "coach"}
    done = seen[1]
    assert done["latency_ms"] == ok.latency_ms
    assert done["cached"] is False
    assert done["retry_count"] == 0
    preview = done["result_preview"]
    assert len(preview) <= 100
    assert "555 0100" not in preview
    assert "jane@example.com" not in preview
    assert preview.startswith("Echoed 'a'")
    failed = seen[3]
    assert failed["error_code"] == "THING_NOT_FOUND"
    assert "no thing" in failed["error"]


async def test_failing_and_slow_callbacks_never_fail_or_hold_the_call(executor: ToolExecutor) -> None:
    async def broken(data: dict[str, Any]) -> None:
        raise RuntimeError("callback bug")

    assert (await executor.execute("echo", {"text": "a"}, "coach", status_callback=broken)).ok

    seen: list[str] = []
    release = asyncio.Event()

    async def slow(data: dict[str, Any]) -> None:
        await release.wait()
        seen.append(data["status"])

    result = await asyncio.wait_for(executor.execute("echo", {"text": "b"}, "coach", status_callback=slow), 1)
    assert result.ok
    assert seen == []  # the call returned while the callback still waited
    release.set()
    await executor.callbacks.drain()
    assert seen == ["started", "completed"]  # and the events still arrived, in order


async def test_sync_callback(executor: ToolExecutor) -> None:
    seen: list[str] = []
    await executor.execute("echo", {"text": "a"}, "coach", status_callback=lambda d: seen.append(d["status"]))
    assert seen == ["started", "completed"]


async def test_bus_delivers_full_events_per_session(executor: ToolExecutor) -> None:
    mine = executor.events.subscribe(frozenset({"s1"}))
    everything = executor.events.subscribe(None)
    await executor.execute("echo", {"text": "a"}, "coach", session_id="s1")
    await executor.execute("echo", {"text": "b"}, "coach", session_id="s2")
    assert mine.queue.qsize() == 2
    assert everything.queue.qsize() == 4
    event = await mine.get()
    assert event["event"] == "tool_status"
    assert event["data"]["status"] == "started"
    assert event["timestamp"].endswith("Z")
    mine.close()
    everything.close()
    assert not executor.events.wants("s1")


async def test_a_database_crash_names_neither_its_sql_nor_its_values(sqlite_backends: Any) -> None:
    from sqlalchemy.exc import DBAPIError

    from salesboost.tools.base import Tool, ToolContext, ToolPolicy
    from sample_tools import EVERYONE, EchoInput, EchoOutput, make_registry, private_executor

    class Leaky(Tool[EchoInput, EchoOutput]):
        name = "leaky"
        description = "Crashes in the database."
        Input = EchoInput
        Output = EchoOutput
        policy = ToolPolicy(roles=EVERYONE)

        async def run(self, args: EchoInput, ctx: ToolContext) -> EchoOutput:
            raise DBAPIError("SELECT body FROM sms WHERE phone = ?", ("+14155550123",), ValueError("bad"))

    registry = make_registry(sqlite_backends)
    registry.register(Leaky())
    executor = private_executor(registry)
    result = await executor.execute("leaky", {"text": "x"}, "admin")
    assert result.error is not None
    assert result.error.code == "TOOL_EXECUTION_FAILED"
    assert result.error.message == "leaky failed: DBAPIError"
    await executor.aclose()


async def test_closing_twice_is_harmless_and_keeps_the_records(executor: ToolExecutor) -> None:
    result = await executor.execute("echo", {"text": "a"}, "coach")
    await executor.aclose()
    await executor.aclose()
    assert result.audit_id in {row.id for row in await audit_rows(executor)}
