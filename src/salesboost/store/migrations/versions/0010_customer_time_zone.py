"""A customer's own time zone (`customers.time_zone`, an IANA name): the quiet hours of the texts sent to
them follow it rather than the zones their number maps to. Customers written before have none.

Revision ID: 0010_customer_time_zone
Revises: 0009_sms_consent
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_customer_time_zone"
down_revision = "0009_sms_consent"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("time_zone", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("time_zone")
