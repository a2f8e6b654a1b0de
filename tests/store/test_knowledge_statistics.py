"""PostgreSQL's BM25 statistics (`kb_terms`, `kb_totals`) follow every change to the knowledge chunks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from salesboost.assembly import create_backends
from salesboost.config import load_settings
from salesboost.sales.knowledge.ingest import ingest_folder
from salesboost.store.db import writing
from salesboost.tools.base import ToolBackends

pytestmark = pytest.mark.postgres

# Rows where the kept statistics and a recount from the chunks disagree, and whether the totals agree.
_TERM_MISMATCHES = """
SELECT count(*) FROM (
    SELECT lexeme, count(*) AS n FROM kb_chunks, unnest(tsvector_to_array(tsv)) AS lexeme GROUP BY lexeme
) AS counted FULL JOIN kb_terms AS kept USING (lexeme)
WHERE counted.n IS DISTINCT FROM kept.chunks
"""
_TOTALS = "SELECT chunks, lexemes FROM kb_totals"
_RECOUNTED_TOTALS = "SELECT count(*), coalesce(sum(length(tsv)), 0) FROM kb_chunks"


@pytest.fixture
async def backends(postgres_url: str) -> AsyncIterator[ToolBackends]:
    backends = create_backends(load_settings(database_url=postgres_url))
    yield backends
    await backends.aclose()


async def assert_in_step(backends: ToolBackends) -> tuple[int, int]:
    async with backends.sessions()() as session:
        assert await session.scalar(text(_TERM_MISMATCHES)) == 0
        kept = tuple((await session.execute(text(_TOTALS))).one())
        assert kept == tuple((await session.execute(text(_RECOUNTED_TOTALS))).one())
        return int(kept[0]), int(kept[1])


async def term_chunks(backends: ToolBackends, lexeme: str) -> int | None:
    async with backends.sessions()() as session:
        found = await session.scalar(text("SELECT chunks FROM kb_terms WHERE lexeme = :l"), {"l": lexeme})
        return None if found is None else int(found)


async def test_statistics_follow_ingest_replace_prune_and_truncate(backends: ToolBackends, tmp_path: Path) -> None:
    assert await assert_in_step(backends) == (0, 0)
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "lisbon.md").write_text("# Kickoff\n\nThe kickoff is in Lisbon.\n\n## Travel\n\nFly to Lisbon.\n")
    (folder / "pricing.md").write_text("# Pricing\n\nDiscounts need approval.\n")
    await ingest_folder(backends.sessions(), folder, "kb")
    chunks, _ = await assert_in_step(backends)
    assert chunks == 3
    assert await term_chunks(backends, "lisbon") == 2

    (folder / "lisbon.md").write_text("# Kickoff\n\nThe kickoff moved to Porto.\n")
    await ingest_folder(backends.sessions(), folder, "kb")
    await assert_in_step(backends)
    assert await term_chunks(backends, "lisbon") is None  # a word no chunk holds any more is dropped
    assert await term_chunks(backends, "porto") == 1

    (folder / "lisbon.md").unlink()
    await ingest_folder(backends.sessions(), folder, "kb", prune=True)
    assert (await assert_in_step(backends))[0] == 1

    async with writing(backends.sessions()) as session:
        await session.execute(text("UPDATE kb_chunks SET content = content || ' Approval by the VP.'"))
    await assert_in_step(backends)
    async with writing(backends.sessions()) as session:
        await session.execute(text("TRUNCATE kb_chunks"))
    assert await assert_in_step(backends) == (0, 0)


async def test_concurrent_ingests_share_words_without_deadlock(backends: ToolBackends, tmp_path: Path) -> None:
    # Both write the same words' rows at once: neither fails, and the statistics add up.
    folders = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        for i in range(12):
            words = " ".join(f"word{(i * 7 + j) % 40}" for j in range(30))
            (folder / f"{i}.md").write_text(f"# Note {i}\n\nDiscount approval pricing {words}.\n")
        folders.append(folder)
    (tmp_path / "empty").mkdir()
    reports = await asyncio.gather(*(ingest_folder(backends.sessions(), f, f.name) for f in folders))
    assert [r.added for r in reports] == [12, 12]
    assert (await assert_in_step(backends))[0] == 24
    assert await term_chunks(backends, "discount") == 24
    for folder in folders:  # a replacement deletes and inserts rows of the same words in one transaction
        for path in folder.iterdir():
            path.write_text(path.read_text().replace("Discount", "Rebate"))
    reports = await asyncio.gather(*(ingest_folder(backends.sessions(), f, f.name) for f in folders))
    assert [r.updated for r in reports] == [12, 12]
    assert await term_chunks(backends, "discount") is None
    assert await term_chunks(backends, "rebat") == 24
    await asyncio.gather(*(ingest_folder(backends.sessions(), tmp_path / "empty", f.name, prune=True) for f in folders))
    assert await assert_in_step(backends) == (0, 0)
