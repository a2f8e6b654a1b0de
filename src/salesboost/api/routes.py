"""The REST routes under `/api/v1/tools` (docs/contract.md, section 7).

A call answers with the envelope and the status of its error code (`errors.STATUS_BY_CODE`). The body of
`execute` and `execute-batch` is parsed here, after authentication, by pydantic straight from the bytes: a
body that is not JSON is a 400 and a malformed one a 422, both as an envelope, and a request without valid
credentials is a 401 whatever its body.
"""

from __future__ import annotations

import json
import os
import re
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from salesboost.api.auth import SECURITY, Caller, authenticate
from salesboost.api.errors import (
    AUDIT_BACKLOG,
    REQUEST_INVALID,
    ApiError,
    ErrorBody,
    error_info,
    json_response,
    refusal,
    retry_after,
    status_for,
)
from salesboost.api.models import (
    BanditStats,
    BatchRequest,
    BatchResponse,
    CacheStats,
    ExecuteRequest,
    ExportedToolList,
    ToolDescription,
    ToolList,
)
from salesboost.api.service import Service, service_of
from salesboost.masking import mask
from salesboost.observability.activity import Activity, read_activity
from salesboost.tools import errors as codes
from salesboost.tools.errors import ToolError, field_errors, summary
from salesboost.tools.idempotency import IDEMPOTENCY_KEY_MAX, IDEMPOTENCY_KEY_PATTERN
from salesboost.tools.result import ToolErrorInfo, ToolResult, envelope
from salesboost.tools.schema import Format

router = APIRouter(prefix="/api/v1/tools", tags=["tools"])
EXECUTE_PATH = f"{router.prefix}/execute"

BodyT = TypeVar("BodyT", bound=BaseModel)
# Every escape of a JSON text, in order: matching `\\.` as a pair keeps the count of backslashes, so in
# `C:\\ud800` the `\\u` is an escaped backslash then text, and only an odd run of backslashes escapes a `u`.
_ESCAPE = re.compile(
    rb"\\(?:(?P<high>u[dD][89abAB][0-9a-fA-F]{2})(?P<low>\\u[dD][c-fC-F][0-9a-fA-F]{2})?"
    rb"|(?P<lone_low>u[dD][c-fC-F][0-9a-fA-F]{2})|.)",
    re.DOTALL,
)
_UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No or bad credentials (with `WWW-Authenticate`)."}
}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait, then retry.", "schema": {"type": "string"}}}
EXECUTE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **_UNAUTHORIZED,
    400: {"model": ToolResult, "description": "The body is not JSON (`TOOL_INPUT_INVALID`)."},
    403: {"model": ToolResult, "description": "`TOOL_FORBIDDEN` for this role, or `SESSION_FORBIDDEN`."},
    404: {"model": ToolResult, "description": "`TOOL_NOT_FOUND`."},
    409: {"model": ToolResult, "description": "`TOOL_DISABLED`: the tool exists but is switched off."},
    422: {"model": ToolResult, "description": "`TOOL_INPUT_INVALID`, with the field path of each error."},
    428: {"model": ToolResult, "description": "`IDEMPOTENCY_KEY_REQUIRED` for a side-effecting call."},
    429: {
        "model": ToolResult,
        "description": "`TOOL_RATE_LIMITED`, or `SESSION_LIMIT_REACHED`: the key started its share of new sessions.",
        "headers": _RETRY_AFTER,
    },
    502: {"model": ToolResult, "description": "`TOOL_EXECUTION_FAILED`: the tool crashed."},
    503: {
        "model": ToolResult,
        "description": "`TOOL_CIRCUIT_OPEN`, `TOOL_BUSY` (no free worker), `SESSION_UNAVAILABLE` (the session's "
        "owner cannot be checked), or `AUDIT_BACKLOG` (the audit trail is behind; nothing ran).",
        "headers": _RETRY_AFTER,
    },
    504: {"model": ToolResult, "description": "`TOOL_TIMEOUT`."},
}
BATCH_RESPONSES: dict[int | str, dict[str, Any]] = {
    **_UNAUTHORIZED,
    400: {"model": ErrorBody, "description": "The body is not JSON."},
    403: {"model": ErrorBody, "description": "`SESSION_FORBIDDEN`: the session belongs to another key."},
    422: {"model": ErrorBody, "description": "The body does not match `BatchRequest`."},
    503: {
        "model": ErrorBody,
        "description": "`SESSION_UNAVAILABLE`: the session's owner cannot be checked; `AUDIT_BACKLOG`: the audit "
        "trail is behind, nothing ran.",
        "headers": _RETRY_AFTER,
    },
}
AUDIT_BACKLOG_MESSAGE = "the audit trail is behind: nothing ran; retry after Retry-After seconds"

