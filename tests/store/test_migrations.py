"""Migrations apply and roll back on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from sqlalchemy import inspect

from salesboost.store.db import create_engine, downgrade, upgrade


async def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade(db_url: str) -> None:
    assert "tool_audit" in await tables(db_url)
    await asyncio.to_thread(downgrade, db_url, "base")
    assert "tool_audit" not in await tables(db_url)
    await asyncio.to_thread(upgrade, db_url)
    assert "tool_audit" in await tables(db_url)
