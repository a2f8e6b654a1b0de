"""An executor with the customer tools (crm_integration, profile_reader, sms_outreach) on a test database.

Imported by the customer tool tests (pytest puts this folder on sys.path); not a test module itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from harness import sales_executor

from salesboost.sales import crm, profile, sms
from salesboost.sales.crm.seed import seed_customers
from salesboost.sales.sms.consent import seed_demo_consents
from salesboost.tools.base import ToolBackends
from salesboost.tools.executor import ToolExecutor

BUILDERS = (crm.build, profile.build, sms.build)


@asynccontextmanager
async def customer_executor(
    backends: ToolBackends, *, seed: bool = True, **settings: Any
) -> AsyncIterator[ToolExecutor]:
    """The tools registered against the real role matrix, with the demo customers (and their demo SMS consents)
    loaded; keyword
    arguments override settings (e.g. `sms_timezone="America/Los_Angeles"`)."""
    if settings:
        backends.settings = backends.settings.model_copy(update=settings)
    executor = sales_executor(backends, *BUILDERS)
    if seed:
        await seed_customers(backends)
        await seed_demo_consents(backends)
    try:
        yield executor
    finally:
        await executor.aclose()

