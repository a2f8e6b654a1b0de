"""A circuit breaker per tool: after repeated execution failures, fail fast for a while.

Closed: calls pass. After `threshold` consecutive failures (timeouts, crashes; not domain answers or bad
input) it opens: calls answer TOOL_CIRCUIT_OPEN at once. After `reset_seconds` one trial call passes
(half-open); its success closes the circuit, its failure opens it again.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class CircuitBreaker:
    __slots__ = ("_clock", "failures", "opened_at", "reset_seconds", "threshold", "trial_running")

    def __init__(self, threshold: int, reset_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
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
