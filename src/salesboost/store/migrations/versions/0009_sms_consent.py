"""SMS compliance: scheduled sends (`status` `scheduled`, `send_at`: quiet hours and explicit scheduling).

Revision ID: 0009_sms_consent
Revises: 0008_audit_trace_id
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_sms_consent"
down_revision = "0008_audit_trace_id"
branch_labels = None
depends_on = None

OLD_STATUSES = ("queued", "sent", "delivered", "failed")
STATUSES = ("scheduled", *OLD_STATUSES)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    with op.batch_alter_table("sms_outbox") as batch:
        batch.add_column(sa.Column("send_at", sa.DateTime(timezone=True), nullable=True))
        batch.drop_constraint("status", type_="check")
        batch.create_check_constraint("status", _in("status", STATUSES))


def downgrade() -> None:
    op.execute("UPDATE sms_outbox SET status = 'queued' WHERE status = 'scheduled'")
    with op.batch_alter_table("sms_outbox") as batch:
        batch.drop_constraint("status", type_="check")
        batch.create_check_constraint("status", _in("status", OLD_STATUSES))
        batch.drop_column("send_at")
