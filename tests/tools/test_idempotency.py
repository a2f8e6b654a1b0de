"""The one idempotency-key rule and the step that requires a key for a write, through `execute`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from salesboost.tools.base import ToolBackends
from salesboost.tools.executor import ToolExecutor
from salesboost.tools.idempotency import IDEMPOTENCY_KEY_MAX
from sample_tools import make_registry, private_executor


@pytest.fixture
async def strict(sqlite_backends: ToolBackends) -> AsyncIterator[ToolExecutor]:
    """An executor that requires keys for writes, as the service's does."""
    executor = private_executor(make_registry(sqlite_backends), require_idempotency_key=True)
    yield executor
    await executor.aclose()


async def test_a_python_caller_may_write_without_a_key_by_default(executor: ToolExecutor) -> None:
    result = await executor.execute("write", {}, "coach")
    assert result.ok, result.error


async def test_a_write_without_a_key_is_refused_where_keys_are_required(strict: ToolExecutor) -> None:
    result = await strict.execute("write", {}, "coach")
    assert result.error is not None
    assert result.error.code == "IDEMPOTENCY_KEY_REQUIRED"
    assert "idempotency key" in result.error.message
    assert not result.error.retryable
    assert (await strict.execute("write", {}, "coach", idempotency_key="order-1")).ok


async def test_only_write_actions_need_a_key(strict: ToolExecutor) -> None:
    assert (await strict.execute("actions", {"action": "read", "value": "x"}, "admin")).ok
    refused = await strict.execute("actions", {"action": "update", "value": "x"}, "admin")
    assert refused.error is not None
    assert refused.error.code == "IDEMPOTENCY_KEY_REQUIRED"


async def test_reads_need_no_key(strict: ToolExecutor) -> None:
    assert (await strict.execute("echo", {"text": "hi"}, "coach")).ok


@pytest.mark.parametrize("key", ["", "has space", "é-accent", "x" * (IDEMPOTENCY_KEY_MAX + 1), "tab\tkey"])
async def test_a_key_that_breaks_the_rule_is_bad_input(executor: ToolExecutor, key: str) -> None:
    result = await executor.execute("write", {}, "coach", idempotency_key=key)
    assert result.error is not None
    assert result.error.code == "TOOL_INPUT_INVALID"
    assert result.error.details["errors"][0]["field"] == "idempotency_key"


async def test_the_longest_key_is_accepted(executor: ToolExecutor) -> None:
    assert (await executor.execute("write", {}, "coach", idempotency_key="k" * IDEMPOTENCY_KEY_MAX)).ok


async def test_a_refused_role_hears_forbidden_not_the_key_rule(strict: ToolExecutor) -> None:
    result = await strict.execute("actions", {"action": "update", "value": "x"}, "npc")
    assert result.error is not None
    assert result.error.code == "TOOL_FORBIDDEN"
