"""crm_integration at scale: p50/p95 of read, search and list over a million customers, through `executor.execute`.

    .venv/bin/python bench/crm_scale.py                  # 1,000,000 customers, SQLite and (if reachable) PostgreSQL
    .venv/bin/python bench/crm_scale.py --rows 20000     # a quicker look
    .venv/bin/python bench/crm_scale.py --no-postgres

Customers are generated reproducibly (fixed seed) from lists of company words, first and last names and
industries, and bulk-loaded with a progress bar into the schema the migrations create (so the search index
is the real one: the FTS5 trigram table, kept by its triggers, on SQLite; the pg_trgm GIN index on
PostgreSQL), then the database is analysed (and the FTS5 index merged), as one does after a bulk load.
SQLite runs in a temporary file; PostgreSQL in a throwaway database created on the server at
SALESBOOST_BENCH_POSTGRES_URL (default: the local server) and dropped afterwards.

Searches mix rare terms (a company name, an e-mail address), common ones (a family name shared by 1 in 70
customers, an industry shared by 1 in 30) and misses; reads hit random ids; lists start at random cursors.
The executor runs with the audit trail off so that its background writes do not disturb the timings.
Goals (issue 3): p95 of search at most 20 ms and of read at most 2 ms on both databases.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy.engine import make_url

from salesboost.assembly import create_backends
from salesboost.config import DATA_DIR, load_settings
from salesboost.sales import crm
from salesboost.sales.crm.customers import format_customer_id, search_document
from salesboost.store.customers import STAGES
from salesboost.store.db import upgrade
from salesboost.tools.executor import ToolExecutor
from salesboost.tools.permissions import load_permissions
from salesboost.tools.registry import ToolRegistry

SEED = 20261124
BATCH = 20_000
POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
GOALS_MS = {"read": 2.0, "search": 20.0}

# Company and family names are pseudo-words built from syllables, so that (as in a real customer base) most
# names are rare while legal suffixes, industries and a few family names are very common.
ONSETS = ["b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z", "br", "cr", "dr",
          "gr", "st", "tr", "ch", "sh", "th", "qu", "fl", "pl", "sk"]
VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "io", "ou", "y"]
CODAS = ["", "", "", "n", "r", "l", "s", "x", "m", "th", "nd", "ck"]
NOUNS = [
    "Logistics", "Health", "Analytics", "Foods", "Retail", "Security", "Learning", "Hotels", "Pharma", "Farms",
    "Insurance", "Construction", "Media", "Cloud", "Capital", "Freight", "Outdoor", "Aerospace", "Utilities",
    "Architects", "Games", "Auto", "Telecom", "Care", "Robotics", "Property", "Energy", "Accounting", "Biotech",
]
SUFFIXES = ["Inc", "Ltd", "GmbH", "LLC", "Group", "Co", "AG", "SA", "Partners", "Holdings"]
FIRST = [
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Mateo", "Sophia", "Lucas", "Isabella", "Ethan", "Mia", "Aarav",
    "Chloe", "Jonas", "Hannah", "Kenji", "Fatima", "Diego", "Ingrid", "Tomas", "Priya", "Oliver", "Lena", "Marcus",
    "Yuki", "Amara", "Felix", "Nora", "Ravi", "Elena", "Sven", "Zoe", "Omar", "Greta", "Hugo", "Leila", "Daniel",
]
COMMON_LAST = [
    "Garcia", "Mueller", "Okafor", "Tanaka", "Dubois", "Andersson", "Patel", "Kowalski", "Rossi", "Nguyen",
    "Schmidt", "Silva", "Haddad", "Johansson", "Martin", "Kim", "Chen", "Smith", "Brown", "Wilson",
]
INDUSTRIES = [
    "Technology", "Manufacturing", "Software", "Logistics", "Healthcare", "Legal Services", "Energy",
    "Data & Analytics", "Food & Beverage", "Retail", "Cybersecurity", "Education", "Hospitality",
    "Pharmaceuticals", "Agriculture", "Insurance", "Construction", "Media", "Financial Services", "Aerospace",
    "Utilities", "Architecture", "Gaming", "Automotive", "Telecommunications", "Real Estate", "Biotechnology",
    "Mining", "Consulting", "Non-profit",
]
AREAS = ["415", "212", "312", "617", "512", "206", "303", "404", "650", "713"]
COLUMNS = (
    "number", "name", "contact", "email", "phone", "industry", "stage", "deal_value", "currency", "owner", "notes",
    "profile", "search_text", "created_at", "updated_at", "version",
)


def customers(rows: int) -> Iterator[tuple[Any, ...]]:
    """Rows in COLUMNS order, the same for every run."""
    rng = random.Random(SEED)
    now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

    def word(syllables: int) -> str:
        return "".join(rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS) for _ in range(syllables))

    for number in range(1, rows + 1):
        brand = word(rng.randint(2, 3)).capitalize()
        noun = f" {rng.choice(NOUNS)}" if rng.random() < 0.6 else ""
        name = f"{brand}{noun} {rng.choice(SUFFIXES)}"
        first = rng.choice(FIRST)
        last = rng.choice(COMMON_LAST) if rng.random() < 0.3 else word(2).capitalize()
        contact = f"{first} {last}"
        email = f"{first.lower()}.{last.lower()}@{brand.lower()}.example"
        industry = rng.choice(INDUSTRIES)
        profile = {"preferences": ["short calls"], "personality": "Pragmatic", "pains": ["manual work"],
                   "communication_style": "Direct"}
        yield (
            number, name, contact, email, f"+1{rng.choice(AREAS)}55501{rng.randint(10, 99)}", industry,
            rng.choice(STAGES), Decimal(rng.randrange(0, 500_000)), "USD", "bench", None, json.dumps(profile),
            search_document(name, contact, email, industry), now, now, 1,
        )


def batches(rows: int) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row in customers(rows):
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def load_sqlite(path: Path, rows: int, progress: Callable[[int], None]) -> None:
    """Bulk insert with the FTS insert trigger set aside, then rebuild the FTS index, put the trigger back
    (its exact SQL, read from the schema) and analyse: the usual way to bulk-load an indexed table."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    [(trigger,)] = db.execute("SELECT sql FROM sqlite_master WHERE name = 'customers_fts_ai'").fetchall()
    db.execute("DROP TRIGGER customers_fts_ai")
    insert = f"INSERT INTO customers ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    for batch in batches(rows):
        db.execute("BEGIN")
        db.executemany(insert, [_sqlite_row(r) for r in batch])
        db.execute("COMMIT")
        progress(len(batch))
    db.execute("INSERT INTO customers_fts(customers_fts) VALUES ('rebuild')")
    db.execute(trigger)
    db.execute("ANALYZE")
    db.close()


