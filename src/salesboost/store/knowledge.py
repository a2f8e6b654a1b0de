"""Knowledge base tables: ingested documents and their searchable chunks.

Full-text search lives beside these tables and is created by migrations 0003 to 0005: an FTS5 table kept in
step by triggers on SQLite; on PostgreSQL a stored weighted `tsv` column with a GIN index, and the BM25 word
statistics `kb_terms` and `kb_totals` kept in step by triggers. None is mapped here, since each exists on one
engine only; `salesboost.sales.knowledge.search` queries them with dialect-specific SQL.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Identity, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from salesboost.store.base import Base


class KbDocument(Base):
    """One ingested file of a collection, identified by its path relative to the ingested folder."""

    __tablename__ = "kb_documents"

    id: Mapped[int] = mapped_column(Integer, Identity(always=False), primary_key=True)
    collection: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(1000))
    title: Mapped[str] = mapped_column(String(500))
    content_hash: Mapped[str] = mapped_column(String(64))
    chunk_count: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("collection", "source", name="uq_kb_documents_collection_source"),)


class KbChunk(Base):
    """A heading-scoped, size-bounded piece of a document; `title` and `collection` are copied for search."""

    __tablename__ = "kb_chunks"

    id: Mapped[int] = mapped_column(Integer, Identity(always=False), primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("kb_documents.id", ondelete="CASCADE"))
    collection: Mapped[str] = mapped_column(String(100))
    ordinal: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(500))
    heading: Mapped[str] = mapped_column(String(1000))
    content: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index("ix_kb_chunks_document_id", "document_id"),
        Index("ix_kb_chunks_collection", "collection"),
    )
