"""Migrations apply and roll back on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Row, String, inspect, text

import salesboost.store.audit
import salesboost.store.customers
import salesboost.store.idempotency
import salesboost.store.knowledge
import salesboost.store.sessions
import salesboost.store.sms  # noqa: F401 (every table in the metadata)
from salesboost.store.base import Base
from salesboost.store.db import WRITE_OPTIONS, alembic_config, create_engine, downgrade, upgrade
from salesboost.store.schema import schema_head
from salesboost.tools.idempotency import IDEMPOTENCY_KEY_MAX


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


_NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


async def _run(url: str, *statements: tuple[str, dict[str, object]]) -> list[list[Row[Any]]]:
    engine = create_engine(url, execution_options=WRITE_OPTIONS)
    try:
        async with engine.begin() as conn:
            results = [await conn.execute(text(sql), params) for sql, params in statements]
            return [list(r.all()) if r.returns_rows else [] for r in results]
    finally:
        await engine.dispose()


async def columns(url: str, table: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return {c["name"] for c in await conn.run_sync(lambda c: inspect(c).get_columns(table))}
    finally:
        await engine.dispose()


_MESSAGE = (
    "INSERT INTO sms_outbox (id, idempotency_key, request_hash, phone, body, encoding, segments, characters, "
    "status, attempts, local_day, created_at, updated_at, next_attempt_at) VALUES (:id, :key, :hash, "
    "'+14155550101', 'hi', 'GSM-7', 1, 2, 'queued', 0, :day, :now, :now, :now)"
)


async def test_0006_moves_sms_keys_into_the_shared_table_and_back(db_url: str) -> None:
    await asyncio.to_thread(downgrade, db_url, "0005_kb_term_statistics")
    day = _NOW.date()
    await _run(
        db_url,
        ("INSERT INTO idempotency_records (scope, key, request_hash, resource_id, created_at) "
         "VALUES ('crm_integration.create', 'c-1', 'h-crm', 'CUST001', :now)", {"now": _NOW}),
        (_MESSAGE, {"id": 1, "key": "s-1", "hash": "h-1", "day": day, "now": _NOW}),
        (_MESSAGE, {"id": 2, "key": None, "hash": "h-2", "day": day, "now": _NOW}),
    )
    await asyncio.to_thread(upgrade, db_url)
    assert {"idempotency_key", "request_hash"}.isdisjoint(await columns(db_url, "sms_outbox"))
    [records] = await _run(db_url, (
        "SELECT scope, owner, key, request_hash, resource_id FROM idempotency_records ORDER BY scope", {}
    ))
    # Keys from before had no owner: they are kept, and no caller (all have an owner) replays them.
    assert [tuple(r) for r in records] == [
        ("crm_integration.create", "", "c-1", "h-crm", "CUST001"),
        ("sms_outreach.send", "", "s-1", "h-1", "1"),
    ]
    # The same key from two owners is two records; the downgrade keeps the first, as its key is unique there.
    await _run(db_url, (
        "INSERT INTO idempotency_records (scope, owner, key, request_hash, resource_id, created_at) "
        "VALUES ('sms_outreach.send', 'role:sdr', 's-1', 'h-2', '2', :later)", {"later": _NOW + timedelta(1)}
    ))
    await asyncio.to_thread(downgrade, db_url, "0005_kb_term_statistics")
    assert "owner" not in await columns(db_url, "idempotency_records")
    [messages, records] = await _run(
        db_url,
        ("SELECT id, idempotency_key, request_hash FROM sms_outbox ORDER BY id", {}),
        ("SELECT scope, key, request_hash, resource_id FROM idempotency_records", {}),
    )
    assert [tuple(m) for m in messages] == [(1, "s-1", "h-1"), (2, None, "")]
    assert [tuple(r) for r in records] == [("crm_integration.create", "c-1", "h-crm", "CUST001")]
    await asyncio.to_thread(upgrade, db_url)


async def test_0007_adds_session_owners_and_the_callers_key_id(db_url: str) -> None:
    await asyncio.to_thread(downgrade, db_url, "0006_shared_idempotency_records")
    assert "session_owners" not in await tables(db_url)
    assert "caller_id" not in await columns(db_url, "tool_audit")
    await _run(db_url, (
        "INSERT INTO tool_audit (id, created_at, tool, caller_role, tool_call_id, status, retry_count, latency_ms, "
        "cached, input_hash, input_preview) VALUES ('a-1', :now, 'echo', 'coach', 'c-1', 'completed', 0, 1.0, "
        "false, 'h', '{}')", {"now": _NOW},
    ))
    await asyncio.to_thread(upgrade, db_url)
    assert "session_owners" in await tables(db_url)
    # A row from before names no key: only admin keys see it.
    [rows] = await _run(db_url, ("SELECT id, caller_id FROM tool_audit", {}))
    assert [tuple(r) for r in rows] == [("a-1", None)]


async def test_0008_adds_the_trace_id_to_the_audit(db_url: str) -> None:
    await asyncio.to_thread(downgrade, db_url, "0007_session_owners")
    assert "trace_id" not in await columns(db_url, "tool_audit")
    await _run(db_url, (
        "INSERT INTO tool_audit (id, created_at, tool, caller_role, tool_call_id, status, retry_count, latency_ms, "
        "cached, input_hash, input_preview) VALUES ('a-1', :now, 'echo', 'coach', 'c-1', 'completed', 0, 1.0, "
        "false, 'h', '{}')", {"now": _NOW},
    ))
    await asyncio.to_thread(upgrade, db_url)
    # A row from before has no trace; a traced call's row is found by its trace id.
    await _run(db_url, (
        "INSERT INTO tool_audit (id, created_at, tool, caller_role, tool_call_id, status, retry_count, latency_ms, "
        "cached, input_hash, input_preview, trace_id) VALUES ('a-2', :now, 'echo', 'coach', 'c-2', 'completed', 0, "
        "1.0, false, 'h', '{}', :trace)", {"now": _NOW, "trace": "4bf92f3577b34da6a3ce929d0e0e4736"},
    ))
    [rows] = await _run(db_url, ("SELECT id, trace_id FROM tool_audit ORDER BY id", {}))
    assert [tuple(r) for r in rows] == [("a-1", None), ("a-2", "4bf92f3577b34da6a3ce929d0e0e4736")]
    await asyncio.to_thread(downgrade, db_url, "0007_session_owners")
    assert "trace_id" not in await columns(db_url, "tool_audit")
    await asyncio.to_thread(upgrade, db_url)


def test_key_columns_are_as_wide_as_the_longest_key() -> None:
    key_columns = [
        column for table in Base.metadata.tables.values() for column in table.columns
        if column.name == "key" or column.name.endswith("idempotency_key")
    ]
    assert key_columns
    for column in key_columns:
        assert isinstance(column.type, String)
        assert column.type.length == IDEMPOTENCY_KEY_MAX, column


def test_the_head_read_off_the_folder_is_alembics() -> None:
    """A fresh process checks an SQLite file against `schema_head()` without Alembic: it must be Alembic's head."""
    assert schema_head() == ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
