"""An executor with the customer tools (crm_integration, profile_reader, sms_outreach) on a test database.

Imported by the customer tool tests (pytest puts this folder on sys.path); not a test module itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from salesboost.config import DATA_DIR
from salesboost.sales import crm, profile, sms
from salesboost.sales.customer_seed import seed_customers
from salesboost.tools.base import ToolBackends
from salesboost.tools.executor import ToolExecutor
from salesboost.tools.permissions import load_permissions
from salesboost.tools.registry import ToolRegistry
from salesboost.tools.result import ToolResult

BUILDERS = (crm.build, profile.build, sms.build)


@asynccontextmanager
async def customer_executor(
    backends: ToolBackends, *, seed: bool = True, **settings: Any
) -> AsyncIterator[ToolExecutor]:
    """The tools registered against the real role matrix, with the demo customers loaded; keyword
    arguments override settings (e.g. `sms_timezone="America/Los_Angeles"`)."""
    if settings:
        backends.settings = backends.settings.model_copy(update=settings)
    registry = ToolRegistry(permissions=load_permissions(DATA_DIR / "permissions.yaml"), backends=backends)
    for build in BUILDERS:
        registry.register(build(backends))
    if seed:
        await seed_customers(backends)
    executor = ToolExecutor(registry=registry)
    try:
        yield executor
    finally:
        # Drain the audit trail first: `aclose` cancels the background writer, and a cancel that lands while
        # it commits re-queues rows that were written (duplicate audit ids on PostgreSQL; reported).
        if executor.audit is not None:
            await executor.audit.flush()
        await executor.aclose()


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
