"""What the observers (metrics, audit) read of a finished call: `tools.call.Call` is one, and this package does
not import the runtime."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel


class CallError(Protocol):
    @property
    def code(self) -> str: ...


class FinishedCall(Protocol):
    """A call once its outcome is known; the audit stamps its record's id on it."""

    audit_id: str | None

    @property
    def name(self) -> str: ...

    @property
    def role(self) -> str: ...

    @property
    def authorized(self) -> bool:
        """The role is configured and allowed: only then may it label a metric."""

    @property
    def caller_id(self) -> str | None: ...

    @property
    def tool_call_id(self) -> str: ...

    @property
    def session_id(self) -> str | None: ...

    @property
    def error(self) -> CallError | None: ...

    @property
    def retries(self) -> int: ...

    @property
    def elapsed(self) -> float:
        """Seconds, from the call's start to its outcome."""

    @property
    def latency_ms(self) -> float: ...

    @property
    def cached(self) -> bool: ...

    @property
    def args(self) -> BaseModel | None:
        """The validated input; None when the call failed before validation (then `payload` is recorded)."""

    @property
    def payload(self) -> Any: ...

    @property
    def result(self) -> dict[str, Any] | None: ...

    @property
    def trace_id(self) -> str | None: ...
