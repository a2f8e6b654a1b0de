"""Every test here runs against its own configured SQLite database, which a measurement must leave untouched."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from salesboost.config import get_settings


@pytest.fixture(autouse=True)
def database(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The configured database: a measurement must leave it untouched."""
    monkeypatch.setenv("SALESBOOST_DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    yield sqlite_url
    get_settings.cache_clear()
