"""How a request reaches its handler: the service's middleware stack, built in one place.

The hot routes (`POST /api/v1/tools/execute`) pass the service's own middleware (`create_app` adds them:
limits, metrics, security headers, tracing) and go straight to their handler; every other request takes the
stack FastAPI builds around its router (its error and body-limit layers, the service's middleware, its exception
handlers and exit stack). Those layers and the router's matching were 5 to 10% of a hot request's throughput
under load (docs/performance.md, HTTP), and a hot handler needs none of them: it reads its request itself,
answers an `ApiError` as the registered handler does, and leaves a crash to the server, which logs it and
answers 500.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from salesboost.api.errors import ApiError, handle_api_error

Endpoint = Callable[[Request], Awaitable[Response]]


class HotRoute:
    """A route served without FastAPI's layers. It stands in `scope["route"]`, so the metrics label its
    requests by `path` like any route's."""

    def __init__(self, path: str, method: str, endpoint: Endpoint) -> None:
        self.path = path
        self.method = method
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self
        request = Request(scope, receive)
        try:
            response = await self.endpoint(request)
        except ApiError as exc:
            response = await handle_api_error(request, exc)
        await response(scope, receive, send)


class ServiceApp(FastAPI):
    """FastAPI, with its `hot_routes` taken out of its layers (but not out of the service's middleware)."""

    def __init__(self, *, hot_routes: list[HotRoute], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hot_routes = hot_routes

    def build_middleware_stack(self) -> ASGIApp:
        hot = {(route.method, route.path): self._wrapped(route) for route in self.hot_routes}
        return _Dispatch(hot, super().build_middleware_stack())

    def _wrapped(self, app: ASGIApp) -> ASGIApp:
        """`app` inside the service's own middleware, in the order FastAPI applies them to its router."""
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        return app


class _Dispatch:
    def __init__(self, hot: dict[tuple[str, str], ASGIApp], app: ASGIApp) -> None:
        self.hot = hot
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if root := scope.get("root_path"):  # a path below a proxy's prefix is matched without it, as routes are
                path = path.removeprefix(root)
            hot = self.hot.get((scope["method"], path))
            if hot is not None:
                await hot(scope, receive, send)
                return
        await self.app(scope, receive, send)
