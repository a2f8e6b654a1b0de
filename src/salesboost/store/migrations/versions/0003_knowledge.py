"""Knowledge base: documents, chunks and their full-text index.

SQLite: an external-content FTS5 table (porter stemming) kept in step with `kb_chunks` by triggers, ranked
with bm25(). PostgreSQL: a stored `tsv` column (English configuration: stemming and stop words; title weighted
A, heading B, content C) with a GIN index, ranked with ts_rank_cd().

Revision ID: 0003_knowledge
Revises: 0002_customers_sms
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_knowledge"
down_revision = "0002_customers_sms"
branch_labels = None
depends_on = None

_FTS_COLUMNS = "content, heading, title"
SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE kb_chunks_fts USING fts5("
    f"{_FTS_COLUMNS}, content='kb_chunks', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER kb_chunks_fts_ai AFTER INSERT ON kb_chunks BEGIN "
    f"INSERT INTO kb_chunks_fts(rowid, {_FTS_COLUMNS}) VALUES (new.id, new.content, new.heading, new.title); END",
    "CREATE TRIGGER kb_chunks_fts_ad AFTER DELETE ON kb_chunks BEGIN "
    f"INSERT INTO kb_chunks_fts(kb_chunks_fts, rowid, {_FTS_COLUMNS}) "
    "VALUES ('delete', old.id, old.content, old.heading, old.title); END",
    "CREATE TRIGGER kb_chunks_fts_au AFTER UPDATE ON kb_chunks BEGIN "
    f"INSERT INTO kb_chunks_fts(kb_chunks_fts, rowid, {_FTS_COLUMNS}) "
    "VALUES ('delete', old.id, old.content, old.heading, old.title); "
    f"INSERT INTO kb_chunks_fts(rowid, {_FTS_COLUMNS}) VALUES (new.id, new.content, new.heading, new.title); END",
)
POSTGRES_SEARCH = (
    "ALTER TABLE kb_chunks ADD COLUMN tsv tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(heading, '')), 'B') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(content, '')), 'C')) STORED",
    "CREATE INDEX ix_kb_chunks_tsv ON kb_chunks USING gin (tsv)",
)


def upgrade() -> None:
    op.create_table(
        "kb_documents",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), primary_key=True),
        sa.Column("collection", sa.String(100), nullable=False),
        sa.Column("source", sa.String(1000), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("collection", "source", name="uq_kb_documents_collection_source"),
    )
    op.create_table(
        "kb_chunks",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), primary_key=True),
        sa.Column(
            "document_id", sa.Integer(), sa.ForeignKey("kb_documents.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("collection", sa.String(100), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("heading", sa.String(1000), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
    )
    op.create_index("ix_kb_chunks_document_id", "kb_chunks", ["document_id"])
    op.create_index("ix_kb_chunks_collection", "kb_chunks", ["collection"])
    statements = SQLITE_SEARCH if op.get_bind().dialect.name == "sqlite" else POSTGRES_SEARCH
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("kb_chunks_fts_ai", "kb_chunks_fts_ad", "kb_chunks_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS kb_chunks_fts")
    op.drop_table("kb_chunks")
    op.drop_table("kb_documents")
