"""The tool audit table.

Revision ID: 0001_tool_audit
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_tool_audit"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tool_audit",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tool", sa.String(100), nullable=False),
        sa.Column("caller_role", sa.String(50), nullable=False),
        sa.Column("tool_call_id", sa.String(200), nullable=False),
        sa.Column("session_id", sa.String(200), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error_code", sa.String(100), nullable=True),
        sa.Column("retry_count", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("cached", sa.Boolean(), nullable=False),
        sa.Column("input_hash", sa.String(64), nullable=False),
        sa.Column("result_hash", sa.String(64), nullable=True),
        sa.Column("input_preview", sa.Text(), nullable=False),
    )
    op.create_index("ix_tool_audit_created_at", "tool_audit", ["created_at"])
    op.create_index("ix_tool_audit_tool_created_at", "tool_audit", ["tool", "created_at"])
    op.create_index("ix_tool_audit_session_id", "tool_audit", ["session_id"])


def downgrade() -> None:
    op.drop_table("tool_audit")