def _sqlite_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    values = list(row)
    values[7] = float(values[7])
    values[13] = values[14] = values[13].strftime("%Y-%m-%d %H:%M:%S.%f")
    return tuple(values)


async def load_postgres(url: str, rows: int, progress: Callable[[int], None]) -> None:
    """COPY in batches with the trigram index set aside, then recreate it (its exact definition, read from
    the catalogue), move the id sequence on and vacuum: the usual way to bulk-load an indexed table."""
    import asyncpg

    u = make_url(url)
    conn = await asyncpg.connect(host=u.host, port=u.port or 5432, user=u.username, password=u.password,
                                 database=u.database)
    try:
        index = await conn.fetchval("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_customers_search_trgm'")
        await conn.execute("DROP INDEX ix_customers_search_trgm")
        for batch in batches(rows):
            await conn.copy_records_to_table("customers", records=batch, columns=list(COLUMNS))
            progress(len(batch))
        await conn.execute("SET maintenance_work_mem = '256MB'")
        await conn.execute(index)
        await conn.execute("SELECT setval(pg_get_serial_sequence('customers', 'number'), $1)", rows)
        await conn.execute("VACUUM ANALYZE customers")
    finally:
        await conn.close()


@dataclass(frozen=True, slots=True)
class Measured:
    backend: str
    rows: int
    load_seconds: float
    latencies_ms: dict[str, list[float]]
    hits: dict[str, int]


SEARCH_KINDS = ("company name", "family name", "industry", "e-mail", "nobody")


