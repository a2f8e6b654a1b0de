"""Knowledge-base ingestion: chunking, file formats, idempotent re-ingestion, pruning, the CLI and the seeder."""

from __future__ import annotations

import importlib.util
import itertools
import sys
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from salesboost.assembly import create_backends
from salesboost.cli import app
from salesboost.config import PROJECT_ROOT, load_settings
from salesboost.sales.knowledge.chunking import (
    ParsedDocument,
    Section,
    chunk_document,
    parse_document,
    parse_markdown,
)
from salesboost.sales.knowledge.ingest import (
    CACHE_TAG,
    DEMO_FOLDER,
    check_collection,
    collection_stats,
    ingest_folder,
    seed_demo_knowledge,
)
from salesboost.sales.knowledge.search import search
from salesboost.store.knowledge import KbChunk, KbDocument
from salesboost.tools.base import ToolBackends


def _load_pdf_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_demo_pdf", PROJECT_ROOT / "scripts" / "make_demo_pdf.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_demo_pdf", module)
    spec.loader.exec_module(module)
    return module


make_demo_pdf = _load_pdf_script()

# --- chunking -------------------------------------------------------------------------------------------

MARKDOWN = """---
title: Pricing Policy
---
Intro line.

## Discounts

Up to 10% needs no approval.

```
# a comment in code, not a heading
```

### Above 20%

VP approval.

## Payment terms

Net 30.
"""


def test_markdown_sections_carry_their_heading_path() -> None:
    document = parse_markdown(MARKDOWN, "fallback")
    assert document.title == "Pricing Policy"
    assert [s.heading for s in document.sections] == [
        "Pricing Policy",
        "Discounts",
        "Discounts > Above 20%",
        "Payment terms",
    ]
    assert "# a comment in code" in document.sections[1].text


def test_the_first_h1_is_the_title_and_a_file_without_one_is_named_after_the_file() -> None:
    assert parse_markdown("# Battlecard\n\n## Pricing\n\nText.", "x").sections[0].heading == "Pricing"
    assert parse_document(Path("win-loss_notes.md"), b"Some notes.").title == "Win loss notes"


def test_long_sections_are_cut_at_sentences_with_overlap() -> None:
    sentences = [f"Sentence {i:03d} explains one more detail of the discount process." for i in range(80)]
    document = ParsedDocument("T", (Section("Discounts", " ".join(sentences)),))
    chunks = chunk_document(document, max_chars=500, overlap=120)
    assert len(chunks) > 5
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert all(len(c.content) <= 500 for c in chunks)
    assert all(c.heading == "Discounts" for c in chunks)
    for before, after in itertools.pairwise(chunks):
        first_of_next = after.content.split(". ")[0] + "."
        assert first_of_next in before.content  # the next chunk starts inside the previous one
        assert after.content != before.content
    # every sentence is in some chunk, in order
    joined = " ".join(c.content for c in chunks)
    assert all(s in joined for s in sentences)


def test_a_sentence_longer_than_a_chunk_is_cut_between_words() -> None:
    document = ParsedDocument("T", (Section("H", "word " * 400),))
    chunks = chunk_document(document, max_chars=300, overlap=0)
    assert all(0 < len(c.content) <= 300 for c in chunks)
    assert sum(c.content.count("word") for c in chunks) == 400


def test_overlap_must_be_smaller_than_the_chunk() -> None:
    with pytest.raises(ValueError, match="overlap"):
        chunk_document(ParsedDocument("T", ()), max_chars=100, overlap=100)


def test_text_files_take_their_first_line_as_title() -> None:
    document = parse_document(Path("story.txt"), b"Case study: Acme\n\nAcme grew.\n")
    assert document.title == "Case study: Acme"
    assert document.sections == (Section("Case study: Acme", "Acme grew."),)


def test_the_demo_pdf_is_reproducible_and_readable() -> None:
    pdf = DEMO_FOLDER / "onboarding" / "implementation-timeline.pdf"
    assert make_demo_pdf.build() == pdf.read_bytes()
    document = parse_document(pdf, pdf.read_bytes())
    assert document.title == "Implementation timeline and kickoff checklist"
    assert [s.heading for s in document.sections] == [f"{document.title} (page {n})" for n in (1, 2)]
    assert "Kickoff checklist" in document.sections[1].text


# --- ingestion on both databases ------------------------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    (root / "playbooks").mkdir(parents=True)
    (root / "playbooks" / "pricing.md").write_text("# Pricing\n\n## Discounts\n\nManagers approve up to 20%.\n")
    (root / "notes.txt").write_text("Team notes\n\nThe quarterly kickoff is in Lisbon.\n")
    (root / "guide.pdf").write_bytes(make_demo_pdf.text_pdf("Setup guide", [["Connect the Salesforce sandbox."]]))
    (root / ".hidden").mkdir()
    (root / ".hidden" / "secret.md").write_text("# Secret\n\nNot for ingestion.\n")
    (root / "image.png").write_bytes(b"\x89PNG")
    return root


async def _sources(backends: ToolBackends, collection: str = "kb") -> dict[str, int]:
    async with backends.sessions()() as session:
        rows = await session.execute(
            select(KbDocument.source, func.count(KbChunk.id))
            .join(KbChunk, KbChunk.document_id == KbDocument.id)
            .where(KbDocument.collection == collection)
            .group_by(KbDocument.source)
        )
        return {source: count for source, count in rows}


async def _hits(backends: ToolBackends, query: str) -> list[str]:
    async with backends.sessions()() as session:
        return [h.source for h in await search(session, query, 5, "kb")]


