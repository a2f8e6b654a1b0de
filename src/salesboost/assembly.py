"""The composition root: the one place that builds the runtime's parts from settings."""

from __future__ import annotations

from salesboost.config import Settings
from salesboost.sales.demo import SEEDERS
from salesboost.store.db import create_engine, session_factory
from salesboost.tools.base import ToolBackends


def create_backends(settings: Settings) -> ToolBackends:
    """The shared backends, chosen once from settings."""
    engine = create_engine(settings.database_url)
    return ToolBackends(settings=settings, session_factory=session_factory(engine), engine=engine)


async def seed_demo(settings: Settings) -> list[str]:
    """Load the demo data into the configured database; one line per loader."""
    backends = create_backends(settings)
    try:
        return [await seeder(backends) for seeder in SEEDERS]
    finally:
        await backends.aclose()