def payloads(rows: int, samples: int) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Per action, the calls to time, each with the kind of search it is ('' for read and list)."""
    rng = random.Random(SEED + 1)
    some = list(customers(min(rows, 5_000)))
    searches: list[tuple[str, dict[str, Any]]] = []
    for i in range(samples):
        row = rng.choice(some)
        kind = SEARCH_KINDS[i % len(SEARCH_KINDS)]
        term = {
            "company name": row[1],
            "family name": rng.choice(COMMON_LAST),  # 1 in 70 customers
            "industry": row[5][:7],  # a prefix, 1 in 30
            "e-mail": row[3],
            "nobody": f"zq{rng.randrange(10_000)}x",
        }[kind]
        searches.append((kind, {"action": "search", "query": term, "limit": 10}))
    return {
        "read": [("", {"action": "read", "customer_id": format_customer_id(rng.randint(1, rows))})
                 for _ in range(samples)],
        "search": searches,
        "list": [("", {"action": "list", "limit": 10, "cursor": format_customer_id(rng.randint(1, rows))})
                 for _ in range(samples)],
    }


async def measure(backend: str, url: str, rows: int, load_seconds: float, samples: int) -> Measured:
    settings = load_settings(database_url=url, audit_enabled=False, rate_limit_enabled=False)
    backends = create_backends(settings)
    registry = ToolRegistry(permissions=load_permissions(DATA_DIR / "permissions.yaml"), backends=backends)
    registry.register(crm.build(backends))
    executor = ToolExecutor(registry=registry)
    latencies: dict[str, list[float]] = {}
    hits: dict[str, int] = {}
    try:
        for action, calls in payloads(rows, samples).items():
            for _, payload in calls[: max(10, samples // 10)]:  # warm the pool, caches and plans
                await executor.execute("crm_integration", payload, "coach")
            for kind, payload in calls:
                start = time.perf_counter()
                result = await executor.execute("crm_integration", payload, "coach")
                elapsed = (time.perf_counter() - start) * 1000
                if not result.ok:
                    raise SystemExit(f"{backend} {action} failed: {result.error}")
                assert result.result is not None
                found = 1 if result.result.get("customer") or result.result.get("customers") else 0
                for label in (action, f"{action}: {kind}") if kind else (action,):
                    latencies.setdefault(label, []).append(elapsed)
                    hits[label] = hits.get(label, 0) + found
    finally:
        await executor.aclose()
    return Measured(backend, rows, load_seconds, latencies, hits)


def _pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


async def run_sqlite(rows: int, samples: int, console: Console) -> Measured:
    with tempfile.TemporaryDirectory(prefix="sb-crm-bench-") as folder:
        path = Path(folder) / "bench.db"
        url = f"sqlite+aiosqlite:///{path}"
        await asyncio.to_thread(upgrade, url)
        start = time.perf_counter()
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task(f"SQLite: loading {rows:,} customers", total=rows)
            await asyncio.to_thread(load_sqlite, path, rows, lambda n: bar.advance(task, n))
        return await measure("SQLite", url, rows, time.perf_counter() - start, samples)


async def run_postgres(admin_url: str, rows: int, samples: int, console: Console) -> Measured | None:
    import asyncpg

    u = make_url(admin_url)
    try:
        with socket.create_connection((u.host or "127.0.0.1", u.port or 5432), timeout=1):
            pass
    except OSError:
        console.print(f"PostgreSQL not reachable at {u.host}:{u.port or 5432}: skipped")
        return None
    name = f"sb_crm_bench_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(host=u.host, port=u.port or 5432, user=u.username, password=u.password,
                                     database=u.database)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    await admin(f'CREATE DATABASE "{name}"')
    try:
        url = u.set(database=name).render_as_string(hide_password=False)
        await asyncio.to_thread(upgrade, url)
        start = time.perf_counter()
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task(f"PostgreSQL: loading {rows:,} customers", total=rows)
            await load_postgres(url, rows, lambda n: bar.advance(task, n))
        return await measure("PostgreSQL", url, rows, time.perf_counter() - start, samples)
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def report(results: list[Measured], console: Console) -> None:
    table = Table(title="crm_integration through executor.execute (ms)")
    for column in ("database", "customers", "load s", "action", "p50", "p95", "max", "goal p95", "hits"):
        table.add_column(column, justify="left" if column in ("database", "action") else "right")
    for m in results:
        for action, values in m.latencies_ms.items():
            goal = GOALS_MS.get(action.split(":")[0])
            p95 = _pct(values, 95)
            verdict = "" if goal is None else (f"≤ {goal:g} ok" if p95 <= goal else f"≤ {goal:g} MISSED")
            table.add_row(
                m.backend, f"{m.rows:,}", f"{m.load_seconds:.0f}", action, f"{_pct(values, 50):.2f}", f"{p95:.2f}",
                f"{max(values):.2f}", verdict, f"{m.hits[action]}/{len(values)}",
            )
    console.print(table)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="customers to load (default 1,000,000)")
    parser.add_argument("--samples", type=int, default=500, help="timed calls per action (default 500)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args()
    console = Console(width=120)
    results = [await run_sqlite(args.rows, args.samples, console)]
    if not args.no_postgres:
        admin_url = os.environ.get("SALESBOOST_BENCH_POSTGRES_URL", POSTGRES_URL)
        measured = await run_postgres(admin_url, args.rows, args.samples, console)
        if measured is not None:
            results.append(measured)
    report(results, console)


if __name__ == "__main__":
    asyncio.run(main())