# `execute` reads its header and authenticates by itself (no FastAPI dependency on the hot path); this
# declares both in the OpenAPI document.
EXECUTE_OPENAPI: dict[str, Any] = {
    "security": SECURITY,
    "parameters": [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": "Required for side-effecting calls: a retry with the same key does the work once.",
            "schema": {
                "type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX, "pattern": IDEMPOTENCY_KEY_PATTERN,
            },
        }
    ],
}


# --- execute ------------------------------------------------------------------------------------------


def _rejected(role: str, error: ToolErrorInfo, **known: Any) -> ToolResult:
    """The envelope of a call refused before it reached the executor."""
    return envelope(
        str(known.get("tool") or ""), str(known.get("tool_call_id") or f"rejected-{os.urandom(6).hex()}"), role,
        error=error,
    )


def _hold_audit_room(svc: Service, calls: int) -> dict[str, Any] | None:
    """Hold room in the audit backlog for the records of `calls` (None: held, `_release_audit_room` once they
    ran), or the details of a refusal: the audit writer is behind, and calls started now would take the records
    not written past `SALESBOOST_AUDIT_HIGH_WATER` (docs/architecture.md, audit durability)."""
    audit = svc.executor.audit
    if audit is None or audit.reserve(calls):
        return None
    return {"backlog": audit.backlog, "high_water": audit.high_water, "retry_after": audit.flush_interval}


def _release_audit_room(svc: Service, calls: int) -> None:
    if (audit := svc.executor.audit) is not None:
        audit.release(calls)


def _parse(model: type[BodyT], raw: bytes) -> BodyT | tuple[int, str, dict[str, Any]]:
    """The body as `model`, or (status, message, details): 400 when it is not JSON, 422 when malformed."""
    if b"\\u" in raw and _escapes_a_lone_surrogate(raw):
        # Not Unicode text (RFC 7493): nothing downstream (audit, logs, the answer itself) could encode it.
        return 400, "the request body escapes a lone UTF-16 surrogate: it is not valid Unicode text", {}
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        problems = exc.errors(include_url=False, include_input=False)
        if any(p["type"] == "json_invalid" for p in problems):
            return 400, "the request body is not valid JSON", {}
        errors = field_errors(problems, ("body",))
        return 422, f"invalid request: {summary(errors)}", {"errors": errors}


def _escapes_a_lone_surrogate(raw: bytes) -> bool:
    return any(
        (m["high"] is not None and m["low"] is None) or m["lone_low"] is not None for m in _ESCAPE.finditer(raw)
    )


