"""`ExecutorParts`: what an executor works with, built by the composition root (`salesboost.assembly`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from salesboost.config import Settings
from salesboost.observability.metrics import ToolMetrics
from salesboost.tools.cache import ToolCache
from salesboost.tools.circuit import Breakers
from salesboost.tools.events import StatusEvents
from salesboost.tools.ratelimit import RateLimiter
from salesboost.tools.recorders import AuditSink, Recorder
from salesboost.tools.retry import ToolRetryPolicy
from salesboost.tools.selection import Bandit


@dataclass(slots=True, kw_only=True)
class ExecutorParts:
    settings: Settings
    cache: ToolCache
    metrics: ToolMetrics
    events: StatusEvents
    limiter: RateLimiter | None  # None: rate limits off (TOOL_RATE_LIMIT_ENABLED=false)
    breakers: Breakers
    retry: ToolRetryPolicy
    bandit: Bandit
    threads: ThreadPoolExecutor  # for blocking tools
    audit: AuditSink | None
    recorders: tuple[Recorder, ...]  # called in this order once a call's outcome is known
    closers: tuple[Callable[[], Awaitable[None]], ...] = ()  # what else closing the executor closes

    async def aclose(self) -> None:
        """Deliver pending callbacks, flush the audit trail and the bandit's updates, stop the threads, then the
        closers."""
        await self.events.callbacks.drain()
        await self.bandit.aclose()
        if self.audit is not None:
            await self.audit.aclose()
        self.threads.shutdown(wait=False, cancel_futures=True)
        for close in self.closers:
            await close()
