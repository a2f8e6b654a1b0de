"""`/healthz` (the process answers) and `/readyz` (its database answers, its audit writer keeps up and the
tools' heavy parts are built; Redis, when configured, is reported: `degraded` while the shared state runs on its
local fallback).

Neither needs credentials: load balancers and orchestrators call them. They reveal no data, only which
dependency failed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from fastapi import APIRouter, Request
from sqlalchemy import text
from starlette.responses import Response

from salesboost.api.errors import json_response
from salesboost.api.models import Health, Readiness
from salesboost.api.service import service_of
from salesboost.config import Settings
from salesboost.tools.base import ToolBackends
from salesboost.tools.parts import SharedStatus
from salesboost.tools.recorders import AuditSink
from salesboost.tools.warmup import Warmup

log = logging.getLogger(__name__)

CHECK_TIMEOUT = 2.0

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
async def healthz() -> Response:
    return json_response(Health(status="ok"))


async def _database(backends: ToolBackends) -> str:
    if not backends.has_database:
        return "skipped"
    async with backends.sessions()() as session:
        await session.execute(text("SELECT 1"))
    return "ok"


def _audit(audit: AuditSink | None) -> str:
    """Not ready while the audit backlog is at its mark: the service refuses calls then (`AUDIT_BACKLOG`)."""
    if audit is None:
        return "skipped"
    if audit.backlogged:
        return f"error: audit backlog at its high-water mark {audit.high_water} ({audit.backlog} records not written)"
    return "ok"


def _warmup(warmup: Warmup | None) -> str:
    """Not ready until the models the tools build on first use are built (`tools.warmup`)."""
    return "skipped" if warmup is None else warmup.status()


async def _redis(shared: SharedStatus | None, settings: Settings) -> str:
    """The shared state's store: `degraded` while its parts use their local fallback."""
    if shared is not None:
        return await shared.probe()
    if settings.per_worker_state:
        return "skipped: per-worker state (SALESBOOST_PER_WORKER_STATE): limits, cache, breakers, events per worker"
    return "skipped"


async def _check(name: str, probe: Awaitable[str]) -> tuple[str, str]:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            return name, await probe
    except TimeoutError:
        return name, f"error: no answer within {CHECK_TIMEOUT:g} s"
    except Exception as exc:
        log.warning("readiness check %s failed: %s", name, exc)
        return name, f"error: {type(exc).__name__}"


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={
        503: {
            "model": Readiness,
            "description": "The database does not answer, the audit writer is behind, or a tool's model is not "
            "built yet (warming) or failed to build.",
        }
    },
    summary="Readiness: the database answers and the audit writer keeps up (Redis, when configured, is reported: "
    "ok or degraded)",
)
async def readyz(request: Request) -> Response:
    svc = service_of(request)
    results = await asyncio.gather(
        _check("database", _database(svc.executor.registry.backends)),
        _check("redis", _redis(svc.executor.parts.shared, svc.settings)),
    )
    checks = {**dict(results), "audit": _audit(svc.executor.audit), "warmup": _warmup(svc.warmup)}
    # Without Redis every part falls back to local state (docs/scale.md): the replica degrades, never unreadies,
    # so a Redis outage does not take every replica out of the load balancer.
    ready = not (checks["database"].startswith("error") or checks["audit"].startswith("error")) and (
        checks["warmup"] in ("ok", "skipped")
    )
    degraded = ready and checks["redis"].startswith(("degraded", "error"))
    body = Readiness(status="degraded" if degraded else "ready" if ready else "not_ready", checks=checks)
    return json_response(body, 200 if ready else 503)
