"""HTTP request metrics and `GET /metrics`, the Prometheus text of the global registry.

The registry holds the six tool metrics (`observability.metrics.default_metrics`, what the executor counts
into by default) and the two HTTP metrics below, labelled by route *template* (`/api/v1/tools/{name}`), never
the raw path, so a client cannot grow the label set. The HTTP metrics are created once per process, however
many apps are built in it (tests build several).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from starlette.responses import Response
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from salesboost.api.auth import bearer_token, token_matches, unauthorized
from salesboost.api.service import service_of

HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED = "<unmatched>"
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})

REQUESTS = Counter(
    "http_requests_total", "HTTP requests by method, route template, status.", ["method", "route", "status"]
)
DURATION = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=HTTP_BUCKETS,
)


class HttpMetricsMiddleware:
    """Pure ASGI (no per-request task or stream wrapping); labelled children are bound once and reused."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._histograms: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            template = getattr(scope.get("route"), "path", None) or _mount_of(scope) or UNMATCHED
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            self._observe(method, template, status, time.perf_counter() - start)

    def _observe(self, method: str, route: str, status: int, seconds: float) -> None:
        counter = self._counters.get((method, route, status))
        if counter is None:
            counter = self._counters[(method, route, status)] = REQUESTS.labels(method, route, str(status))
        counter.inc()
        histogram = self._histograms.get((method, route))
        if histogram is None:
            histogram = self._histograms[(method, route)] = DURATION.labels(method, route)
        histogram.observe(seconds)


def _mount_of(scope: Scope) -> str | None:
    """The mount (e.g. `/static`) a path fell under: FastAPI does not hand its route back to middleware."""
    path = scope["path"]
    for route in getattr(scope.get("app"), "routes", ()):
        if isinstance(route, Mount) and (path == route.path or path.startswith(route.path + "/")):
            return str(route.path)
    return None


router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus text; open unless `SALESBOOST_METRICS_TOKEN` is set, then it needs that bearer token."""
    expected = service_of(request).settings.metrics_token.get_secret_value()
    if expected and not token_matches(bearer_token(request), expected):
        raise unauthorized("send the metrics token as 'Authorization: Bearer <token>'")
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
