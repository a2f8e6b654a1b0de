"""`salesboost db seed`: every demo-data loader, run in order. Each is idempotent and says what it did."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from salesboost.config import Settings
from salesboost.sales.customer_seed import seed_customers
from salesboost.sales.kb_ingest import seed_demo_knowledge
from salesboost.store.db import create_backends
from salesboost.tools.base import ToolBackends

Seeder = Callable[[ToolBackends], Awaitable[str]]

# Each domain appends its loader here (customers, knowledge base, ...).
SEEDERS: list[Seeder] = [seed_demo_knowledge, seed_customers]


async def seed_all(settings: Settings) -> list[str]:
    backends = create_backends(settings)
    try:
        return [await seeder(backends) for seeder in SEEDERS]
    finally:
        await backends.aclose()
