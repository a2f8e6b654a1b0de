"""The stable error codes and the exceptions that carry them to the envelope.

`execute()` never raises: each of these becomes `ToolResult.error`. A tool raises `ToolDomainError` (or a
subclass) for a business failure: the call fails with the tool's own code and is never cached or retried.
A tool raises `TransientToolError` for a failure worth retrying (a flaky backend). `error_info` turns any
exception into the envelope's error, and `field_errors` is the one flattening of pydantic's errors.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from salesboost.masking import mask
from salesboost.tools.result import ToolErrorInfo

log = logging.getLogger(__name__)

TOOL_NOT_FOUND = "TOOL_NOT_FOUND"
TOOL_DISABLED = "TOOL_DISABLED"
TOOL_FORBIDDEN = "TOOL_FORBIDDEN"
TOOL_INPUT_INVALID = "TOOL_INPUT_INVALID"
TOOL_RATE_LIMITED = "TOOL_RATE_LIMITED"
TOOL_TIMEOUT = "TOOL_TIMEOUT"
TOOL_CIRCUIT_OPEN = "TOOL_CIRCUIT_OPEN"
TOOL_BUSY = "TOOL_BUSY"
TOOL_EXECUTION_FAILED = "TOOL_EXECUTION_FAILED"
IDEMPOTENCY_KEY_REQUIRED = "IDEMPOTENCY_KEY_REQUIRED"


class ToolError(Exception):
    """Base of every error that maps onto an envelope code."""

    code: str = TOOL_EXECUTION_FAILED
    retryable: bool = False

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details or {}


class ToolNotFoundError(ToolError):
    code = TOOL_NOT_FOUND


class ToolDisabledError(ToolError):
    code = TOOL_DISABLED


class ToolPermissionError(ToolError):
    code = TOOL_FORBIDDEN


class ToolInputError(ToolError):
    """Bad input. `details["errors"]` lists `{field, message, type}` with the pydantic field path."""

    code = TOOL_INPUT_INVALID


class ToolIdempotencyKeyRequiredError(ToolError):
    """A side-effecting call without an idempotency key, where the caller's surface requires one."""

    code = IDEMPOTENCY_KEY_REQUIRED


class ToolRateLimitedError(ToolError):
    code = TOOL_RATE_LIMITED
    retryable = True


class ToolCircuitOpenError(ToolError):
    code = TOOL_CIRCUIT_OPEN
    retryable = True


class ToolBusyError(ToolError):
    """The call waited its whole timeout for a worker and never ran: the service's load, not the tool's fault
    (its breaker never hears of it), and not retried at once (more load is what it cannot take)."""

    code = TOOL_BUSY
    retryable = True


class ToolDomainError(ToolError):
    """A business failure a tool declares (`CUSTOMER_NOT_FOUND`, `SMS_OPTED_OUT`, ...)."""

    def __init__(self, code: str, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, code=code, details=details)


class TransientToolError(ToolError):
    """A failure that may pass on its own; the retry policy may try again."""

    retryable = True


def field_errors(problems: Iterable[Mapping[str, Any]], prefix: Sequence[str | int] = ()) -> list[dict[str, str]]:
    """pydantic's errors as `{field, message, type}`, the field a dotted path (`(root)` for the whole input)."""
    return [
        {
            "field": ".".join(str(p) for p in (*prefix, *problem.get("loc", ()))) or "(root)",
            "message": str(problem.get("msg", "")),
            "type": str(problem.get("type", "")),
        }
        for problem in problems
    ]


def summary(errors: Sequence[Mapping[str, str]]) -> str:
    """The first few field errors on one line, for a message an LLM can act on."""
    return "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])


def input_error(tool: str, exc: ValidationError) -> ToolInputError:
    errors = field_errors(exc.errors(include_url=False, include_input=False))
    return ToolInputError(f"invalid input for {tool}: {summary(errors)}", details={"errors": errors})


def error_info(tool: str, exc: BaseException) -> ToolErrorInfo:
    """The envelope's error for any exception: ours say for themselves, a timeout is TOOL_TIMEOUT, anything
    else a crash (logged with its traceback; its text masked and cut, since it may quote the caller's data)."""
    if isinstance(exc, ToolError):
        return ToolErrorInfo(
            code=exc.code, type=type(exc).__name__, message=exc.message, retryable=exc.retryable, details=exc.details
        )
    if isinstance(exc, TimeoutError):
        return ToolErrorInfo(
            code=TOOL_TIMEOUT, type="ToolTimeoutError", retryable=True, details={},
            message=f"{tool} did not answer in time ({exc}); try again, or narrow the request",
        )
    log.error("tool %s failed: %s", tool, mask(repr(exc)), exc_info=exc)
    # A database error's text is its SQL (and, unless the engine hides them, its values): nothing for the caller.
    said = "" if getattr(exc, "statement", None) is not None else mask(str(exc))[:300]
    return ToolErrorInfo(
        code=TOOL_EXECUTION_FAILED, type=type(exc).__name__, retryable=is_transient(exc),
        message=f"{tool} failed: {said or type(exc).__name__}", details={},
    )


def is_transient(exc: BaseException) -> bool:
    """Worth another try: timeouts, connection and OS errors, and our errors that say so.

    Input, permission and not-found errors never are; a domain failure is an answer, not an accident.
    """
    if isinstance(exc, ToolError):
        return exc.retryable and not isinstance(exc, ToolBusyError)
    return isinstance(exc, TimeoutError | ConnectionError | OSError)
