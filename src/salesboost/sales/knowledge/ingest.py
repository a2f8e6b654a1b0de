"""Ingesting a folder into a knowledge-base collection, idempotently.

An unchanged file (same content hash) is skipped, a changed one has its chunks replaced, a new one is added,
and with `prune` a file no longer in the folder is removed. Each file is stored in its own transaction, so an
interrupted run leaves every document either old or new, never half-written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from salesboost.clock import utcnow
from salesboost.config import DATA_DIR
from salesboost.sales.knowledge.chunking import (
    DEFAULT_MAX_CHARS,
    DEFAULT_OVERLAP,
    SUFFIXES,
    Chunk,
    DocumentError,
    chunk_document,
    content_hash,
    parse_document,
)
from salesboost.sales.knowledge.search import forget_glossaries, refresh_statistics
from salesboost.sales.knowledge.shapes import CACHE_TAG, COLLECTION_NAME
from salesboost.store.db import writing
from salesboost.store.knowledge import KbChunk, KbDocument
from salesboost.tools.base import ToolBackends

_INSERT_BATCH = 2000
DEMO_FOLDER = DATA_DIR / "demo" / "knowledge"
DEMO_COLLECTION = "demo"


@dataclass(slots=True)
class IngestReport:
    collection: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks_written: int = 0
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        text = (
            f"knowledge base {self.collection!r}: {self.added} added, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.removed} removed, {self.chunks_written} chunks written"
        )
        return text + (f", {len(self.failed)} failed" if self.failed else "")


@dataclass(frozen=True, slots=True)
class CollectionStats:
    collection: str
    documents: int
    chunks: int


def check_collection(name: str) -> str:
    if not COLLECTION_NAME.match(name):
        raise ValueError(f"invalid collection name {name!r}: letters, digits, '_', '.', '-' (at most 100)")
    return name


def discover(folder: Path) -> list[Path]:
    """The files to ingest under `folder`, in a stable order (hidden files and folders skipped)."""
    if not folder.is_dir():
        raise FileNotFoundError(f"not a folder: {folder}")
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


async def store_document(
    session: AsyncSession,
    *,
    collection: str,
    source: str,
    title: str,
    digest: str,
    chunks: Sequence[Chunk],
    now: datetime,
    document_id: int | None = None,
) -> int:
    """Insert (or, with `document_id`, replace) one document and its chunks; returns the document id."""
    if document_id is None:
        document_id = await session.scalar(
            insert(KbDocument)
            .values(
                collection=collection,
                source=source,
                title=title,
                content_hash=digest,
                chunk_count=len(chunks),
                updated_at=now,
            )
            .returning(KbDocument.id)
        )
        assert document_id is not None
    else:
        await session.execute(delete(KbChunk).where(KbChunk.document_id == document_id))
        document = await session.get_one(KbDocument, document_id)
        document.title, document.content_hash = title, digest
        document.chunk_count, document.updated_at = len(chunks), now
    rows = [
        {
            "document_id": document_id,
            "collection": collection,
            "ordinal": c.ordinal,
            "title": title,
            "heading": c.heading[:1000],
            "content": c.content,
        }
        for c in chunks
    ]
    for start in range(0, len(rows), _INSERT_BATCH):
        await session.execute(insert(KbChunk), rows[start : start + _INSERT_BATCH])
    return document_id


async def ingest_folder(
    sessions: async_sessionmaker[AsyncSession],
    folder: Path,
    collection: str = "default",
    *,
    prune: bool = False,
    max_chars: int = DEFAULT_MAX_CHARS,
    overlap: int = DEFAULT_OVERLAP,
    on_file: Callable[[str], None] | None = None,
    invalidate: Callable[[str], object] | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> IngestReport:
    """Bring `collection` in line with the files under `folder`; `on_file` is told after each file."""
    check_collection(collection)
    files = await asyncio.to_thread(discover, folder)
    report = IngestReport(collection)
    async with sessions() as session:
        rows = await session.execute(
            select(KbDocument.source, KbDocument.id, KbDocument.content_hash).where(
                KbDocument.collection == collection
            )
        )
        existing = {source: (doc_id, digest) for source, doc_id, digest in rows}
    for path in files:
        source = path.relative_to(folder).as_posix()
        await _ingest_file(sessions, path, source, existing.get(source), report, max_chars, overlap, clock)
        if on_file is not None:
            on_file(source)
    if prune:
        seen = {p.relative_to(folder).as_posix() for p in files}
        gone = [doc_id for source, (doc_id, _) in existing.items() if source not in seen]
        if gone:
            async with writing(sessions) as session:
                await session.execute(delete(KbChunk).where(KbChunk.document_id.in_(gone)))
                await session.execute(delete(KbDocument).where(KbDocument.id.in_(gone)))
            report.removed = len(gone)
    if report.changed:
        async with writing(sessions) as session:
            await refresh_statistics(session)
        forget_glossaries()
        if invalidate is not None:
            invalidate(CACHE_TAG)
    return report


async def _ingest_file(
    sessions: async_sessionmaker[AsyncSession],
    path: Path,
    source: str,
    known: tuple[int, str] | None,
    report: IngestReport,
    max_chars: int,
    overlap: int,
    clock: Callable[[], datetime],
) -> None:
    data = await asyncio.to_thread(path.read_bytes)
    digest = content_hash(data, max_chars, overlap)
    if known is not None and known[1] == digest:
        report.unchanged += 1
        return
    try:
        document = parse_document(path, data)
    except DocumentError as exc:
        report.failed[source] = str(exc)
        return
    chunks = chunk_document(document, max_chars, overlap)
    async with writing(sessions) as session:
        await store_document(
            session,
            collection=report.collection,
            source=source,
            title=document.title[:500],
            digest=digest,
            chunks=chunks,
            now=clock(),
            document_id=known[0] if known else None,
        )
    report.chunks_written += len(chunks)
    if known is None:
        report.added += 1
    else:
        report.updated += 1


async def collection_stats(sessions: async_sessionmaker[AsyncSession]) -> list[CollectionStats]:
    """Documents and chunks per collection, by name."""
    async with sessions() as session:
        docs = await session.execute(
            select(KbDocument.collection, func.count(), func.coalesce(func.sum(KbDocument.chunk_count), 0))
            .group_by(KbDocument.collection)
            .order_by(KbDocument.collection)
        )
        return [CollectionStats(name, int(documents), int(chunks)) for name, documents, chunks in docs]


async def seed_demo_knowledge(backends: ToolBackends) -> str:
    """The demo seeder: `data/demo/knowledge` as collection "demo", mirrored exactly (pruned)."""
    report = await ingest_folder(
        backends.sessions(), DEMO_FOLDER, DEMO_COLLECTION, prune=True, invalidate=backends.invalidate
    )
    return report.summary()
