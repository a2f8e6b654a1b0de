"""The OpenTelemetry trace id of each call on its audit row (`trace_id`, indexed: a trace's calls are found
from the trace), written when tracing is on (`SALESBOOST_TRACING=true`). Rows written before have none.

Revision ID: 0008_audit_trace_id
Revises: 0007_session_owners
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_audit_trace_id"
down_revision = "0007_session_owners"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tool_audit") as batch:
        batch.add_column(sa.Column("trace_id", sa.String(32), nullable=True))
        batch.create_index("ix_tool_audit_trace_id", ["trace_id"])


def downgrade() -> None:
    with op.batch_alter_table("tool_audit") as batch:
        batch.drop_index("ix_tool_audit_trace_id")
        batch.drop_column("trace_id")
