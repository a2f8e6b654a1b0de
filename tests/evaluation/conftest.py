"""Every test here runs against its own configured SQLite database, which a measurement must leave untouched."""

import pytest


@pytest.fixture(autouse=True)
def _configured(database: str) -> str:
    return database
