"""The schema check a fresh process makes without SQLAlchemy reads URLs as SQLAlchemy does."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from salesboost.store.schema import sqlite_file


@pytest.mark.parametrize(
    "url",
    [
        "sqlite+aiosqlite:///./var/salesboost.db",
        "sqlite+aiosqlite:////tmp/with space/s.db",
        "sqlite+aiosqlite:////tmp/quoted%20name.db",
        "sqlite+pysqlite:////abs/p.db",
        "sqlite:///relative.db",
    ],
)
def test_a_plain_sqlite_url_names_the_file_sqlalchemy_opens(url: str) -> None:
    assert sqlite_file(url) == make_url(url).database


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite+aiosqlite:///x.db?mode=ro",
        "postgresql+asyncpg://user@localhost/test",
        "mysql://u@h/sqlite:///x.db",
    ],
)
def test_any_other_url_is_left_to_sqlalchemy(url: str) -> None:
    assert sqlite_file(url) is None
