"""The FastAPI app factory: `create_app(settings)`, or `uvicorn --factory salesboost.api.app:create_app`.

The keys are read when the app is created (a bad key source fails at once, naming the variable); the runtime
is built by the composition root at start-up (the lifespan) unless an executor is given, and a runtime built
here is closed at shutdown (flushing the audit trail). A given executor stays its owner's to close. The
lifespan also runs the MCP session manager of `/mcp` (api/mcp.py), which calls the same executor.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from salesboost.api import dashboard, health, metrics, routes, sms, sms_webhooks, ws
from salesboost.api.auth import KeyStore
from salesboost.api.errors import ApiError, handle_api_error, handle_http_error, handle_validation_error
from salesboost.api.headers import SecurityHeadersMiddleware
from salesboost.api.limits import RequestLimitsMiddleware
from salesboost.api.mcp import PATH as MCP_PATH
from salesboost.api.mcp import McpEndpoint
from salesboost.api.openapi import install_openapi
from salesboost.api.service import Service
from salesboost.api.sessions import SessionOwners
from salesboost.api.stack import HotRoute, ServiceApp
from salesboost.assembly import build_runtime, frozen_startup, sms_dispatcher
from salesboost.config import Settings, get_settings
from salesboost.tools.executor import ToolExecutor
from salesboost.tools.warmup import Warmup

log = logging.getLogger(__name__)

DESCRIPTION = """\
SalesBoost Tools over HTTP. Authenticate with an API key, as `Authorization: Bearer <key>` or `X-API-Key`:
the key decides your role (a role in the body is ignored). Side-effecting calls need an `Idempotency-Key`
header. Every call answers the envelope (`ToolResult`); see docs/api.md for the status of each error code.
"""


def create_app(settings: Settings | None = None, *, executor: ToolExecutor | None = None) -> FastAPI:
    settings = settings or get_settings()
    keys = KeyStore.from_settings(settings)
    mcp = McpEndpoint(settings, keys)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if executor is None:
            runtime = build_runtime(settings, require_idempotency_key=True)
            serving = runtime.executor
        else:
            runtime, serving = None, executor
        try:
            keys.check_roles(serving.registry.roles)
            if settings.per_worker_state and not settings.redis_url:
                log.warning(
                    "per-worker state (SALESBOOST_PER_WORKER_STATE): rate limits, cache, circuit breakers and "
                    "events are this worker's own, not shared with the other workers"
                )
            if not keys.keys:
                log.warning(
                    "no API keys configured (SALESBOOST_API_KEYS, SALESBOOST_API_KEYS_FILE): every request "
                    "except /healthz and /readyz will be refused"
                )
            backends = serving.registry.backends
            owners = SessionOwners(
                backends.sessions(),
                max_per_key=settings.max_sessions_per_key,
                window_seconds=settings.sessions_window_seconds,
                cache_size=settings.api_max_sessions,
                clock=backends.clock,
            )
            # The models and rule packs load in a thread while the service already answers; /readyz waits for them.
            warmup = Warmup(serving.registry)
            warmup.start()
            app.state.service = Service(settings, serving, keys, owners, warmup)
            try:
                with frozen_startup(settings.gc_freeze):
                    async with sms_dispatcher(settings, serving), mcp.run():
                        yield
            finally:
                await warmup.aclose()
        finally:
            if runtime is not None:
                await runtime.aclose()

    app = ServiceApp(
        # Served past FastAPI's layers (api/stack.py); its FastAPI twin in `routes` documents it in OpenAPI.
        hot_routes=[HotRoute(routes.EXECUTE_PATH, "POST", routes.execute)],
        title="SalesBoost Tools",
        version=version("salesboost"),
        description=DESCRIPTION,
        lifespan=lifespan,
        # Prometheus (`/metrics`) is the service's telemetry; FastAPI's native OpenTelemetry layer would cost
        # a provider lookup on every request for nothing.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    # The last added runs first: the metrics count the limits' refusals too, and every answer gets the headers.
    app.add_middleware(
        RequestLimitsMiddleware, max_body_bytes=settings.max_body_bytes, body_timeout=settings.body_timeout
    )
    app.add_middleware(metrics.HttpMetricsMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    if settings.tracing:  # outermost: the calls' spans continue the caller's trace (off: not even imported)
        from salesboost.observability.tracing import TraceContextMiddleware

        app.add_middleware(TraceContextMiddleware)
    app.add_exception_handler(ApiError, handle_api_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_error)
    # `/mcp` first: behind the included routers, a request would be matched against each of their routes first.
    # A plain route (not a mount, which would redirect `/mcp` to `/mcp/`); outside OpenAPI, as MCP is not REST.
    app.router.routes.append(Route(MCP_PATH, mcp.app, name="mcp"))
    for module in (routes, health, metrics, ws, dashboard, sms, sms_webhooks):
        app.include_router(module.router)
    dashboard.mount_static(app)
    install_openapi(app)
    return app
