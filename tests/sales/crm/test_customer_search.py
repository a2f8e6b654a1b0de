"""Customer search planning: the trigrams it asks the index for, and exact answers whichever way it runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from customer_harness import customer_executor
from harness import ok

from salesboost.sales.crm import search as customer_search
from salesboost.sales.crm.customers import search_document
from salesboost.sales.crm.search import TrigramStats, trigrams
from salesboost.tools.base import ToolBackends
from salesboost.tools.executor import ToolExecutor

QUERIES = [
    "acme", "ACME CORP", "mith", "john smith", ".example", "@global-industries.example", "manufact", "tech", "inc",
    "logistics", "a.b", "sarah", "son", "xyzzy-nobody", "o'brien", "100%", "énergie",
]


def test_trigrams_are_ascii_letters_and_digits() -> None:
    assert trigrams("ab.cde@f1") == {"cde"}
    assert trigrams("smith") == {"smi", "mit", "ith"}
    assert trigrams("a.b") == set()


def test_the_rarest_trigram_of_each_word_comes_first() -> None:
    stats = TrigramStats(["common words here"] * 50 + ["rare zebra"], table_size=51)
    assert stats.frequency("com") > stats.frequency("zeb") > stats.frequency("qqq")
    chosen = stats.choose("common zebra")
    assert len(chosen) == 3
    assert chosen[0] in trigrams("zebra")
    assert chosen[1] in trigrams("common")
    assert stats.choose("a.b") == []
    assert stats.candidates(["com"]) > stats.candidates(["zeb"])


@pytest.fixture
async def executor(backends: ToolBackends) -> AsyncIterator[ToolExecutor]:
    async with customer_executor(backends) as executor:
        for i in range(30):  # many customers sharing words, so that some queries are dense
            data = {"name": f"Smithson Logistics {i} Inc", "contact": f"Sarah Smith {i}", "industry": "Logistics"}
            ok(await executor.execute("crm_integration", {"action": "create", "data": data}, "sdr"))
        yield executor


async def everyone(executor: ToolExecutor) -> list[dict[str, Any]]:
    customers: list[dict[str, Any]] = []
    cursor = None
    while True:
        payload: dict[str, Any] = {"action": "list", "limit": 100, **({"cursor": cursor} if cursor else {})}
        page = ok(await executor.execute("crm_integration", payload, "coach"))
        customers += page["customers"]
        cursor = page["next_cursor"]
        if cursor is None:
            return customers


async def assert_exact(executor: ToolExecutor) -> None:
    customers = await everyone(executor)
    for query in QUERIES:
        needle = " ".join(query.split()).lower()
        expected = [
            c["customer_id"] for c in customers
            if needle in search_document(c["name"], c["contact"], c["email"], c["industry"])
        ][:10]
        found = ok(await executor.execute("crm_integration", {"action": "search", "query": query}, "coach"))
        assert [c["customer_id"] for c in found["customers"]] == expected, query


async def test_answers_are_exact(executor: ToolExecutor) -> None:
    await assert_exact(executor)


async def test_answers_are_exact_when_common_queries_scan_the_first_ids(
    executor: ToolExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every query is treated as dense, and the direct scan covers only the first 20 ids, so both halves of
    # the PostgreSQL plan (and their seam) answer.
    monkeypatch.setattr(customer_search, "DENSE_CANDIDATES", -1)
    monkeypatch.setattr(customer_search, "DIRECT_SCAN_IDS", 20)
    await assert_exact(executor)
