"""Circuit breakers: after repeated execution failures of a tool, fail fast for a while.

Closed: calls pass. After `threshold` consecutive failures (timeouts, crashes; not domain answers or bad
input) it opens: calls answer TOOL_CIRCUIT_OPEN at once. After `reset_seconds` one trial call passes
(half-open); its success closes the circuit, its failure opens it again. `Breakers` owns one per tool;
`health` decides what trips them. `BreakerState` is what the executor needs of breakers; the ones shared by
replicas are `state.circuit.RedisBreakers`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from salesboost.tools.call import Call
from salesboost.tools.errors import ToolCircuitOpenError, ToolDomainError, ToolError, TransientToolError

Clock = Callable[[], float]


class BreakerState(Protocol):
    def check(self, tool: str) -> Awaitable[None] | None:
        """Refuse with `ToolCircuitOpenError` while the tool's circuit is open (shared: an awaitable that does)."""

    def record(self, call: Call) -> None: ...

    def state(self, tool: str) -> str: ...


def health(call: Call) -> bool | None:
    """What a finished call says of its tool: True it answered (a domain answer too), False it crashed or timed
    out, None nothing (a refusal, a cache hit)."""
    if call.entry is None or call.cached:
        return None
    exc = call.exc
    if exc is None or isinstance(exc, ToolDomainError):
        return True
    if not isinstance(exc, ToolError) or isinstance(exc, TransientToolError):
        return False
    return None


def open_error(tool: str, wait: float) -> ToolCircuitOpenError:
    return ToolCircuitOpenError(
        f"{tool} failed repeatedly and is paused; retry after {wait:.1f} s", details={"retry_after": round(wait, 3)}
    )


class CircuitBreaker:
    __slots__ = ("_clock", "failures", "opened_at", "reset_seconds", "threshold", "trial_running")

    def __init__(self, threshold: int, reset_seconds: float, clock: Clock = time.monotonic) -> None:
        self.threshold = threshold
        self.reset_seconds = reset_seconds
        self._clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self.trial_running = False

    def retry_after(self) -> float:
        """0.0 when a call may pass, else the seconds until the next trial."""
        if self.opened_at is None:
            return 0.0
        waited = self._clock() - self.opened_at
        if waited >= self.reset_seconds and not self.trial_running:
            self.trial_running = True
            return 0.0
        return max(self.reset_seconds - waited, 0.001)

    def record_success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self.trial_running = False

    def record_failure(self) -> None:
        self.failures += 1
        self.trial_running = False
        if self.failures >= self.threshold:
            self.opened_at = self._clock()

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half_open" if self._clock() - self.opened_at >= self.reset_seconds else "open"


class Breakers:
    """The breaker of each tool, made on its first failure."""

    def __init__(self, threshold: int, reset_seconds: float, clock: Clock = time.monotonic) -> None:
        self.threshold = threshold
        self.reset_seconds = reset_seconds
        self._clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}

    def check(self, tool: str) -> None:
        """Refuse with `ToolCircuitOpenError` while the tool's circuit is open."""
        breaker = self._breakers.get(tool)
        if breaker is not None and (wait := breaker.retry_after()):
            raise open_error(tool, wait)

    def record(self, call: Call) -> None:
        """Crashes and timeouts trip the breaker; an answer closes it; refusals and cache hits say nothing of
        the tool's health."""
        breaker = self._breakers.get(call.name)
        if breaker is None and call.exc is None:
            return  # an answer (or a hit) of a tool that never failed: nothing to change
        healthy = health(call)
        if healthy is None:
            return
        if healthy:
            if breaker is not None and breaker.failures:
                breaker.record_success()
        else:
            if breaker is None:
                breaker = self._breakers[call.name] = CircuitBreaker(self.threshold, self.reset_seconds, self._clock)
            breaker.record_failure()

    def state(self, tool: str) -> str:
        breaker = self._breakers.get(tool)
        return "closed" if breaker is None else breaker.state
