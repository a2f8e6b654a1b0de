"""Executors over real sales tools, registered against the shipped role matrix, and envelope checks.

Imported by the tool tests (pytest puts this folder on sys.path); not a test module itself.
"""

from __future__ import annotations

from typing import Any

from salesboost.assembly import build_runtime
from salesboost.config import DATA_DIR
from salesboost.sales import ToolFactory
from salesboost.tools.base import ToolBackends
from salesboost.tools.executor import ToolExecutor
from salesboost.tools.permissions import load_permissions
from salesboost.tools.registry import ToolRegistry
from salesboost.tools.result import ToolResult


def sales_executor(backends: ToolBackends, *builders: ToolFactory) -> ToolExecutor:
    """An executor over the tools these factories build, with the roles of data/permissions.yaml."""
    registry = ToolRegistry(permissions=load_permissions(DATA_DIR / "permissions.yaml"), backends=backends)
    for build in builders:
        registry.register(build(backends))
    return build_runtime(registry=registry).executor  # assembled as the service's is; the test owns the backends


def ok(result: ToolResult) -> dict[str, Any]:
    """The result of a call that must have worked (the error shows when it did not)."""
    assert result.ok, result.error
    assert result.result is not None
    return result.result


def failed(result: ToolResult, code: str) -> str:
    """The error message of a call that must have failed with `code`."""
    assert not result.ok, result.result
    assert result.error is not None
    assert result.error.code == code, result.error
    return result.error.message
