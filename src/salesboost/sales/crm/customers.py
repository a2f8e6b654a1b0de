"""Customers: public ids, the fields a caller may set (each validated), and the queries behind the CRM.

A customer's id is `CUST` + its database number zero-padded to three digits (`CUST001`, ..., `CUST1234`);
`CUST1` and `cust001` name the same customer. Search (in `crm.search`) is a case-insensitive substring
match in name, contact, e-mail and industry, served by the trigram index of migration 0002 on either database.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from salesboost.clock import as_utc, local_zone
from salesboost.sales.crm.phones import InvalidPhoneError, to_e164
from salesboost.tools.base import StoredText
from salesboost.tools.errors import ToolInputError

if TYPE_CHECKING:
    from salesboost.store.customers import Customer

ID_PREFIX = "CUST"
_ID = re.compile(rf"^{ID_PREFIX}(\d{{1,12}})$", re.IGNORECASE)
MAX_CUSTOMER_NUMBER = 2**31 - 1  # the number column is a 32-bit integer on PostgreSQL
SEARCH_MIN_LENGTH = 3  # a trigram index needs three characters to narrow anything down

# The stages the table allows (`store.customers.STAGES`: tests/sales/crm/test_crm.py holds the two equal).
Stage = Literal["opening", "discovery", "presentation", "objection_handling", "closing", "follow_up", "won", "lost"]


def format_customer_id(number: int) -> str:
    return f"{ID_PREFIX}{number:03d}"


def customer_number(customer_id: str) -> int:
    match = _ID.match(customer_id.strip())
    if match is None:
        raise ValueError(f"customer ids look like {ID_PREFIX}001, got {customer_id!r}")
    number = int(match.group(1))
    if number > MAX_CUSTOMER_NUMBER:  # refused here, so SQLite and PostgreSQL answer alike
        raise ValueError(f"customer ids run up to {format_customer_id(MAX_CUSTOMER_NUMBER)}, got {customer_id!r}")
    return number


def canonical_customer_id(value: str) -> str:
    """`cust1` -> `CUST001`: one spelling per customer, so cache tags and lookups agree."""
    return format_customer_id(customer_number(value))


CustomerId = Annotated[str, AfterValidator(canonical_customer_id)]


def cache_tag(customer_id: str) -> str:
    """The tag of every cached answer about this customer (canonical id): a write to it drops them all."""
    return f"customer:{customer_id}"


class CustomerProfile(BaseModel):
    """What the customer is like: the persona a seller (or a simulated buyer) works with."""

    model_config = ConfigDict(extra="forbid")

    preferences: list[Annotated[StoredText, Field(max_length=300)]] = Field(default_factory=list, max_length=20)
    personality: StoredText | None = Field(None, max_length=500)
    pains: list[Annotated[StoredText, Field(max_length=300)]] = Field(default_factory=list, max_length=20)
    communication_style: StoredText | None = Field(None, max_length=500)


PROFILE_FIELDS: tuple[str, ...] = tuple(CustomerProfile.model_fields)
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}$")
_REQUIRED = ("name", "stage", "deal_value", "currency")


class CustomerFields(BaseModel):
    """The fields `create` and `update` accept; only the ones given are written. Unknown ones are refused."""

    model_config = ConfigDict(extra="forbid")

    name: StoredText | None = Field(None, min_length=1, max_length=200, description="Company name.")
    contact: StoredText | None = Field(None, max_length=200, description="Contact person.")
    email: StoredText | None = Field(None, max_length=254)
    phone: StoredText | None = Field(None, max_length=40, description="Any format; stored as E.164.")
    industry: StoredText | None = Field(None, max_length=100)
    time_zone: str | None = Field(
        None,
        max_length=64,
        description="The customer's IANA time zone, e.g. America/Chicago: texts keep to quiet hours there.",
    )
    stage: Stage | None = None
    deal_value: Decimal | None = Field(None, ge=0, max_digits=14, decimal_places=2)
    currency: str | None = Field(None, pattern=r"^[A-Za-z]{3}$", description="ISO 4217 code, e.g. USD.")
    owner: StoredText | None = Field(None, max_length=100, description="The seller who owns the account.")
    notes: StoredText | None = Field(None, max_length=5000)
    profile: CustomerProfile | None = Field(None, description="Merged into the stored profile, key by key.")

    @field_validator(*_REQUIRED)
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null")
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not _EMAIL.match(value):
            raise ValueError("not an e-mail address")
        local, _, domain = value.rpartition("@")
        return f"{local}@{domain.lower()}"

    @field_validator("time_zone")
    @classmethod
    def _time_zone(cls, value: str | None) -> str | None:
        if value is not None and local_zone(value) is None:
            raise ValueError("not an IANA time zone name (e.g. America/Chicago)")
        return value

    @field_validator("currency")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        return value.upper() if value is not None else None

    def with_e164_phone(self, default_region: str, field_path: str = "data.phone") -> CustomerFields:
        """These fields with the phone in E.164 form (`TOOL_INPUT_INVALID` naming the field if it is invalid)."""
        if self.phone is None:
            return self
        try:
            phone = to_e164(self.phone, default_region)
        except InvalidPhoneError as exc:
            raise ToolInputError(
                f"invalid input: {field_path}: {exc}",
                details={"errors": [{"field": field_path, "message": str(exc), "type": "phone_invalid"}]},
            ) from None
        return self.model_copy(update={"phone": phone})


class CustomerView(BaseModel):
    """A customer as the tools return it."""

    customer_id: str
    name: str
    contact: str | None
    email: str | None
    phone: str | None
    industry: str | None
    time_zone: str | None
    stage: str
    deal_value: Decimal
    currency: str
    owner: str | None
    notes: str | None
    profile: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, row: Customer) -> CustomerView:
        return cls(
            customer_id=format_customer_id(row.number),
            name=row.name,
            contact=row.contact,
            email=row.email,
            phone=row.phone,
            industry=row.industry,
            time_zone=row.time_zone,
            stage=row.stage,
            deal_value=Decimal(row.deal_value).quantize(Decimal("0.01")),
            currency=row.currency,
            owner=row.owner,
            notes=row.notes,
            profile=dict(row.profile or {}),
            created_at=as_utc(row.created_at),
            updated_at=as_utc(row.updated_at),
            version=row.version,
        )


def search_document(name: str, contact: str | None, email: str | None, industry: str | None) -> str:
    """The lower-cased text search looks in; fields are kept apart by newlines, which no query contains."""
    return "\n".join(part.lower() for part in (name, contact, email, industry) if part)


def apply_fields(row: Customer, fields: CustomerFields, now: datetime) -> list[str]:
    """Write the given fields onto the row; returns their names. The version moves on at flush."""
    given = sorted(fields.model_fields_set)
    for name in given:
        if name == "profile":
            assert fields.profile is not None
            row.profile = {**(row.profile or {}), **fields.profile.model_dump(exclude_unset=True)}
        else:
            setattr(row, name, getattr(fields, name))
    if given:
        row.search_text = search_document(row.name, row.contact, row.email, row.industry)
        row.updated_at = now
    return given
