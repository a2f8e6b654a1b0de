"""`crm_integration`: read, list, search, create and update customers in the database.

The database's side (`crm.rows`, `crm.search`, SQLAlchemy) is imported by the methods that use it: a process
whose calls never reach the CRM starts without it."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from salesboost.sales.action_output import ActionOutput
from salesboost.sales.crm.customers import (
    SEARCH_MIN_LENGTH,
    CustomerFields,
    CustomerId,
    CustomerView,
    apply_fields,
    cache_tag,
    customer_number,
)
from salesboost.sales.replay import IDEMPOTENCY_KEY_REUSED, claim_of, run_once
from salesboost.tools.base import StoredText, Tool, ToolBackends, ToolContext, ToolInput, ToolPolicy
from salesboost.tools.errors import ToolDomainError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from salesboost.sales.crm.search import CustomerSearch

CUSTOMER_NOT_FOUND = "CUSTOMER_NOT_FOUND"
CUSTOMER_VERSION_CONFLICT = "CUSTOMER_VERSION_CONFLICT"
IDEMPOTENCY_SCOPE = "crm_integration.create"
# An update without expected_version re-reads and re-applies when a concurrent write got in first.
UPDATE_ATTEMPTS = 3

Action = Literal["read", "list", "search", "create", "update"]
_NEEDS: dict[str, tuple[str, ...]] = {
    "read": ("customer_id",),
    "update": ("customer_id", "data"),
    "create": ("data",),
    "search": ("query",),
    "list": (),
}


class CrmInput(ToolInput):
    action: Action = Field("read", description="What to do; read is the default.")
    customer_id: CustomerId | None = Field(None, description="For read and update, e.g. CUST001.")
    data: CustomerFields | None = Field(None, description="For create and update: the fields to set.")
    expected_version: int | None = Field(
        None, ge=1, description="For update: fail with CUSTOMER_VERSION_CONFLICT if the customer changed since."
    )
    query: StoredText | None = Field(
        None,
        max_length=200,
        description="For search: text found in name, contact, e-mail or industry; 3 to 200 characters.",
    )
    limit: int = Field(10, ge=1, le=100, description="For list and search: at most this many customers.")
    cursor: CustomerId | None = Field(None, description="For list: the next_cursor of the previous page.")

    @field_validator("query")
    @classmethod
    def _query(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = " ".join(value.split())
        if len(value) < SEARCH_MIN_LENGTH:
            raise ValueError(f"needs at least {SEARCH_MIN_LENGTH} characters")
        return value

    @model_validator(mode="after")
    def _fields_for_action(self) -> CrmInput:
        missing = [name for name in _NEEDS[self.action] if getattr(self, name) is None]
        if missing:
            raise ValueError(f"action {self.action!r} needs {', '.join(missing)}")
        if self.action == "update" and self.data is not None and not self.data.model_fields_set:
            raise ValueError("action 'update' needs at least one field in data")
        return self


class CrmOutput(ActionOutput):
    keys_by_action: ClassVar[Mapping[str, frozenset[str]]] = {
        "read": frozenset({"customer"}),
        "update": frozenset({"customer", "updated_fields"}),
        "create": frozenset({"customer", "created"}),
        "list": frozenset({"customers", "count", "total", "next_cursor"}),
        "search": frozenset({"customers", "count"}),
    }

    action: Action
    customer: CustomerView | None = None
    customers: list[CustomerView] | None = None
    count: int | None = Field(None, description="Customers in this answer (list, search).")
    total: int | None = Field(None, description="Customers in the database (list).")
    next_cursor: str | None = Field(None, description="Pass as cursor for the next page; null on the last.")
    updated_fields: list[str] | None = None
    created: bool | None = Field(None, description="create: false when an idempotent retry returned the first.")


class CrmIntegrationTool(Tool[CrmInput, CrmOutput]):
    name = "crm_integration"
    description = (
        "The customer records (CRM). action=read with customer_id returns one customer (contact details, "
        "sales stage, deal value, profile). action=search with query finds customers whose name, contact, "
        "e-mail or industry contains the text (at least 3 characters). action=list pages through all "
        "customers (limit, cursor). action=create with data adds a customer; action=update with customer_id "
        "and data changes the given fields (pass expected_version to avoid overwriting someone else's edit). "
        "Stages: opening, discovery, presentation, objection_handling, closing, follow_up, won, lost."
    )
    Input = CrmInput
    Output = CrmOutput
    policy = ToolPolicy(
        read_only=False, action_field="action", write_actions=frozenset({"create", "update"}), timeout=10.0
    )
    error_codes = (CUSTOMER_NOT_FOUND, CUSTOMER_VERSION_CONFLICT, IDEMPOTENCY_KEY_REUSED)
    examples = (
        {"action": "read", "customer_id": "CUST001"},
        {"action": "search", "query": "acme", "limit": 5},
        {"action": "list", "limit": 20},
        {"action": "update", "customer_id": "CUST002", "data": {"stage": "presentation"}, "expected_version": 1},
        {"action": "create", "data": {"name": "Nordwind GmbH", "phone": "+49 30 901820", "industry": "Logistics"}},
    )

    def __init__(self, default_region: str) -> None:
        self.default_region = default_region

    @cached_property
    def search(self) -> CustomerSearch:
        """Built by the first search (with the database's side it needs)."""
        from salesboost.sales.crm.search import CustomerSearch

        return CustomerSearch()

    async def run(self, args: CrmInput, ctx: ToolContext) -> CrmOutput:
        if args.action == "read":
            return await self._read(args, ctx)
        if args.action == "list":
            return await self._list(args, ctx)
        if args.action == "search":
            return await self._search(args, ctx)
        if args.action == "create":
            return await self._create(args, ctx)
        return await self._update(args, ctx)

    async def _read(self, args: CrmInput, ctx: ToolContext) -> CrmOutput:
        from salesboost.sales.crm.rows import load

        assert args.customer_id is not None
        async with ctx.backends.sessions()() as session:
            row = await load(session, customer_number(args.customer_id))
            if row is None:
                raise _not_found(args.customer_id)
            return CrmOutput(action="read", customer=CustomerView.of(row))

    async def _list(self, args: CrmInput, ctx: ToolContext) -> CrmOutput:
        from salesboost.sales.crm.rows import count, page

        after = customer_number(args.cursor) if args.cursor is not None else None
        async with ctx.backends.sessions()() as session:
            rows, more = await page(session, after, args.limit)
            total = await count(session)
        views = [CustomerView.of(r) for r in rows]
        return CrmOutput(
            action="list",
            customers=views,
            count=len(views),
            total=total,
            next_cursor=views[-1].customer_id if more and views else None,
        )

    async def _search(self, args: CrmInput, ctx: ToolContext) -> CrmOutput:
        assert args.query is not None
        async with ctx.backends.sessions()() as session:
            rows = await self.search(session, args.query, args.limit)
        views = [CustomerView.of(r) for r in rows]
        return CrmOutput(action="search", customers=views, count=len(views))

    async def _create(self, args: CrmInput, ctx: ToolContext) -> CrmOutput:
        from salesboost.sales.crm.rows import load, new_customer

        assert args.data is not None
        fields = args.data.with_e164_phone(self.default_region)
        now = ctx.backends.clock()

        async def create(session: AsyncSession) -> tuple[CrmOutput, str]:
            row = new_customer(fields, now)
            session.add(row)
            await session.flush()
            view = CustomerView.of(row)
            return CrmOutput(action="create", customer=view, created=True), view.customer_id

        async def first(session: AsyncSession, customer_id: str) -> CrmOutput:
            row = await load(session, customer_number(customer_id))
            if row is None:
                raise _not_found(customer_id)
            return CrmOutput(action="create", customer=CustomerView.of(row), created=False)

        claim = claim_of(ctx, IDEMPOTENCY_SCOPE, fields.model_dump(mode="json", exclude_unset=True))
        output = await run_once(ctx.backends.sessions(), claim, now, create, first)
        if output.created and output.customer is not None:
            # A profile looked up (and cached as not found) before this id existed must not linger.
            ctx.backends.invalidate(cache_tag(output.customer.customer_id))
        return output

    async def _update(self, args: CrmInput, ctx: ToolContext) -> CrmOutput:
        from sqlalchemy.orm.exc import StaleDataError

        from salesboost.sales.crm.rows import load
        from salesboost.store.db import writing

        assert args.customer_id is not None
        assert args.data is not None
        fields = args.data.with_e164_phone(self.default_region)
        number = customer_number(args.customer_id)
        for attempt in range(1, UPDATE_ATTEMPTS + 1):
            try:
                async with writing(ctx.backends.sessions()) as session:
                    row = await load(session, number)
                    if row is None:
                        raise _not_found(args.customer_id)
                    if args.expected_version is not None and row.version != args.expected_version:
                        raise _conflict(args.customer_id, args.expected_version, row.version)
                    updated = apply_fields(row, fields, ctx.backends.clock())
                    await session.flush()
                    view = CustomerView.of(row)
                break
            except StaleDataError:
                if args.expected_version is not None or attempt == UPDATE_ATTEMPTS:
                    raise _conflict(args.customer_id, args.expected_version, None) from None
        ctx.backends.invalidate(cache_tag(view.customer_id))
        return CrmOutput(action="update", customer=view, updated_fields=updated)

    def preview(self, output: CrmOutput) -> str:
        if output.customer is not None:
            c = output.customer
            verb = {"create": "Created", "update": "Updated"}.get(output.action, "Customer")
            return f"{verb} {c.customer_id} {c.name} ({c.stage})"
        if output.action == "list":
            return f"Listed {output.count} of {output.total} customers"
        return f"Found {output.count} customers"


def _not_found(customer_id: str) -> ToolDomainError:
    return ToolDomainError(
        CUSTOMER_NOT_FOUND,
        f"no customer {customer_id}; use action=search or action=list to find the right id",
        details={"customer_id": customer_id},
    )


def _conflict(customer_id: str, expected: int | None, actual: int | None) -> ToolDomainError:
    return ToolDomainError(
        CUSTOMER_VERSION_CONFLICT,
        f"customer {customer_id} was changed by someone else (expected version {expected}, now {actual}); "
        "read it again and re-apply the change",
        details={"customer_id": customer_id, "expected_version": expected, "current_version": actual},
    )


def build(backends: ToolBackends) -> CrmIntegrationTool:
    return CrmIntegrationTool(default_region=backends.settings.phone_default_region)

