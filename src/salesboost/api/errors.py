"""How failures become HTTP: the status of each envelope error code, and the body of a refused request.

A tool call always answers with the envelope (`ToolResult`); its error code decides the status. A request
refused before any call exists (no credentials, a bad query, an unknown route) answers `ErrorBody`: the
envelope's `ok` and `error` parts, so a client reads every failure the same way.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from salesboost.tools import errors as codes
from salesboost.tools.result import ToolErrorInfo, ToolResult

SESSION_FORBIDDEN = "SESSION_FORBIDDEN"
SESSION_LIMIT_REACHED = "SESSION_LIMIT_REACHED"
SESSION_UNAVAILABLE = "SESSION_UNAVAILABLE"
AUDIT_BACKLOG = "AUDIT_BACKLOG"  # the audit writer is behind: the service pushes back rather than lose records
REQUEST_INVALID = "REQUEST_INVALID"
NOT_FOUND = "NOT_FOUND"
ROLE_FORBIDDEN = "ROLE_FORBIDDEN"  # a non-tool route this key's role may not use (e.g. SMS consents)
SMS_WEBHOOK_NOT_CONFIGURED = "SMS_WEBHOOK_NOT_CONFIGURED"  # no provider auth token to check signatures with
SMS_SIGNATURE_INVALID = "SMS_SIGNATURE_INVALID"

# Envelope error code -> HTTP status. Any other code is a tool's domain failure: the call ran, 200.
STATUS_BY_CODE: dict[str, int] = {
    codes.TOOL_INPUT_INVALID: 422,
    codes.TOOL_FORBIDDEN: 403,
    codes.TOOL_NOT_FOUND: 404,
    codes.TOOL_DISABLED: 409,
    codes.TOOL_RATE_LIMITED: 429,
    codes.TOOL_TIMEOUT: 504,
    codes.TOOL_CIRCUIT_OPEN: 503,
    codes.TOOL_BUSY: 503,
    codes.TOOL_EXECUTION_FAILED: 502,
    codes.IDEMPOTENCY_KEY_REQUIRED: 428,
    SESSION_FORBIDDEN: 403,
    SESSION_LIMIT_REACHED: 429,
    SESSION_UNAVAILABLE: 503,
    AUDIT_BACKLOG: 503,
}
_RETRY_AFTER_CODES = frozenset({
    codes.TOOL_RATE_LIMITED, codes.TOOL_CIRCUIT_OPEN, codes.TOOL_BUSY, SESSION_LIMIT_REACHED, SESSION_UNAVAILABLE,
    AUDIT_BACKLOG,
})


def status_for(envelope: ToolResult) -> tuple[int, dict[str, str] | None]:
    """The HTTP status of a call's envelope, and `Retry-After` (whole seconds, at least 1) if it applies."""
    error = envelope.error
    return (200, None) if error is None else _status_of(error.code, error.details)


def _status_of(code: str, details: dict[str, Any]) -> tuple[int, dict[str, str] | None]:
    status = STATUS_BY_CODE.get(code, 200)
    if code in _RETRY_AFTER_CODES:
        headers = retry_after(details.get("retry_after"))
        if code == codes.TOOL_RATE_LIMITED and "limit" in details:  # the IETF RateLimit fields of the refusal
            headers["RateLimit-Limit"] = str(details["limit"])
            headers["RateLimit-Remaining"] = str(details.get("remaining", 0))
        return status, headers
    return status, None


def retry_after(wait: object) -> dict[str, str]:
    """`Retry-After` for a wait in seconds: whole seconds, at least 1."""
    seconds = math.ceil(wait) if isinstance(wait, int | float) else 1
    return {"Retry-After": str(max(1, seconds))}


def error_info(
    code: str, message: str, details: dict[str, Any] | None = None, retryable: bool = False
) -> ToolErrorInfo:
    return ToolErrorInfo(
        code=code, type="ApiError", message=message, retryable=retryable, details=details or {}
    )


class ErrorBody(BaseModel):
    """A request refused before any tool call: no credentials, a bad parameter, an unknown route."""

    ok: Literal[False] = False
    error: ToolErrorInfo


class ApiError(Exception):
    """Raised by a route or dependency; answered as `ErrorBody` with this status and headers."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        details: dict[str, Any] | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers
        self.body = ErrorBody(error=error_info(code, message, details, retryable))


def json_response(model: BaseModel, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Serialize with pydantic-core directly: no second validation, no `jsonable_encoder` walk."""
    return Response(model.model_dump_json(), status, headers, media_type="application/json")


def refusal(exc: codes.ToolError) -> ApiError:
    """A `ToolError` that refuses a request answering `ErrorBody` (no envelope), with the status of its code."""
    status, headers = _status_of(exc.code, exc.details)
    return ApiError(status, exc.code, exc.message, headers=headers, details=exc.details)


async def handle_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return json_response(exc.body, exc.status, exc.headers)


async def handle_validation_error(request: Request, exc: Exception) -> Response:
    """A bad query or path parameter: 422 with the field path of each error, like a tool's bad input."""
    assert isinstance(exc, RequestValidationError)
    errors = codes.field_errors(exc.errors())
    body = ErrorBody(error=error_info(REQUEST_INVALID, f"invalid request: {codes.summary(errors)}", {"errors": errors}))
    return json_response(body, 422)


async def handle_http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (unknown route, wrong method) in the same body as every other failure."""
    assert isinstance(exc, StarletteHTTPException)
    code = NOT_FOUND if exc.status_code == 404 else REQUEST_INVALID
    body = ErrorBody(error=error_info(code, str(exc.detail)))
    return json_response(body, exc.status_code, dict(exc.headers) if exc.headers else None)
