"""SMS routes: the consent ledger (API keys of the admin and sdr roles)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.responses import Response

from salesboost.api.auth import ApiKey, Caller
from salesboost.api.errors import REQUEST_INVALID, ROLE_FORBIDDEN, ApiError, ErrorBody, json_response
from salesboost.api.service import service_of
from salesboost.clock import as_utc
from salesboost.sales.sms.consent import consents_of, record_consent, revoke_consent
from salesboost.sales.sms.numbers import InvalidPhoneError, recipient_e164
from salesboost.store.sms import SmsConsent

router = APIRouter(prefix="/api/v1/sms", tags=["sms"])
CONSENT_ROLES = frozenset({"admin", "sdr"})
Scope = Literal["marketing", "transactional"]


class ConsentIn(BaseModel):
    phone_number: str = Field(max_length=40, description="The number, international or national in the default region.")
    scope: Scope = "marketing"
    source: str = Field(min_length=1, max_length=200, description="Where the consent was captured.")
    written: bool = Field(description="Prior express written consent (needed for marketing texts).")


class RevokeIn(BaseModel):
    phone_number: str = Field(max_length=40)
    scope: Scope | None = Field(None, description="Only this scope; all when omitted.")


class ConsentView(BaseModel):
    id: int
    phone: str
    scope: str
    source: str
    written: bool
    consented_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None

    @classmethod
    def of(cls, row: SmsConsent) -> ConsentView:
        return cls(
            id=row.id, phone=row.phone, scope=row.scope, source=row.source, written=row.written,
            consented_at=as_utc(row.consented_at), revoked_at=as_utc(row.revoked_at) if row.revoked_at else None,
            revoked_by=row.revoked_by,
        )


class ConsentList(BaseModel):
    phone: str
    consents: list[ConsentView]


class Revoked(BaseModel):
    phone: str
    revoked: int = Field(description="Consents in force that were revoked.")


_ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorBody, "description": "`REQUEST_INVALID`: not a valid phone number."},
    401: {"model": ErrorBody, "description": "`AUTH_REQUIRED`: no API key, or an unknown one."},
    422: {"model": ErrorBody, "description": "`REQUEST_INVALID`: the body or a parameter is malformed."},
    403: {"model": ErrorBody, "description": "`ROLE_FORBIDDEN`: only admin and sdr keys manage consent."},
}


def _allowed(caller: ApiKey) -> None:
    if caller.role not in CONSENT_ROLES:
        raise ApiError(403, ROLE_FORBIDDEN, f"role {caller.role!r} may not manage SMS consent (admin, sdr may)")


def _phone(request: Request, raw: str) -> str:
    try:
        return recipient_e164(raw, service_of(request).settings.phone_default_region)
    except InvalidPhoneError as exc:
        raise ApiError(400, REQUEST_INVALID, f"phone_number {raw!r}: {exc}") from None


def _sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    return service_of(request).executor.registry.backends.sessions()


@router.post("/consents", status_code=201, response_model=ConsentView, responses=_ERRORS,
             summary="Record a consent to SMS")
async def add_consent(body: ConsentIn, request: Request, caller: Caller) -> Response:
    _allowed(caller)
    backends = service_of(request).executor.registry.backends
    consent = await record_consent(
        _sessions(request), _phone(request, body.phone_number), body.scope, f"{body.source} (by {caller.name})",
        body.written, backends.clock(),
    )
    return json_response(ConsentView.of(consent), 201)


@router.post("/consents/revoke", response_model=Revoked, responses=_ERRORS, summary="Revoke SMS consent")
async def revoke(body: RevokeIn, request: Request, caller: Caller) -> Response:
    _allowed(caller)
    phone = _phone(request, body.phone_number)
    backends = service_of(request).executor.registry.backends
    count = await revoke_consent(_sessions(request), phone, backends.clock(), f"api: {caller.name}", body.scope)
    return json_response(Revoked(phone=phone, revoked=count))


@router.get("/consents", response_model=ConsentList, responses=_ERRORS, summary="A number's consent ledger")
async def list_consents(
    request: Request, caller: Caller, phone_number: str = Query(max_length=40)
) -> Response:
    _allowed(caller)
    phone = _phone(request, phone_number)
    async with _sessions(request)() as session:
        rows = await consents_of(session, phone)
    return json_response(ConsentList(phone=phone, consents=[ConsentView.of(r) for r in rows]))
