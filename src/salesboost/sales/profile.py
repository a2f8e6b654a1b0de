"""`profile_reader`: a customer's persona (and, for sellers, contact details), from the customers table.

The profile is read from the same row `crm_integration` writes, never from a second copy. Results are cached
under the tag `customer:<id>`, which a CRM create or update of that customer drops at once.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

from pydantic import AliasChoices, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from salesboost.sales.crm.customers import PROFILE_FIELDS, CustomerId, cache_tag, customer_number
from salesboost.tools.base import Tool, ToolBackends, ToolContext, ToolInput, ToolOutput, ToolPolicy
from salesboost.tools.errors import ToolPermissionError

if TYPE_CHECKING:
    from salesboost.store.customers import Customer

# What a simulated buyer (the npc role) may know about the customer it plays: never how to reach them.
PERSONA_FIELDS: tuple[str, ...] = ("company", "contact_name", "industry", *PROFILE_FIELDS)
CONTACT_FIELDS: tuple[str, ...] = ("email", "phone")
PERSONA_ONLY_ROLES = frozenset({"npc"})

ProfileField = Literal[
    "company", "contact_name", "industry", "preferences", "personality", "pains", "communication_style",
    "email", "phone",
]
assert set(ProfileField.__args__) == {*PERSONA_FIELDS, *CONTACT_FIELDS}  # type: ignore[attr-defined]


class ProfileInput(ToolInput):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    customer_id: CustomerId = Field(
        validation_alias=AliasChoices("customer_id", "user_id"), description="The customer, e.g. CUST001."
    )
    field: ProfileField | None = Field(None, description="Only this field of the profile.")


class ProfileOutput(ToolOutput):
    customer_id: str
    found: bool
    profile: dict[str, Any] | None = None
    field: str | None = None
    value: Any = None

    @model_serializer(mode="wrap")
    def _shape(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """`{customer_id, profile, found}` for a whole profile, `{customer_id, field, value, found}` for one."""
        data: dict[str, Any] = handler(self)
        drop = ("profile",) if self.field is not None else ("field", "value")
        return {k: v for k, v in data.items() if k not in drop}


def profile_of(row: Customer, role: str) -> dict[str, Any]:
    """The fields this role may see, in a fixed order."""
    stored = row.profile or {}
    values: dict[str, Any] = {"company": row.name, "contact_name": row.contact, "industry": row.industry}
    values.update({name: stored.get(name) for name in PROFILE_FIELDS})
    if role not in PERSONA_ONLY_ROLES:
        values.update({"email": row.email, "phone": row.phone})
    return values


class ProfileReaderTool(Tool[ProfileInput, ProfileOutput]):
    name = "profile_reader"
    description = (
        "A customer's profile: company, contact name, industry, preferences, personality, pains and "
        "communication style (plus e-mail and phone for sellers). Use it to tailor what you say to this "
        "customer. Give customer_id (e.g. CUST001) and optionally field to get one value. found=false when "
        "there is no such customer."
    )
    Input = ProfileInput
    Output = ProfileOutput
    # An npc gets fewer fields than a seller for the same input: one cached answer per role.
    policy = ToolPolicy(read_only=True, cache_ttl=300.0, cache_by_role=True, timeout=5.0)
    examples = ({"customer_id": "CUST001"}, {"customer_id": "CUST002", "field": "communication_style"})

    async def run(self, args: ProfileInput, ctx: ToolContext) -> ProfileOutput:
        if args.field in CONTACT_FIELDS and ctx.caller_role in PERSONA_ONLY_ROLES:
            raise ToolPermissionError(
                f"role {ctx.caller_role!r} may not read field {args.field!r}; it sees the persona fields only: "
                + ", ".join(PERSONA_FIELDS),
                details={"field": args.field, "allowed_fields": list(PERSONA_FIELDS)},
            )
        from salesboost.sales.crm import rows  # the database's side, imported by the first call

        async with ctx.backends.sessions()() as session:
            row = await rows.load(session, customer_number(args.customer_id))
        if row is None:
            return ProfileOutput(customer_id=args.customer_id, found=False, field=args.field)
        profile = profile_of(row, ctx.caller_role)
        if args.field is not None:
            return ProfileOutput(customer_id=args.customer_id, found=True, field=args.field, value=profile[args.field])
        return ProfileOutput(customer_id=args.customer_id, found=True, profile=profile)

    def cache_tags(self, args: ProfileInput) -> tuple[str, ...]:
        return (cache_tag(args.customer_id),)

    def preview(self, output: ProfileOutput) -> str:
        if not output.found:
            return f"No customer {output.customer_id}"
        if output.field is not None:
            return f"{output.customer_id} {output.field}: {output.value}"
        return f"Profile of {output.customer_id} ({output.profile and output.profile.get('company')})"


def build(backends: ToolBackends) -> ProfileReaderTool:
    tool = ProfileReaderTool()
    tool.policy = replace(ProfileReaderTool.policy, cache_ttl=backends.settings.profile_cache_ttl)
    return tool
