"""The MCP server: the tools an API key's role may call, over streamable HTTP at `/mcp` and over stdio.

Built on the official SDK's low-level `Server` (the tool list depends on the caller, which `MCPServer`'s fixed
registrations cannot express). Both transports call the service's own executor, as the REST routes do, with
the key's role and the key's id as caller: permissions, rate limits, cache, audit, metrics and events are the
REST ones. Over HTTP the key is the `Authorization: Bearer` token, checked by the SDK's bearer middleware
through `KeyVerifier` (which also binds each MCP session to the key that opened it); over stdio it is
`SALESBOOST_MCP_KEY`, read once at start.

A call answers `structuredContent` (the envelope's result) and the same JSON as text; a failed call answers
`isError` with the envelope's code and message as text (what the model reads to fix its call) and the error
itself, details and `retry_after` included, in `_meta`. A side-effecting call takes its idempotency key from
the request's `_meta.idempotency_key` (MCP has no header for it). A running call reports progress every second
to a client that asked for it, and a client's cancellation cancels the running tool. Tools only: no resources,
prompts or tasks.

Over HTTP a request of a session (protocol 2025-06-18 and 2025-11-25) is answered as one JSON object unless it
asked for progress, which comes as an event stream (`PerRequestTransport`); protocol 2026-07-28 requests are
the SDK's single exchanges, JSON unless the call reports progress or outlasts the SDK's keep-alive interval.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from importlib.metadata import version
from typing import Any

import mcp_types as types
from mcp.server._otel import OpenTelemetryMiddleware
from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import AuthorizationContext, BearerAuthBackend, RequireAuthMiddleware
from mcp.server.auth.provider import AccessToken
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.session import ServerSession
from mcp.server.stdio import stdio_server
from mcp.server.streamable_http import StreamableHTTPServerTransport, check_accept_headers
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.jsonrpc_dispatcher import progress_token_from_params
from pydantic import ConfigDict
from pydantic_core import from_json
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from salesboost.api.auth import ApiKey, KeyStore
from salesboost.api.service import service_of
from salesboost.config import Settings
from salesboost.tools.executor import ToolExecutor
from salesboost.tools.result import ToolResult
from salesboost.tools.schema import tools_for

log = logging.getLogger(__name__)

PATH = "/mcp"
PROGRESS_EVERY = 1.0  # seconds between the progress reports of a running call
IDEMPOTENCY_META = "idempotency_key"  # the request `_meta` entry that carries a write's idempotency key
INSTRUCTIONS = (
    "SalesBoost sales tools. The tools listed are the ones your API key's role may call. A side-effecting call "
    f"needs an idempotency key in the request's _meta ({IDEMPOTENCY_META!r}): a retry with the same key does "
    "the work once."
)

# Who is calling, and through which executor: the HTTP request's key and the service's executor, or stdio's.
CallerOf = Callable[[ServerRequestContext[Any, Any]], tuple[ToolExecutor, ApiKey]]


def build_server(
    caller_of: CallerOf, *, progress_every: float = PROGRESS_EVERY, sdk_spans: bool = True
) -> Server[Any]:
    """`sdk_spans`: the SDK's span per message (the parent of a call's span when tracing is on); off, it is
    dropped, as the service drops FastAPI's telemetry: a no-op tracer lookup per message, for nothing."""

    async def list_tools(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        executor, key = caller_of(ctx)
        return types.ListToolsResult(
            tools=[types.Tool.model_validate(t) for t in tools_for(executor.registry, key.role, "mcp")]
        )

    async def call_tool(
        ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        executor, key = caller_of(ctx)
        given = (params.meta or {}).get(IDEMPOTENCY_META)
        # The call runs in this handler's task, so a client's cancellation (which cancels the handler) reaches
        # the running tool; the progress reports go on beside it.
        reports = _ProgressReports(ctx.session, params.name, progress_every)
        try:
            result = await executor.execute(
                params.name, params.arguments, key.role, idempotency_key=None if given is None else str(given),
                caller_id=key.id,
            )
        finally:
            reports.stop()
        return call_result(result)

    server: Server[Any] = Server(
        "salesboost", version=version("salesboost"), instructions=INSTRUCTIONS,
        on_list_tools=list_tools, on_call_tool=call_tool,
    )
    if not sdk_spans:
        server.middleware = [m for m in server.middleware if not isinstance(m, OpenTelemetryMiddleware)]
    return server


class _ProgressReports:
    """Every `every` seconds of a call, the seconds it has run (no total: a tool's end cannot be foreseen), so
    that a client sees a long call is alive. The SDK sends nothing when the client asked for no progress. A
    call that ends before the first report (most do) costs a timer, not a task."""

    def __init__(self, session: ServerSession, tool: str, every: float) -> None:
        self._session, self._tool, self._every = session, tool, every
        self._task: asyncio.Task[None] | None = None
        self._timer = asyncio.get_running_loop().call_later(every, self._start)

    def _start(self) -> None:
        self._task = asyncio.ensure_future(self._report())

    async def _report(self) -> None:
        elapsed = self._every
        try:
            while True:
                await self._session.report_progress(elapsed, None, f"{self._tool} has run {elapsed:g} s")
                await asyncio.sleep(self._every)
                elapsed += self._every
        except Exception:  # a report that cannot be sent (the client left) must not outlive or fail the call
            log.debug("MCP progress report of %s not sent", self._tool, exc_info=True)

    def stop(self) -> None:
        self._timer.cancel()
        if self._task is not None:
            self._task.cancel()


def call_result(result: ToolResult) -> types.CallToolResult:
    """The envelope as MCP's tool result; the envelope's bookkeeping (call id, audit id, ...) in `_meta`."""
    meta = result.model_dump(include={"tool_call_id", "caller_role", "cached", "retry_count", "latency_ms", "audit_id"})
    error = result.error
    if error is None:
        text = json.dumps(result.result, ensure_ascii=False)
        return types.CallToolResult(
            content=[types.TextContent(text=text)], structured_content=result.result, _meta=meta
        )
    # The code and message are what the model reads; the details (field errors, retry_after) stay machine-readable.
    meta["error"] = error.model_dump()
    return types.CallToolResult(
        content=[types.TextContent(text=f"{error.code}: {error.message}")], is_error=True, _meta=meta
    )


# --- streamable HTTP -------------------------------------------------------------------------------------


class KeyToken(AccessToken):
    """An access token that is one of our API keys."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    key: ApiKey


class KeyVerifier:
    """The SDK's `TokenVerifier` over our key store: a bearer token is valid when it is a configured key."""

    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys

    async def verify_token(self, token: str) -> AccessToken | None:
        key = self.keys.authenticate(token)
        if key is None:
            return None
        # The key's id stands for the key itself, which is never kept (KeyStore keeps digests); the SDK binds an MCP
        # session to the `client_id` that opened it.
        return KeyToken(token=key.id, client_id=key.id, scopes=[], key=key)


def _http_caller(ctx: ServerRequestContext[Any, Any]) -> tuple[ToolExecutor, ApiKey]:
    """The key the bearer middleware accepted for this request (it refuses every request without one)."""
    request = ctx.request
    assert isinstance(request, Request)
    token = request.user.access_token
    assert isinstance(token, KeyToken)
    return service_of(request).executor, token.key


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """DNS-rebinding protection: the Host (and any Origin) must be one of `SALESBOOST_MCP_ALLOWED_HOSTS`; `*`
    switches the check off (behind a proxy that checks the host itself)."""
    hosts = [h.strip() for h in settings.mcp_allowed_hosts.split(",") if h.strip()]
    if "*" in hosts:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    origins = [f"{scheme}://{host}" for host in hosts for scheme in ("http", "https")]
    return TransportSecuritySettings(allowed_hosts=hosts, allowed_origins=origins)


# Whether the request being served is answered as one JSON object (see `PerRequestTransport`).
_ANSWER_AS_JSON: ContextVar[bool] = ContextVar("salesboost_mcp_answer_as_json", default=False)


class PerRequestTransport(StreamableHTTPServerTransport):
    """The SDK's session transport, choosing the form of each answer by what the request can be sent.

    Streamable HTTP lets a server answer a request with one JSON object or with an event stream, and the SDK
    chooses once for all the requests of a session: JSON drops a call's progress reports, the event stream
    costs a task group and a memory stream per request, about half the CPU of a quick call. Here a request
    is answered as JSON when nothing but its answer can be sent on it: it asked for no progress (no
    `_meta.progressToken`; our handlers send a request nothing else) and accepts JSON. A request that asked for
    progress gets the event stream and its reports, as before. Cancellation is a separate notification, the
    same for both: the cancelled request is answered `REQUEST_CANCELLED`.

    The SDK reads its mode (`is_json_response_enabled`) in the task serving a request (the answer's form, and
    whether the handler may send the client requests of its own) and in the session's message router, which was
    started with the session outside any request: the router always works as for event streams, handing a
    request's messages to that request's stream, where a JSON answer takes the only one, its answer.
    """

    @property
    def is_json_response_enabled(self) -> bool:
        return _ANSWER_AS_JSON.get()

    @is_json_response_enabled.setter
    def is_json_response_enabled(self, value: bool) -> None:
        """The SDK's constructor sets one mode for the session; here each request has its own."""

    async def _handle_post_request(self, scope: Scope, request: Request, receive: Receive, send: Send) -> None:
        # Starlette keeps the body, so the SDK's own read below costs nothing.
        token = _ANSWER_AS_JSON.set(_answered_alone(await request.body()) and check_accept_headers(request)[0])
        try:
            await super()._handle_post_request(scope, request, receive, send)
        finally:
            _ANSWER_AS_JSON.reset(token)


def _answered_alone(body: bytes) -> bool:
    """One JSON-RPC request that asked for no progress (anything else is the SDK's to judge, as before)."""
    try:
        message = from_json(body)
    except ValueError:
        return False
    return (
        isinstance(message, dict) and "id" in message and "method" in message
        and progress_token_from_params(message.get("params")) is None
    )


class SessionManager(StreamableHTTPSessionManager):
    """The SDK's session manager, its sessions on `PerRequestTransport`."""

    def _admit_session(self, requestor: AuthorizationContext | None) -> StreamableHTTPServerTransport | None:
        transport = super()._admit_session(requestor)
        if transport is not None:
            # The SDK builds the transport itself (there is no factory to give it): ours adds behaviour, no state.
            transport.__class__ = PerRequestTransport
        return transport


class McpEndpoint:
    """`/mcp` of the service behind the bearer check. `run()`, in the app's lifespan, starts its session manager:
    a new one each time, as a manager runs only once."""

    def __init__(self, settings: Settings, keys: KeyStore) -> None:
        self._server = build_server(_http_caller, sdk_spans=settings.tracing)
        self._security = transport_security(settings)
        self._max_body_bytes = settings.max_body_bytes
        self._manager: SessionManager | None = None
        self.app: ASGIApp = AuthenticationMiddleware(
            AuthContextMiddleware(RequireAuthMiddleware(self._handle, [])),
            backend=BearerAuthBackend(KeyVerifier(keys)),
        )

    @asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        # The manager's task group lives in a task of its own: anyio must leave a cancel scope in the task that
        # entered it, and a lifespan may be entered and left in different tasks (pytest fixtures, TestClient).
        manager = SessionManager(
            app=self._server, security_settings=self._security, max_request_body_size=self._max_body_bytes
        )
        started, stop = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(self._sessions(manager, started, stop), name="mcp-sessions")
        await started.wait()
        if task.done():
            task.result()  # the manager failed to start: say why
        try:
            yield
        finally:
            stop.set()
            await task

    async def _sessions(
        self, manager: SessionManager, started: asyncio.Event, stop: asyncio.Event
    ) -> None:
        try:
            async with manager.run():
                self._manager = manager
                started.set()
                await stop.wait()
        finally:
            self._manager = None
            started.set()

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self._manager is not None, "the app's lifespan runs the MCP session manager"
        await self._manager.handle_request(scope, receive, send)


# --- stdio -----------------------------------------------------------------------------------------------


async def serve_stdio(executor: ToolExecutor, key: ApiKey) -> None:
    """Serve one desktop client on stdin/stdout as `key`, until it closes the connection."""
    server = build_server(lambda ctx: (executor, key), sdk_spans=executor.settings.tracing)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())
