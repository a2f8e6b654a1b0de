"""`ToolRetryPolicy`: how many tries a call gets and the wait before each (which failures earn another one is
`errors.is_transient`)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from salesboost.config import Settings


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

    def attempts(self, *, tool_retries: bool, side_effect: bool, safe_to_repeat: bool) -> int:
        """Tries for one call: a side effect is repeated only when safe (an idempotent tool, or a keyed call)."""
        if not self.enabled or not tool_retries or (side_effect and not safe_to_repeat):
            return 1
        return self.max_attempts

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (0-based)."""
        capped = min(self.max_delay, self.base_delay * 2.0**attempt)
        return capped * (1.0 - self.jitter * random.random())
