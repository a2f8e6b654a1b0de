"""knowledge_retriever through the executor, on SQLite and PostgreSQL, over the demo knowledge base."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from harness import sales_executor

from salesboost.sales import knowledge
from salesboost.sales.knowledge.ingest import DEMO_COLLECTION, ingest_folder, seed_demo_knowledge
from salesboost.sales.knowledge.search import search
from salesboost.tools.base import ToolBackends
from salesboost.tools.executor import ToolExecutor
from salesboost.tools.result import ToolResult

DOCUMENT_FIELDS = {"chunk_id", "document_id", "title", "source", "heading", "content", "score"}


@pytest.fixture
async def executor(backends: ToolBackends) -> AsyncIterator[ToolExecutor]:
    backends.settings = backends.settings.model_copy(update={"audit_enabled": False})
    executor = sales_executor(backends, knowledge.build)
    await seed_demo_knowledge(backends)
    yield executor
    await executor.aclose()


async def call(executor: ToolExecutor, payload: dict[str, Any], role: str = "coach") -> ToolResult:
    return await executor.execute("knowledge_retriever", payload, role)


async def found(executor: ToolExecutor, query: str, **fields: Any) -> dict[str, Any]:
    result = await call(executor, {"query": query, **fields})
    assert result.ok, result.error
    assert result.result is not None
    return result.result


def sources(out: dict[str, Any]) -> list[str]:
    return [d["source"] for d in out["documents"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Who approves a discount above 20 percent?", "pricing/pricing-policy.md"),
        ("prospect says it's too expensive", "playbooks/objection-too-expensive.md"),
        ("kickoff checklist CRM administrator rollout groups", "onboarding/implementation-timeline.pdf"),
        ("coaching managers in Lyon and Munich", "case-studies/quantum-retail.txt"),
        ("can a contact opt back in by texting START?", "compliance/sms-marketing-rules.md"),
        ("Harbor Mutual compliance officer review queue", "case-studies/harbor-insurance.md"),
        # Phrased without the documents at hand, as a rep would ask.
        ("what is the uptime SLA", "onboarding/support-and-escalation.md"),
        ("can customers pay monthly instead of yearly", "pricing/annual-vs-monthly-billing.md"),
        ("client says send me an email and I'll think about it", "playbooks/objection-need-to-think.md"),
        ("how do we beat DealStream", "battlecards/competitor-a.md"),
        ("MeetHub weaknesses", "battlecards/competitor-c.md"),
        ("how do we mask credit card numbers in notes", "compliance/data-handling-pii.md"),
        ("which languages does live coaching support", "products/real-time-coaching.md"),
        ("how are role-play sessions scored", "products/roleplay-simulator.md"),
    ],
)
async def test_the_best_chunk_comes_from_the_right_document(
    executor: ToolExecutor, query: str, expected: str
) -> None:
    out = await found(executor, query)
    assert out["count"] == len(out["documents"]) == 3
    assert out["documents"][0]["source"] == expected, sources(out)


async def test_a_rare_word_outweighs_a_common_one(
    executor: ToolExecutor, backends: ToolBackends, tmp_path: Path
) -> None:
    # BM25's idf: "pricing" is in every document, "zanzibar" in one, so the chunk holding the rare word wins
    # even against a chunk repeating the common one.
    for i in range(6):
        (tmp_path / f"pricing-{i}.md").write_text(f"# Pricing note {i}\n\nPricing, pricing and more pricing.\n")
    (tmp_path / "retreat.md").write_text("# Retreat\n\nThe team retreat is in Zanzibar; pricing is unchanged.\n")
    (tmp_path / "travel.md").write_text("# Travel\n\nFlights to Zanzibar leave on Friday.\n")
    await ingest_folder(backends.sessions(), tmp_path, "notes", invalidate=backends.invalidate)
    out = await found(executor, "pricing zanzibar", kb="notes", top_k=8)
    assert sources(out)[:2] == ["retreat.md", "travel.md"]
    assert len(out["documents"]) == 8


async def test_result_shape_scores_and_context(executor: ToolExecutor) -> None:
    out = await found(executor, "EU data residency Frankfurt", top_k=5)
    assert out["count"] == 5
    documents = out["documents"]
    assert all(set(d) == DOCUMENT_FIELDS for d in documents)
    scores = [d["score"] for d in documents]
    assert scores == sorted(scores, reverse=True)
    assert scores[-1] > 0
    assert len({d["chunk_id"] for d in documents}) == 5
    top = documents[0]
    assert "Frankfurt" in top["content"]
    assert top["title"]
    assert top["heading"]
    assert out["context"].startswith(f"[1] {top['title']} — {top['heading']} (source: {top['source']})\n")
    for i, d in enumerate(documents, start=1):
        assert f"[{i}] " in out["context"]
        assert d["content"] in out["context"]


@pytest.mark.usefixtures("executor")
async def test_a_planned_search_ranks_the_same_best_chunks(backends: ToolBackends) -> None:
    """At scale only the rarest words choose the candidates; a tiny budget forces that path here."""
    question = "which discounts does the VP Sales approve in the approval matrix?"
    async with backends.sessions()() as session:
        full = await search(session, question, 3)
        planned = await search(session, question, 3, candidate_budget=5)
        assert planned[0].source == full[0].source == "pricing/pricing-policy.md"
        # Every word too common: the candidates are the chunks holding all of them.
        together = await search(session, "discount approval", 3, candidate_budget=5)
        assert len(together) == 3
        assert all("discount" in h.content.lower() and "approv" in h.content.lower() for h in together)
        # A word found nowhere does not hide the common ones.
        unknown = await search(session, "zqxjv discount approval", 3, candidate_budget=5)
        assert len(unknown) == 3
        assert all("discount" in h.content.lower() for h in unknown)
        # Common words that never meet: the chunks holding either of them.
        apart = await search(session, "Frankfurt Lyon", 3, candidate_budget=2)
        assert apart
        assert all("Frankfurt" in h.content or "Lyon" in h.content for h in apart)


async def test_english_stemming_matches_other_word_forms(executor: ToolExecutor) -> None:
    out = await found(executor, "discounting approvals")
    assert out["documents"][0]["source"] == "pricing/pricing-policy.md"
    assert "discount" in out["documents"][0]["content"].lower()


async def test_stop_words_alone_match_nothing(executor: ToolExecutor) -> None:
    out = await found(executor, "the and of which is")
    assert out == {"count": 0, "documents": [], "context": ""}


async def test_no_match_is_a_success_with_count_zero(executor: ToolExecutor) -> None:
    out = await found(executor, "xylophone zeppelin quasar")
    assert out == {"count": 0, "documents": [], "context": ""}


@pytest.mark.parametrize(
    "query",
    [
        '"unbalanced quote',
        "pricing AND OR NOT NEAR(",
        "title:pricing heading:discount",
        "disc* ^approval -policy +VP",
        "'; DROP TABLE kb_chunks; --",
        "(((",
        "!!!???",
        "SSO & SAML | SCIM",
        "naïve café résumé",
        "\\x00 \\n {}[]",
        "a" * 1000,
    ],
)
async def test_punctuation_and_search_syntax_never_error(executor: ToolExecutor, query: str) -> None:
    out = await found(executor, query)
    assert out["count"] == len(out["documents"])


async def test_top_k_and_collection_filter(executor: ToolExecutor) -> None:
    assert (await found(executor, "pricing", top_k=1))["count"] == 1
    assert (await found(executor, "pricing", top_k=20))["count"] == 20
    in_demo = await found(executor, "pricing", kb=DEMO_COLLECTION)
    assert in_demo == await found(executor, "pricing")


async def test_unknown_collection_names_the_available_ones(executor: ToolExecutor) -> None:
    result = await call(executor, {"query": "pricing", "kb": "handbook"})
    assert not result.ok
    assert result.error is not None
    assert result.error.code == "KB_NOT_FOUND"
    assert result.error.details["available"] == [DEMO_COLLECTION]


async def test_collections_are_searched_separately(
    executor: ToolExecutor, backends: ToolBackends, tmp_path: Path
) -> None:
    (tmp_path / "faq.md").write_text("# Holiday schedule\n\nThe team retreat is in Zanzibar this year.\n")
    await ingest_folder(backends.sessions(), tmp_path, "handbook", invalidate=backends.invalidate)
    assert sources(await found(executor, "Zanzibar retreat", kb="handbook")) == ["faq.md"]
    assert (await found(executor, "Zanzibar retreat", kb=DEMO_COLLECTION))["count"] == 0
    assert (await found(executor, "discount approval", kb="handbook"))["count"] == 0


async def test_results_are_cached_until_an_ingest_changes_the_base(
    executor: ToolExecutor, backends: ToolBackends, tmp_path: Path
) -> None:
    first = await call(executor, {"query": "Zanzibar retreat"})
    again = await call(executor, {"query": "Zanzibar retreat", "top_k": 3})
    assert first.cached is False
    assert again.cached is True
    assert again.result == first.result
    (tmp_path / "faq.md").write_text("# Holiday schedule\n\nThe team retreat is in Zanzibar this year.\n")
    await ingest_folder(backends.sessions(), tmp_path, "handbook", invalidate=backends.invalidate)
    after = await call(executor, {"query": "Zanzibar retreat"})
    assert after.cached is False
    assert after.result is not None
    assert after.result["count"] == 1


async def test_preview_says_how_many_documents(executor: ToolExecutor) -> None:
    events: list[dict[str, Any]] = []

    async def on_event(data: dict[str, Any]) -> None:
        events.append(data)

    await executor.execute("knowledge_retriever", {"query": "pricing"}, "npc", status_callback=on_event)
    await executor.callbacks.drain()
    assert [e["result_preview"] for e in events if e["status"] == "completed"] == ["Found 3 documents"]


async def test_every_role_may_search(executor: ToolExecutor) -> None:
    for role in ("coach", "npc", "evaluator", "sdr", "admin"):
        assert (await call(executor, {"query": "pricing"}, role)).ok


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"query": ""}, "query"),
        ({"query": "x" * 1001}, "query"),
        ({"query": "pricing", "top_k": 0}, "top_k"),
        ({"query": "pricing", "top_k": 21}, "top_k"),
        ({"query": "pricing", "top_k": "many"}, "top_k"),
        ({"query": "pricing", "kb": "no spaces allowed"}, "kb"),
        ({"query": "pricing", "collection": "demo"}, "collection"),
        ({}, "query"),
    ],
)
async def test_bad_input_names_the_field(executor: ToolExecutor, payload: dict[str, Any], field: str) -> None:
    result = await call(executor, payload)
    assert not result.ok
    assert result.error is not None
    assert result.error.code == "TOOL_INPUT_INVALID"
    assert field in {e["field"] for e in result.error.details["errors"]}
