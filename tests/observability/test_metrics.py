"""The six metrics, read back from the Prometheus registry after calls through the executor."""

from __future__ import annotations

from typing import Any

from prometheus_client import generate_latest

from salesboost.tools.executor import ToolExecutor


def value(ex: ToolExecutor, name: str, **labels: str) -> float | None:
    return ex.metrics.registry.get_sample_value(name, labels)


async def test_calls_errors_duration_cache_and_retries(executor: ToolExecutor) -> None:
    await executor.execute("echo", {"text": "a"}, "coach")
    await executor.execute("echo", {"text": "a"}, "coach")
    await executor.execute("echo", {"text": "a"}, "npc")
    await executor.execute("lookup", {"key": "missing"}, "coach")
    await executor.execute("flaky", {"failures": 2}, "coach")

    assert value(executor, "tool_calls_total", tool_name="echo", status="success", caller_role="coach") == 2
    assert value(executor, "tool_calls_total", tool_name="echo", status="success", caller_role="npc") == 1
    assert value(executor, "tool_calls_total", tool_name="lookup", status="error", caller_role="coach") == 1
    assert value(executor, "tool_errors_total", tool_name="lookup", error_type="THING_NOT_FOUND") == 1
    assert value(executor, "tool_execution_duration_seconds_count", tool_name="echo", caller_role="coach") == 2
    total = value(executor, "tool_execution_duration_seconds_bucket", tool_name="echo", caller_role="coach", le="+Inf")
    assert total == 2
    assert value(executor, "tool_cache_operations_total", tool_name="echo", operation="hit") == 2
    assert value(executor, "tool_cache_operations_total", tool_name="echo", operation="miss") == 1
    assert value(executor, "tool_cache_hit_rate", tool_name="echo") == 2 / 3
    assert value(executor, "tool_retry_attempts_total", tool_name="flaky", attempt_number="1") == 1
    assert value(executor, "tool_retry_attempts_total", tool_name="flaky", attempt_number="2") == 1
    # Only cacheable tools count cache operations.
    assert value(executor, "tool_cache_operations_total", tool_name="flaky", operation="miss") is None


async def test_unknown_role_and_tool_touch_no_metric(executor: ToolExecutor) -> None:
    await executor.execute("echo", {"text": "a"}, "hacker")
    await executor.execute("no_such_tool", {}, "coach")
    text = generate_latest(executor.metrics.registry).decode()
    assert "hacker" not in text
    assert "no_such_tool" not in text


async def test_exposition_names(executor: ToolExecutor) -> None:
    await executor.execute("echo", {"text": "a"}, "coach")
    text = generate_latest(executor.metrics.registry).decode()
    for name in (
        "tool_calls_total", "tool_execution_duration_seconds_bucket", "tool_cache_hit_rate",
        "tool_cache_operations_total",
    ):
        assert f"\n{name}{{" in text or text.startswith(f"{name}{{"), name
    assert "# TYPE tool_execution_duration_seconds histogram" in text


def test_default_metrics_is_one_per_process() -> None:
    from salesboost.observability.metrics import default_metrics

    first: Any = default_metrics()
    assert default_metrics() is first
