"""Request limits over HTTP: a body too large (announced or streamed) is 413 and a body too slow is 408, both
before anything parses it, and a header block too large is 431 whatever the parser, in the error body every
other refusal uses."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from conftest import SAMPLE_ROLES, auth, make_settings
from salesboost.api.limits import MAX_HEADER_BYTES, MAX_HEADERS
from salesboost.config import Settings

EXECUTE = "/api/v1/tools/execute"
BATCH = "/api/v1/tools/execute-batch"
LIMIT = 4096


@pytest.fixture
def sample_settings(sqlite_url: str) -> Settings:
    return make_settings(sqlite_url, SAMPLE_ROLES, max_body_bytes=LIMIT, body_timeout=0.3)


def _padded(size: int) -> bytes:
    """A valid execute body of exactly `size` bytes."""
    head, tail = b'{"tool": "echo", "payload": {"text": "', b'"}}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def _assert_refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.headers["connection"] == "close"
    assert response.json()["ok"] is False
    assert response.json()["error"]["code"] == code


async def _chunks(body: bytes, size: int = 1000, pause: float = 0.0) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        if pause:
            await asyncio.sleep(pause)
        yield body[start : start + size]


async def test_a_body_at_the_limit_is_read(client: httpx.AsyncClient) -> None:
    response = await client.post(EXECUTE, content=_padded(LIMIT), headers=auth("coach"))
    # The body was parsed: the tool's own input model refused the long text.
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "TOOL_INPUT_INVALID"


@pytest.mark.parametrize("route", [EXECUTE, BATCH])
async def test_a_larger_announced_body_is_413(client: httpx.AsyncClient, route: str) -> None:
    response = await client.post(route, content=_padded(LIMIT + 1), headers=auth("coach"))
    _assert_refused(response, 413, "REQUEST_TOO_LARGE")
    assert "SALESBOOST_MAX_BODY_BYTES" in response.json()["error"]["message"]


async def test_a_larger_chunked_body_is_413(client: httpx.AsyncClient) -> None:
    response = await client.post(EXECUTE, content=_chunks(_padded(LIMIT + 1)), headers=auth("coach"))
    assert "content-length" not in response.request.headers
    _assert_refused(response, 413, "REQUEST_TOO_LARGE")


async def test_a_lying_content_length_is_refused(client: httpx.AsyncClient) -> None:
    headers = {**auth("coach"), "Content-Length": "-1"}
    response = await client.post(EXECUTE, content=b"{}", headers=headers)
    _assert_refused(response, 413, "REQUEST_TOO_LARGE")


async def test_a_body_that_arrives_too_slowly_is_408(client: httpx.AsyncClient) -> None:
    body = _chunks(b'{"tool": "echo", "payload": {"text": "slow"}}', size=10, pause=0.1)
    response = await client.post(EXECUTE, content=body, headers=auth("coach"))
    _assert_refused(response, 408, "REQUEST_TIMEOUT")


async def test_a_chunked_body_in_time_is_served(client: httpx.AsyncClient) -> None:
    body = _chunks(b'{"tool": "echo", "payload": {"text": "hi"}}', size=10)
    response = await client.post(EXECUTE, content=body, headers=auth("coach"))
    assert response.status_code == 200
    assert response.json()["ok"] is True


def _filler(total: int, count: int = 1) -> dict[str, str]:
    """`count` headers whose names and values add up to `total` bytes."""
    each = total // count
    return {f"x-fill-{i:04d}": "v" * (each - len(f"x-fill-{i:04d}")) for i in range(count)}


async def test_headers_within_the_bound_are_served(client: httpx.AsyncClient) -> None:
    headers = {**auth("coach"), **_filler(MAX_HEADER_BYTES - 2000, count=MAX_HEADERS - 10)}
    response = await client.post(EXECUTE, json={"tool": "echo", "payload": {"text": "hi"}}, headers=headers)
    assert response.status_code == 200


@pytest.mark.parametrize(
    "filler", [_filler(MAX_HEADER_BYTES + 1), _filler(MAX_HEADERS * 20, count=MAX_HEADERS + 1)], ids=["bytes", "count"]
)
async def test_a_header_block_over_the_bound_is_431(client: httpx.AsyncClient, filler: dict[str, str]) -> None:
    headers = {**auth("coach"), **filler}
    response = await client.post(EXECUTE, json={"tool": "echo", "payload": {"text": "hi"}}, headers=headers)
    _assert_refused(response, 431, "REQUEST_HEADERS_TOO_LARGE")


def test_a_websocket_with_too_large_headers_is_refused(ws_client: TestClient) -> None:
    too_large = _filler(MAX_HEADER_BYTES + 1)
    with pytest.raises(WebSocketDisconnect) as refused, ws_client.websocket_connect("/ws", headers=too_large):
        pass
    assert refused.value.code == 1008


async def test_the_bound_holds_under_httptools(sample_app: FastAPI) -> None:
    """uvicorn's default parser when installed, httptools, bounds no header block: the service does."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(sample_app, http="httptools", log_level="warning"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(1000):
            if server.started:
                break
            await asyncio.sleep(0.01)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}{EXECUTE}"
        async with httpx.AsyncClient() as http:
            body = {"tool": "echo", "payload": {"text": "hi"}}
            assert (await http.post(url, json=body, headers=auth("coach"))).status_code == 200
            response = await http.post(url, json=body, headers={**auth("coach"), **_filler(64 * 1024, count=8)})
        _assert_refused(response, 431, "REQUEST_HEADERS_TOO_LARGE")
    finally:
        server.should_exit = True
        await serving
        sock.close()
