"""The stable error codes and the exceptions that carry them to the envelope.

`execute()` never raises: each of these becomes `ToolResult.error`. A tool raises `ToolDomainError` (or a
subclass) for a business failure: the call fails with the tool's own code and is never cached or retried.
A tool raises `TransientToolError` for a failure worth retrying (a flaky backend).
"""

from __future__ import annotations

from typing import Any

TOOL_NOT_FOUND = "TOOL_NOT_FOUND"
TOOL_DISABLED = "TOOL_DISABLED"
TOOL_FORBIDDEN = "TOOL_FORBIDDEN"
TOOL_INPUT_INVALID = "TOOL_INPUT_INVALID"
TOOL_RATE_LIMITED = "TOOL_RATE_LIMITED"
TOOL_TIMEOUT = "TOOL_TIMEOUT"
TOOL_CIRCUIT_OPEN = "TOOL_CIRCUIT_OPEN"
TOOL_EXECUTION_FAILED = "TOOL_EXECUTION_FAILED"


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


class ToolRateLimitedError(ToolError):
    code = TOOL_RATE_LIMITED
    retryable = True


class ToolCircuitOpenError(ToolError):
    code = TOOL_CIRCUIT_OPEN
    retryable = True


class ToolDomainError(ToolError):
    """A business failure a tool declares (`CUSTOMER_NOT_FOUND`, `SMS_OPTED_OUT`, ...)."""

    def __init__(self, code: str, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, code=code, details=details)


class TransientToolError(ToolError):
    """A failure that may pass on its own; the retry policy may try again."""

    retryable = True
