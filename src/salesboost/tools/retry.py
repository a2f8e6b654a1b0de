"""`ToolRetryPolicy`: which failures are worth another try, and how long to wait before it."""

from __future__ import annotations

import random
from dataclasses import dataclass

from salesboost.config import Settings
from salesboost.tools.errors import ToolError


@dataclass(frozen=True, slots=True)
class ToolRetryPolicy:
    """delay(attempt) = min(max_delay, base_delay * 2**attempt) scaled by a jitter in [1 - jitter, 1]."""

    enabled: bool = True
    max_attempts: int = 3
    base_delay: float = 1.0
    max_delay: float = 30.0
    jitter: float = 0.5

    @classmethod
    def from_settings(cls, settings: Settings) -> ToolRetryPolicy:
        return cls(
            enabled=settings.retry_enabled,
            max_attempts=settings.retry_max_attempts,
            base_delay=settings.retry_base_delay,
            max_delay=settings.retry_max_delay,
        )

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (0-based)."""
        capped = min(self.max_delay, self.base_delay * 2.0**attempt)
        return capped * (1.0 - self.jitter * random.random())

    @staticmethod
    def is_retryable(exc: BaseException) -> bool:
        """Transient failures only: timeouts, connection and OS errors, and errors a tool marks transient.

        Our own errors say for themselves (input, permission and not-found errors never retry); a domain
        failure is an answer, not an accident, and is never retried.
        """
        if isinstance(exc, ToolError):
            return exc.retryable
        return isinstance(exc, TimeoutError | ConnectionError | OSError)
