"""Warming the tools' heavy parts (`Tool.heavy_parts`) ahead of the first call, off the event loop.

The service starts one `Warmup` at start-up: it answers `/healthz` at once, and `/readyz` says which part is
still warming (or failed to build) until every part is built.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from salesboost.tools.base import Heavy
from salesboost.tools.registry import ToolRegistry

log = logging.getLogger(__name__)


class Warmup:
    """Builds every heavy part of a registry's tools, one after the other, in a thread."""

    def __init__(self, registry: ToolRegistry) -> None:
        self.parts: tuple[Heavy[Any], ...] = tuple(part for entry in registry for part in entry.tool.heavy_parts())
        self._failed: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin warming in the background (from the running event loop)."""
        if self._task is None and self.parts:
            self._task = asyncio.create_task(asyncio.to_thread(self._warm), name="warmup")

    def _warm(self) -> None:
        for part in self.parts:
            try:
                part.warm()
            except Exception as exc:  # the calls that need it fail with the same error; the rest may serve
                log.error("could not warm %s: %s", part.name, exc)
                self._failed[part.name] = str(exc)

    def status(self) -> str:
        """`ok` when every part is built, `warming: <parts>` while some are not yet, `error: <cause>` when one
        failed to build."""
        if self._failed:
            return "error: " + "; ".join(self._failed.values())
        cold = [part.name for part in self.parts if not part.ready]
        return f"warming: {', '.join(cold)}" if cold else "ok"

    async def aclose(self) -> None:
        """Wait for a warm-up still running (its thread cannot be interrupted), so nothing outlives the service."""
        if self._task is not None:
            await self._task
