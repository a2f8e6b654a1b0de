"""The envelope constructor builds what validation would, without validating again."""

from __future__ import annotations

import pytest

from salesboost.tools.result import ToolErrorInfo, ToolResult, envelope

ERROR = ToolErrorInfo(code="X", type="T", message="m", retryable=False)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"result": {"sum": 3, "nested": {"a": [1, 2]}}, "cached": True, "retry_count": 2, "latency_ms": 1.5},
        {"error": ERROR, "audit_id": "abc-1"},
        {},
    ],
)
def test_envelope_equals_a_validated_one(kwargs: dict[str, object]) -> None:
    built = envelope("add", "call-1", "coach", **kwargs)
    validated = ToolResult(ok="error" not in kwargs, tool="add", tool_call_id="call-1", caller_role="coach", **kwargs)
    assert built == validated
    assert built.model_dump_json() == validated.model_dump_json()
    assert built.model_fields_set == set(ToolResult.model_fields)
    assert ToolResult.model_validate_json(built.model_dump_json()) == validated
