"""The demo data under data/demo/: every loader, in order. Each is idempotent and says what it did."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from salesboost.sales.crm.seed import seed_customers
from salesboost.sales.knowledge.ingest import seed_demo_knowledge
from salesboost.sales.sms.consent import seed_demo_consents
from salesboost.tools.base import ToolBackends

Seeder = Callable[[ToolBackends], Awaitable[str]]

# Each domain appends its loader here (customers, knowledge base, ...).
SEEDERS: tuple[Seeder, ...] = (seed_demo_knowledge, seed_customers, seed_demo_consents)