async def test_ingest_is_idempotent_replaces_changed_files_and_prunes(backends: ToolBackends, folder: Path) -> None:
    sessions = backends.sessions()
    progressed: list[str] = []
    invalidated: list[str] = []
    report = await ingest_folder(sessions, folder, "kb", on_file=progressed.append, invalidate=invalidated.append)
    assert (report.added, report.updated, report.unchanged, report.removed) == (3, 0, 0, 0)
    assert report.failed == {}
    assert progressed == ["guide.pdf", "notes.txt", "playbooks/pricing.md"]
    assert invalidated == [CACHE_TAG]
    assert await _sources(backends) == {"guide.pdf": 1, "notes.txt": 1, "playbooks/pricing.md": 1}
    assert await _hits(backends, "Salesforce sandbox") == ["guide.pdf"]

    invalidated.clear()
    again = await ingest_folder(sessions, folder, "kb", invalidate=invalidated.append)
    assert (again.added, again.updated, again.unchanged, again.chunks_written) == (0, 0, 3, 0)
    assert invalidated == []

    (folder / "notes.txt").write_text("Team notes\n\nThe quarterly kickoff moved to Porto.\n")
    changed = await ingest_folder(sessions, folder, "kb")
    assert (changed.updated, changed.unchanged) == (1, 2)
    assert await _hits(backends, "Porto") == ["notes.txt"]
    assert await _hits(backends, "Lisbon") == []  # the old chunk is gone from the index too

    (folder / "guide.pdf").unlink()
    kept = await ingest_folder(sessions, folder, "kb")
    assert kept.removed == 0
    assert "guide.pdf" in await _sources(backends)
    pruned = await ingest_folder(sessions, folder, "kb", prune=True)
    assert pruned.removed == 1
    assert await _sources(backends) == {"notes.txt": 1, "playbooks/pricing.md": 1}
    assert await _hits(backends, "Salesforce sandbox") == []


@pytest.mark.postgres
async def test_an_ingest_that_changes_the_base_refreshes_postgres_statistics(postgres_url: str, folder: Path) -> None:
    # Searches are planned from these; autovacuum would gather them only a minute or more later.
    backends = create_backends(load_settings(database_url=postgres_url))
    statistics = text("SELECT count(*) FROM pg_stats WHERE tablename = 'kb_chunks' AND attname = 'tsv'")
    try:
        async with backends.sessions()() as session:
            assert await session.scalar(statistics) == 0
        await ingest_folder(backends.sessions(), folder, "kb")
        async with backends.sessions()() as session:
            assert await session.scalar(statistics) == 1
    finally:
        await backends.aclose()


async def test_collections_are_independent_and_counted(backends: ToolBackends, folder: Path) -> None:
    await ingest_folder(backends.sessions(), folder, "kb")
    await ingest_folder(backends.sessions(), folder / "playbooks", "playbooks")
    stats = await collection_stats(backends.sessions())
    assert [(s.collection, s.documents, s.chunks) for s in stats] == [("kb", 3, 3), ("playbooks", 1, 1)]
    assert await _sources(backends, "playbooks") == {"pricing.md": 1}


async def test_an_unreadable_pdf_is_reported_and_the_rest_ingested(backends: ToolBackends, folder: Path) -> None:
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    report = await ingest_folder(backends.sessions(), folder, "kb")
    assert set(report.failed) == {"broken.pdf"}
    assert report.added == 3
    assert "failed" in report.summary()


async def test_bad_collection_and_missing_folder_are_refused(backends: ToolBackends, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="invalid collection"):
        check_collection("no spaces")
    with pytest.raises(FileNotFoundError):
        await ingest_folder(backends.sessions(), tmp_path / "absent", "kb")


async def test_the_demo_seeder_loads_at_least_30_documents_once(backends: ToolBackends) -> None:
    first = await seed_demo_knowledge(backends)
    assert "0 unchanged" in first
    [stats] = await collection_stats(backends.sessions())
    assert stats.collection == "demo"
    assert stats.documents >= 30
    assert stats.chunks > stats.documents
    assert "0 added, 0 updated" in await seed_demo_knowledge(backends)


def test_demo_knowledge_has_markdown_text_and_pdf() -> None:
    suffixes = [p.suffix for p in DEMO_FOLDER.rglob("*") if p.is_file()]
    assert len(suffixes) >= 30
    assert suffixes.count(".md") >= 25
    assert ".txt" in suffixes
    assert ".pdf" in suffixes


# --- the command line -----------------------------------------------------------------------------------

runner = CliRunner()


@pytest.mark.usefixtures("database")
def test_cli_ingest_and_stats(folder: Path) -> None:
    result = runner.invoke(app, ["kb", "ingest", str(folder), "--collection", "handbook"])
    assert result.exit_code == 0, result.output
    assert "knowledge base 'handbook': 3 added" in result.stdout
    again = runner.invoke(app, ["kb", "ingest", str(folder), "--collection", "handbook", "--prune"])
    assert "3 unchanged, 0 removed" in again.stdout
    stats = runner.invoke(app, ["kb", "stats"])
    assert stats.exit_code == 0
    assert stats.stdout.splitlines()[1].split() == ["handbook", "3", "3"]


@pytest.mark.usefixtures("database")
def test_cli_refuses_bad_arguments(tmp_path: Path) -> None:
    assert "knowledge base is empty" in runner.invoke(app, ["kb", "stats"]).stdout
    missing = runner.invoke(app, ["kb", "ingest", str(tmp_path / "absent")])
    assert missing.exit_code == 2
    assert "not a folder" in missing.output
    bad = runner.invoke(app, ["kb", "ingest", str(tmp_path), "--collection", "bad name"])
    assert bad.exit_code == 2
    assert "invalid collection" in bad.output
