"""ToolRetryPolicy: the delay formula and what counts as transient."""

from __future__ import annotations

import pytest

from salesboost.tools.errors import (
    ToolDomainError,
    ToolInputError,
    ToolNotFoundError,
    ToolPermissionError,
    TransientToolError,
    is_transient,
)
from salesboost.tools.retry import ToolRetryPolicy


def test_delay_doubles_with_jitter_and_cap() -> None:
    policy = ToolRetryPolicy(base_delay=1.0, max_delay=5.0, jitter=0.5)
    for attempt, full in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 5.0), (8, 5.0)]:
        delays = [policy.delay(attempt) for _ in range(200)]
        assert all(full * 0.5 <= d <= full for d in delays)
        assert len(set(delays)) > 1  # jittered


def test_no_jitter_is_exact() -> None:
    assert ToolRetryPolicy(base_delay=0.5, jitter=0.0).delay(2) == 2.0


@pytest.mark.parametrize(
    ("exc", "retryable"),
    [
        (TimeoutError(), True),
        (ConnectionError(), True),
        (OSError(), True),
        (TransientToolError("busy"), True),
        (ValueError(), False),
        (ToolInputError("bad"), False),
        (ToolPermissionError("no"), False),
        (ToolNotFoundError("none"), False),
        (ToolDomainError("X", "no"), False),
    ],
)
def test_retryable(exc: BaseException, retryable: bool) -> None:
    assert is_transient(exc) is retryable
