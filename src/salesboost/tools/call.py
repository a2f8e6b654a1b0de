"""`Call`: one call's facts and the state its steps share, from the first step to the last recorder."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel

    from salesboost.tools.cache import CacheKey
    from salesboost.tools.events import StatusCallback
    from salesboost.tools.registry import RegisteredTool
    from salesboost.tools.result import ToolErrorInfo


class Call:
    """Who asked for what (set at the start), what the steps found, and the outcome the recorders read."""

    __slots__ = (
        "args", "audit_id", "authorized", "cache_key", "cached", "callback", "caller_id", "elapsed", "entry", "error",
        "events", "exc", "failures", "idempotency_key", "latency_ms", "name", "output", "payload", "pending", "result",
        "retries", "role", "session_id", "start", "tool_call_id", "trace_id",
    )

    def __init__(
        self,
        name: str,
        payload: Any,
        role: str,
        tool_call_id: str,
        session_id: str | None,
        caller_id: str | None,
        idempotency_key: str | None,
        callback: StatusCallback | None,
        start: float,
    ) -> None:
        self.name = name
        self.payload = payload
        self.role = role
        self.tool_call_id = tool_call_id
        self.session_id = session_id
        self.caller_id = caller_id
        self.idempotency_key = idempotency_key
        self.callback = callback
        self.start = start
        self.events = False  # whether anybody listens: events are built only then
        self.pending: asyncio.Task[None] | None = None  # the callback delivery still running
        # What the steps found.
        self.entry: RegisteredTool | None = None
        self.authorized = False  # the role is configured and allowed: only then may it label a metric
        self.args: BaseModel | None = None
        self.cache_key: CacheKey | None = None
        self.cached = False
        self.retries = 0
        self.failures: list[tuple[float, BaseException]] | None = None  # each retry: when, after what failure
        self.output: BaseModel | None = None
        # The outcome.
        self.result: dict[str, Any] | None = None
        self.exc: BaseException | None = None
        self.error: ToolErrorInfo | None = None
        self.elapsed = 0.0
        self.latency_ms = 0.0
        self.audit_id: str | None = None
        self.trace_id: str | None = None  # the call's span's trace, when tracing is on

    def retried(self, exc: BaseException) -> None:
        """The next attempt starts now, after `exc` failed the last one (only the retry path pays for the list)."""
        if self.failures is None:
            self.failures = []
        self.failures.append((time.perf_counter(), exc))
        self.retries += 1

    @property
    def caller(self) -> str:
        """Whose budget a rate limit counts: the caller's key id, else its role."""
        return self.caller_id or self.role
