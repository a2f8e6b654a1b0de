"""Durable session ownership: `session_owners` (the key that claimed each session id) and the caller's key id
on every audit row, so that `/activity` shows a key only its own calls.

Ownership was kept in memory until now: no owner survives, so after the upgrade each session belongs to the
first key whose call is accepted in it. Audit rows written before have no key id (`caller_id` NULL): only
admin keys see them.

Revision ID: 0007_session_owners
Revises: 0006_shared_idempotency_records
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_session_owners"
down_revision = "0006_shared_idempotency_records"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "session_owners",
        sa.Column("session_id", sa.String(128), primary_key=True),
        sa.Column("key_id", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_session_owners_key_id_created_at", "session_owners", ["key_id", "created_at"])
    with op.batch_alter_table("tool_audit") as batch:
        batch.add_column(sa.Column("caller_id", sa.String(100), nullable=True))
        batch.create_index("ix_tool_audit_caller_id_created_at", ["caller_id", "created_at"])


def downgrade() -> None:
    with op.batch_alter_table("tool_audit") as batch:
        batch.drop_index("ix_tool_audit_caller_id_created_at")
        batch.drop_column("caller_id")
    op.drop_table("session_owners")
