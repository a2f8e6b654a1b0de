"""Security headers on every HTTP response: a Content-Security-Policy, no framing, no MIME sniffing, no referrer.

A pure ASGI middleware that appends header lists built once, so the hot `execute` route pays one list
concatenation. The policy depends on what the path serves:

- the dashboard (`/dashboard`, `/static/*`) loads only its own files: no inline script or style (the page sets
  styles through the CSSOM, which CSP does not govern), images also from `data:` URLs (the stylesheet's icons),
  fetch and WebSocket only to this origin;
- FastAPI's `/docs` and `/redoc` load Swagger UI and ReDoc from cdn.jsdelivr.net and start them with an inline
  script, which needs `'unsafe-inline'` there: those pages hold no data (docs/security.md);
- everything else is JSON or text, which needs nothing: `default-src 'none'`.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_NO_FRAMES = "frame-ancestors 'none'"
DASHBOARD_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    f"base-uri 'none'; form-action 'none'; {_NO_FRAMES}"
)
_CDN = "https://cdn.jsdelivr.net"
DOCS_POLICY = (
    f"default-src 'none'; script-src {_CDN} 'unsafe-inline'; style-src {_CDN} 'unsafe-inline'; "
    f"img-src 'self' data: https://fastapi.tiangolo.com; font-src {_CDN} https://fonts.gstatic.com; "
    f"connect-src 'self'; worker-src blob:; base-uri 'none'; form-action 'none'; {_NO_FRAMES}"
)
API_POLICY = f"default-src 'none'; {_NO_FRAMES}"
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})

_COMMON = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


def _headers(policy: str) -> list[tuple[bytes, bytes]]:
    return [(b"content-security-policy", policy.encode()), *_COMMON]


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._dashboard = _headers(DASHBOARD_POLICY)
        self._docs = _headers(DOCS_POLICY)
        self._api = _headers(API_POLICY)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path == "/dashboard" or path.startswith("/static/"):
            extra = self._dashboard
        elif path in DOCS_PATHS:
            extra = self._docs
        else:
            extra = self._api

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
