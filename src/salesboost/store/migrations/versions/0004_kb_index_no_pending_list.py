"""PostgreSQL: the knowledge search index takes inserts directly, without a pending list.

A GIN index with `fastupdate` (the default) queues new entries in an unsorted pending list until vacuum merges
them, and every search reads that whole list. After a bulk ingest it held the entire index: 371 pages scanned
per query, which doubled search p95 at 100,000 chunks (docs/performance.md). Ingesting is offline and rare,
searching is the hot path, so inserts pay instead. SQLite's FTS5 has no such list: nothing to do there.

Revision ID: 0004_kb_index_no_pending_list
Revises: 0003_knowledge
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "0004_kb_index_no_pending_list"
down_revision = "0003_knowledge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER INDEX ix_kb_chunks_tsv SET (fastupdate = off)")
        # Turning the option off stops new entries queueing; what is queued already is merged now.
        op.execute("SELECT gin_clean_pending_list('ix_kb_chunks_tsv')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER INDEX ix_kb_chunks_tsv RESET (fastupdate)")
