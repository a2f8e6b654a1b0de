"""The customer rows: made, loaded, paged and counted in the database. SQLAlchemy's side of the CRM, apart from
the ids, fields and views of `crm.customers`, so that the tools that name customers start without the database:
they import this module when they first read or write one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salesboost.sales.crm.customers import CustomerFields, search_document
from salesboost.store.customers import Customer, CustomerCount
from salesboost.tools.errors import ToolInputError


def new_customer(fields: CustomerFields, now: datetime, number: int | None = None) -> Customer:
    """A customer row from validated fields (defaults: stage opening, deal value 0 USD)."""
    if fields.name is None:
        raise ToolInputError(
            "invalid input: data.name: a new customer needs a name",
            details={"errors": [{"field": "data.name", "message": "required to create", "type": "missing"}]},
        )
    profile = fields.profile.model_dump(exclude_unset=True) if fields.profile is not None else {}
    row = Customer(
        name=fields.name,
        contact=fields.contact,
        email=fields.email,
        phone=fields.phone,
        industry=fields.industry,
        time_zone=fields.time_zone,
        stage=fields.stage or "opening",
        deal_value=fields.deal_value if fields.deal_value is not None else Decimal("0"),
        currency=fields.currency or "USD",
        owner=fields.owner,
        notes=fields.notes,
        profile=profile,
        created_at=now,
        updated_at=now,
    )
    if number is not None:
        row.number = number
    row.search_text = search_document(row.name, row.contact, row.email, row.industry)
    return row


async def load(session: AsyncSession, number: int) -> Customer | None:
    return await session.get(Customer, number)


async def find_by_phone(session: AsyncSession, phone: str) -> Customer | None:
    """The first customer with this E.164 phone."""
    return await session.scalar(select(Customer).where(Customer.phone == phone).order_by(Customer.number).limit(1))


async def page(session: AsyncSession, after: int | None, limit: int) -> tuple[Sequence[Customer], bool]:
    """Up to `limit` customers after number `after`, in id order, and whether more follow."""
    query = select(Customer).order_by(Customer.number).limit(limit + 1)
    if after is not None:
        query = query.where(Customer.number > after)
    rows = (await session.scalars(query)).all()
    return rows[:limit], len(rows) > limit


async def count(session: AsyncSession) -> int:
    """How many customers there are (a counter the database keeps: `count(*)` is slow at a million rows)."""
    return int(await session.scalar(select(CustomerCount.total)) or 0)
