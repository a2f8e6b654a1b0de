"""The runtime a measurement runs on, and the timed calls through it.

A temporary SQLite file, migrated by the composition root on first use (or a database the user gives for the
measurement, `salesboost eval knowledge --database`), so that a measurement never writes into the configured
database; and no rate limit (a set is hundreds of calls from one caller); the other settings (rule pack, maximum
discount, model path) are the environment's, which is what makes a measurement describe the tools as configured.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from salesboost.assembly import Runtime, build_runtime
from salesboost.config import get_settings

ROLE = "admin"


class CallFailedError(RuntimeError):
    """A call of the set that the tool refused or could not answer; the message names the line."""


@asynccontextmanager
async def evaluation_runtime(database_url: str | None = None) -> AsyncIterator[Runtime]:
    """The runtime on `database_url` (a database the user gave for this, migrated), else on a temporary SQLite
    file."""
    with tempfile.TemporaryDirectory(prefix="salesboost-eval-") as folder:
        url = database_url or f"sqlite+aiosqlite:///{Path(folder) / 'eval.db'}"
        settings = get_settings().model_copy(update={"database_url": url, "rate_limit_enabled": False})
        runtime = build_runtime(settings)
        try:
            yield runtime
        finally:
            await runtime.aclose()


async def timed_call(runtime: Runtime, tool: str, payload: dict[str, Any], where: str) -> tuple[dict[str, Any], float]:
    """The call's result and the milliseconds its caller waited; a failed call stops the measurement."""
    start = time.perf_counter()
    result = await runtime.executor.execute(tool, payload, ROLE)
    elapsed_ms = (time.perf_counter() - start) * 1000
    if not result.ok or result.result is None:
        error = result.error
        reason = f"{error.code}: {error.message}" if error else "no result"
        raise CallFailedError(f"{where}: {tool} failed: {reason}")
    return result.result, elapsed_ms
