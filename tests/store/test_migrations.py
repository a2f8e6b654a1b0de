"""Migrations apply and roll back on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import inspect, text

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


_GIN_INDEXES = """
SELECT c.relname, c.reloptions FROM pg_index AS i
JOIN pg_class AS c ON c.oid = i.indexrelid
JOIN pg_am AS a ON a.oid = c.relam
WHERE a.amname = 'gin' AND c.relnamespace = 'public'::regnamespace
ORDER BY c.relname
"""


async def gin_indexes(url: str) -> dict[str, list[str] | None]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return {name: options for name, options in await conn.execute(text(_GIN_INDEXES))}
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_no_gin_index_keeps_a_pending_list(postgres_url: str) -> None:
    # Every search would scan the pending list: searches pay for it, ingests should.
    assert await gin_indexes(postgres_url) == {
        "ix_customers_search_trgm": ["fastupdate=off"],
        "ix_kb_chunks_tsv": ["fastupdate=off"],
    }
    await asyncio.to_thread(downgrade, postgres_url, "0003_knowledge")
    assert (await gin_indexes(postgres_url))["ix_kb_chunks_tsv"] is None
