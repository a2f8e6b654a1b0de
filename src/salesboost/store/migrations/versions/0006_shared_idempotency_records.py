"""One idempotency table for CRM creates and SMS sends, its keys scoped to the caller that sent them.

SMS sends kept their keys in `sms_outbox` (`idempotency_key`, unique, and `request_hash`); they move into
`idempotency_records` (scope `sms_outreach.send`, the message id as the resource), and those columns go.
A record's key gains an `owner`, the caller's API key id or role. Records written before had no owner: they
keep an empty one, which no caller has, so they are kept (and restored by the downgrade) but never replayed.

The downgrade gives each key back to the first record that used it, since the old tables hold a key once.

Revision ID: 0006_shared_idempotency_records
Revises: 0005_kb_term_statistics
Create Date: 2026-11-25
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006_shared_idempotency_records"
down_revision = "0005_kb_term_statistics"
branch_labels = None
depends_on = None

SMS_SCOPE = "sms_outreach.send"
PRIMARY_KEY = "pk_idempotency_records"
UNIQUE_SMS_KEY = "uq_sms_outbox_idempotency_key"

records = sa.table(
    "idempotency_records",
    sa.column("scope", sa.String()),
    sa.column("owner", sa.String()),
    sa.column("key", sa.String()),
    sa.column("request_hash", sa.String()),
    sa.column("resource_id", sa.String()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
outbox = sa.table(
    "sms_outbox",
    sa.column("id", sa.Integer()),
    sa.column("idempotency_key", sa.String()),
    sa.column("request_hash", sa.String()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    with op.batch_alter_table("idempotency_records") as batch:
        batch.add_column(sa.Column("owner", sa.String(100), nullable=False, server_default=""))
        batch.drop_constraint(PRIMARY_KEY, type_="primary")
        batch.create_primary_key(PRIMARY_KEY, ["scope", "owner", "key"])
    with op.batch_alter_table("idempotency_records") as batch:
        batch.alter_column("owner", existing_type=sa.String(100), existing_nullable=False, server_default=None)
    op.execute(
        records.insert().from_select(
            ["scope", "owner", "key", "request_hash", "resource_id", "created_at"],
            sa.select(
                sa.literal(SMS_SCOPE),
                sa.literal(""),
                outbox.c.idempotency_key,
                outbox.c.request_hash,
                sa.cast(outbox.c.id, sa.String(64)),
                outbox.c.created_at,
            ).where(outbox.c.idempotency_key.is_not(None)),
        )
    )
    with op.batch_alter_table("sms_outbox") as batch:
        batch.drop_constraint(UNIQUE_SMS_KEY, type_="unique")
        batch.drop_column("idempotency_key")
        batch.drop_column("request_hash")


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(records.c.scope, records.c.owner, records.c.key, records.c.request_hash, records.c.resource_id)
        .order_by(records.c.created_at, records.c.resource_id)
    ).all()
    first: dict[tuple[str, str], Any] = {}  # (scope, key) -> its first record
    later: list[dict[str, str]] = []
    for row in rows:
        if (row.scope, row.key) in first:
            later.append({"b_scope": row.scope, "b_owner": row.owner, "b_key": row.key})
        else:
            first[(row.scope, row.key)] = row
    if later:
        bind.execute(
            records.delete().where(
                records.c.scope == sa.bindparam("b_scope"),
                records.c.owner == sa.bindparam("b_owner"),
                records.c.key == sa.bindparam("b_key"),
            ),
            later,
        )

    # Every message had a request hash; those sent without a key get an empty one (it was never compared).
    with op.batch_alter_table("sms_outbox") as batch:
        batch.add_column(sa.Column("idempotency_key", sa.String(200), nullable=True))
        batch.add_column(sa.Column("request_hash", sa.String(64), nullable=False, server_default=""))
    keys = [
        {"b_id": int(row.resource_id), "b_key": row.key, "b_hash": row.request_hash}
        for row in first.values()
        if row.scope == SMS_SCOPE
    ]
    if keys:
        bind.execute(
            outbox.update()
            .where(outbox.c.id == sa.bindparam("b_id"))
            .values(idempotency_key=sa.bindparam("b_key"), request_hash=sa.bindparam("b_hash")),
            keys,
        )
    with op.batch_alter_table("sms_outbox") as batch:
        batch.alter_column("request_hash", existing_type=sa.String(64), existing_nullable=False, server_default=None)
        batch.create_unique_constraint(UNIQUE_SMS_KEY, ["idempotency_key"])
    op.execute(records.delete().where(records.c.scope == SMS_SCOPE))

    with op.batch_alter_table("idempotency_records") as batch:
        batch.drop_constraint(PRIMARY_KEY, type_="primary")
        batch.create_primary_key(PRIMARY_KEY, ["scope", "key"])
        batch.drop_column("owner")
