"""SMS compliance: scheduled sends (`status` `scheduled`, `send_at`: quiet hours and explicit scheduling), the
`marketing` mark of a text, the sender and messaging service a text went out with, and the consent ledger
`sms_consents`. Texts from before are not marketing and name no sender.

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
        batch.add_column(sa.Column("marketing", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("sender", sa.String(20), nullable=True))
        batch.add_column(sa.Column("messaging_service_sid", sa.String(64), nullable=True))
        batch.drop_constraint("status", type_="check")
        batch.create_check_constraint("status", _in("status", STATUSES))
    op.create_table(
        "sms_consents",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("written", sa.Boolean(), nullable=False),
        sa.Column("consented_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(200), nullable=True),
        sa.CheckConstraint(_in("scope", ("marketing", "transactional")), name="scope"),
    )
    op.create_index("ix_sms_consents_phone_scope", "sms_consents", ["phone", "scope"])


def downgrade() -> None:
    op.drop_table("sms_consents")
    op.execute("UPDATE sms_outbox SET status = 'queued' WHERE status = 'scheduled'")
    with op.batch_alter_table("sms_outbox") as batch:
        batch.drop_constraint("status", type_="check")
        batch.create_check_constraint("status", _in("status", OLD_STATUSES))
        batch.drop_column("messaging_service_sid")
        batch.drop_column("sender")
        batch.drop_column("marketing")
        batch.drop_column("send_at")
