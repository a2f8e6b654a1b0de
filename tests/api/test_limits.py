"""Request limits over HTTP: a body too large (announced or streamed) is 413 and a body too slow is 408, both
before anything parses it, in the error body every other refusal uses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from conftest import SAMPLE_ROLES, auth, make_settings
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