def _known_fields(raw: bytes) -> dict[str, Any]:
    """Whatever the envelope of a rejected body can still name (its tool and call id)."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the interpreter's stack
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k in ("tool", "tool_call_id") if isinstance(v := data.get(k), str) and v.isprintable()}


@router.post(
    "/execute",  # served past FastAPI's layers (`EXECUTE_PATH`, api/stack.py); this one documents it
    response_model=ToolResult,
    responses=EXECUTE_RESPONSES,
    openapi_extra=EXECUTE_OPENAPI,
    summary="Run one tool call",
    description="Runs the call as the role of your API key and answers the envelope. The status follows the "
    "envelope's error code: 200 when the call ran (ok, or a domain failure such as CUSTOMER_NOT_FOUND).",
)
async def execute(request: Request) -> Response:
    caller = authenticate(request)
    svc = service_of(request)
    idempotency_key = request.headers.get("idempotency-key")
    raw = await request.body()
    body = _parse(ExecuteRequest, raw)
    if not isinstance(body, ExecuteRequest):
        status, message, details = body
        error = error_info(codes.TOOL_INPUT_INVALID, message, details)
        refused = _rejected(caller.role, error, **_known_fields(raw))
        return json_response(refused, status)
    try:
        claim = None if body.session_id is None else await svc.sessions.admit(body.session_id, caller)
    except ToolError as exc:
        error = codes.error_info(body.tool, exc)
        refused = _rejected(caller.role, error, tool=body.tool, tool_call_id=body.tool_call_id)
        return json_response(refused, *status_for(refused))
    if (backlog := _hold_audit_room(svc, 1)) is not None:
        error = error_info(AUDIT_BACKLOG, AUDIT_BACKLOG_MESSAGE, backlog, retryable=True)
        refused = _rejected(caller.role, error, tool=body.tool, tool_call_id=body.tool_call_id)
        return json_response(refused, *status_for(refused))
    try:
        result = await svc.executor.execute(
            body.tool, body.payload, caller.role, tool_call_id=body.tool_call_id, idempotency_key=idempotency_key,
            session_id=body.session_id, caller_id=caller.id, claim=claim,
        )
    finally:
        _release_audit_room(svc, 1)
    status, headers = status_for(result)
    return json_response(result, status, headers)


@router.post(
    "/execute-batch",
    response_model=BatchResponse,
    responses=BATCH_RESPONSES,
    openapi_extra={"security": SECURITY},
    summary="Run several tool calls in parallel",
    description="Each call answers its own envelope, in order; the batch answers 200 when it ran. Reads run "
    "concurrently; a side-effecting call is a barrier (the calls before it finish first, the calls after it start "
    "after it). A side-effecting call needs its own idempotency_key, else its envelope is "
    "IDEMPOTENCY_KEY_REQUIRED. With deadline_s, a call not started by then answers TOOL_TIMEOUT without running.",
)
async def execute_batch(request: Request) -> Response:
    caller = authenticate(request)
    svc = service_of(request)
    body = _parse(BatchRequest, await request.body())
    if not isinstance(body, BatchRequest):
        status, message, details = body
        raise ApiError(status, REQUEST_INVALID, message, details=details)
    try:
        claim = None if body.session_id is None else await svc.sessions.admit(body.session_id, caller)
    except ToolError as exc:
        raise refusal(exc) from None
    calls = len(body.calls)
    if (backlog := _hold_audit_room(svc, calls)) is not None:
        raise ApiError(
            503, AUDIT_BACKLOG, AUDIT_BACKLOG_MESSAGE, headers=retry_after(backlog["retry_after"]), details=backlog,
            retryable=True,
        )
    try:
        results = await svc.executor.execute_many(
            [call.model_dump(exclude_none=True) for call in body.calls], caller.role,
            max_concurrent=body.max_concurrent, session_id=body.session_id, caller_id=caller.id, claim=claim,
            deadline_s=body.deadline_s,
        )
    finally:
        _release_audit_room(svc, calls)
    succeeded = sum(r.ok for r in results)
    return json_response(BatchResponse(results=results, succeeded=succeeded, failed=len(results) - succeeded))


# --- reading ---------------------------------------------------------------------------------------------


@router.get(
    "",
    response_model=ToolList | ExportedToolList,
    responses={
        **_UNAUTHORIZED,
        422: {"model": ErrorBody, "description": "`REQUEST_INVALID`: an unknown `format`."},
    },
    summary="The tools your role may call",
    description="Without `format`, each tool with its schemas and policy. With `format`, the same tools ready "
    "to hand a model: `openai` (Chat Completions `tools`), `openai-responses` (Responses API function tools), "
    "`anthropic` or `mcp`; the OpenAI ones strict where the schema allows.",
)
async def list_tools(
    request: Request,
    caller: Caller,
    fmt: Annotated[Format | None, Query(alias="format", description="A model provider's tool format.")] = None,
) -> Response:
    svc = service_of(request)
    entries = svc.executor.registry.list_for_role(caller.role)
    if fmt is None:
        tools = [ToolDescription.model_validate(svc.schema_of(e)) for e in entries]
        return json_response(ToolList(role=caller.role, tools=tools))
    exported = [svc.export_of(e, fmt) for e in entries]
    return json_response(ExportedToolList(
        role=caller.role, format=fmt, tools=[x.tool for x in exported],
        not_strict={e.name: x.not_strict for e, x in zip(entries, exported, strict=True) if x.not_strict},
    ))


@router.get("/cache/stats", response_model=CacheStats, responses=_UNAUTHORIZED, summary="Cache statistics")
async def cache_stats(
    request: Request, caller: Caller, limit: Annotated[int, Query(ge=1, le=100)] = 10
) -> Response:
    executor = service_of(request).executor
    cache = executor.cache
    stats = await cache.statistics()
    if caller.is_admin:
        top = [{**entry, "key": mask(entry["key"])} for entry in cache.get_top_accessed(limit)]
    else:
        # An entry's key is another caller's input: other roles see the counts of the tools they may call.
        mine = {e.name for e in executor.registry.list_for_role(caller.role)}
        stats["by_tool"] = {tool: counts for tool, counts in stats["by_tool"].items() if tool in mine}
        top = [
            {**entry, "key": None}
            for entry in cache.get_top_accessed(limit + len(executor.registry))
            if entry["tool"] in mine
        ][:limit]
    return json_response(CacheStats.model_validate({**stats, "top_accessed": top}))


@router.get(
    "/bandit/stats",
    response_model=BanditStats,
    responses={**_UNAUTHORIZED, 403: {"model": ErrorBody, "description": "`TOOL_FORBIDDEN`: not an admin key."}},
    summary="Bandit statistics (admin)",
)
async def bandit_stats(request: Request, caller: Caller) -> Response:
    if not caller.is_admin:
        raise ApiError(403, codes.TOOL_FORBIDDEN, "only an admin key may read the bandit's statistics")
    executor = service_of(request).executor
    settings = executor.settings
    stats = await executor.bandit.statistics()
    return json_response(BanditStats.model_validate({
        **stats, "enabled": settings.bandit_enabled, "epsilon": settings.bandit_epsilon,
    }))


@router.get(
    "/activity",
    response_model=Activity,
    responses=_UNAUTHORIZED,
    summary="Per-tool rates and the latest calls, for the dashboard",
)
async def activity(
    request: Request, caller: Caller, window_seconds: Annotated[int, Query(ge=10, le=86_400)] = 300
) -> Response:
    svc = service_of(request)
    executor = svc.executor
    if executor.audit is not None:
        await executor.audit.flush()
    entries = executor.registry.list_for_role(caller.role)
    async with executor.registry.backends.sessions()() as session:
        result = await read_activity(
            session,
            window_seconds=window_seconds,
            tools=[e.name for e in entries],
            cacheable=[e.name for e in entries if e.policy.cache_ttl is not None],
            caller_id=None if caller.is_admin else caller.id,
        )
    return json_response(result)


@router.get(
    "/{name}",
    response_model=ToolDescription,
    responses={
        **_UNAUTHORIZED,
        403: {"model": ErrorBody, "description": "`TOOL_FORBIDDEN`: your role may not call it."},
        404: {"model": ErrorBody, "description": "`TOOL_NOT_FOUND`."},
        409: {"model": ErrorBody, "description": "`TOOL_DISABLED`."},
    },
    summary="One tool, with its JSON schemas",
)
async def get_tool(request: Request, caller: Caller, name: str) -> Response:
    svc = service_of(request)
    try:
        entry = svc.executor.describe(name, caller.role)
    except ToolError as exc:
        raise refusal(exc) from None
    return json_response(ToolDescription.model_validate(svc.schema_of(entry)))
