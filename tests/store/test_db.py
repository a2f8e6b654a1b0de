"""Engines: a database error never carries the values bound to its statement (phones, message bodies)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from salesboost.store.db import create_engine


async def test_errors_hide_bound_values(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            with pytest.raises(DBAPIError) as raised:
                await conn.execute(text("SELECT * FROM no_such_table WHERE phone = :phone"), {"phone": "+14155550123"})
    finally:
        await engine.dispose()
    assert "no_such_table" in str(raised.value)
    assert "+14155550123" not in str(raised.value)
