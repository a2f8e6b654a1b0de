"""Request limits no caller can lift for the others: how large the headers and the body may be, and how long the
body may take to arrive.

A pure ASGI middleware, so it counts the bytes as they are received: a body larger than
`SALESBOOST_MAX_BODY_BYTES` is refused with 413 before anything parses it, whether the client announced its
size (`Content-Length`, refused before a byte is read) or streams it (chunked). A body that has not finished
arriving `SALESBOOST_BODY_TIMEOUT` seconds after the request started is refused with 408, so a slow sender
holds a connection for a bounded time. Both answers close the connection: the rest of the body is never read.
A header block over `MAX_HEADER_BYTES` or `MAX_HEADERS` fields is refused with 431 here, whichever parser
uvicorn runs: h11 bounds it while reading, but httptools, the faster one and the default when installed, does
not. Idle connections are bounded by uvicorn (`serve.py`).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Coroutine
from typing import cast

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from salesboost.api.errors import ErrorBody, error_info
from salesboost.tools.running import await_with_deadline, step

REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
REQUEST_TIMEOUT = "REQUEST_TIMEOUT"
REQUEST_HEADERS_TOO_LARGE = "REQUEST_HEADERS_TOO_LARGE"
MAX_HEADER_BYTES = 16 * 1024  # names and values, as h11 counts them (uvicorn's h11_max_incomplete_event_size)
MAX_HEADERS = 100


class _Refused(Exception):
    """Raised out of `receive` to abandon the request; answered by the middleware."""

    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body


def _body(code: str, message: str) -> bytes:
    return ErrorBody(error=error_info(code, message)).model_dump_json().encode()


class RequestLimitsMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, body_timeout: float) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout
        self._too_large = _body(
            REQUEST_TOO_LARGE, f"the request body exceeds {max_body_bytes} bytes (SALESBOOST_MAX_BODY_BYTES)"
        )
        self._too_slow = _body(
            REQUEST_TIMEOUT, f"the request body did not arrive within {body_timeout:g} s (SALESBOOST_BODY_TIMEOUT)"
        )
        self._headers_too_large = _body(
            REQUEST_HEADERS_TOO_LARGE,
            f"the request headers exceed {MAX_HEADER_BYTES} bytes or {MAX_HEADERS} fields",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        headers = scope["headers"]
        if len(headers) > MAX_HEADERS or sum(len(name) + len(value) for name, value in headers) > MAX_HEADER_BYTES:
            if scope["type"] == "websocket":  # refused before the handshake is accepted: HTTP 403 to the client
                await send({"type": "websocket.close", "code": 1008})
            else:
                await _answer(send, 431, self._headers_too_large)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in headers:
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.max_body_bytes:
                    await _answer(send, 413, self._too_large)
                    return
                break
        deadline = time.monotonic() + self.body_timeout
        received = 0
        complete = started = False

        async def limited_receive() -> Message:
            nonlocal received, complete
            if complete:  # later receives wait for a disconnect, which may take as long as the response
                return await receive()
            message = await self._before(receive(), deadline)
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _Refused(413, self._too_large)
                complete = not message.get("more_body", False)
            else:
                complete = True
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _Refused as refused:
            if started:  # the app answered while still reading: nothing else can be said on this response
                raise
            await _answer(send, refused.status, refused.body)

    async def _before(self, pending: Awaitable[Message], deadline: float) -> Message:
        """The next message, or 408 past the deadline. A body already received needs no timer: stepping the
        receive by hand says so (`running.step`), and only a receive that really waits gets one."""
        if not isinstance(pending, Coroutine):
            pending = _awaited(pending)
        done, result = step(pending)
        if done:
            return cast(Message, result)
        try:
            return await await_with_deadline(result, deadline - time.monotonic())
        except TimeoutError:
            raise _Refused(408, self._too_slow) from None


async def _awaited(pending: Awaitable[Message]) -> Message:
    return await pending


async def _answer(send: Send, status: int, body: bytes) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
