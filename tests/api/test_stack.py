"""The hot route (`POST /api/v1/tools/execute`) is served past FastAPI's layers: it must still pass the service's
own middleware and answer every outcome as a route of the router would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY

from conftest import auth
from salesboost.tools.executor import ToolExecutor

EXECUTE = "/api/v1/tools/execute"
ECHO = {"tool": "echo", "payload": {"text": "hi"}}


def answered(status: int, method: str = "POST", route: str = EXECUTE) -> float:
    value = REGISTRY.get_sample_value(
        "http_requests_total", {"method": method, "route": route, "status": str(status)}
    )
    return value or 0.0


async def test_a_call_gets_the_services_headers_and_is_counted_by_its_route(client: httpx.AsyncClient) -> None:
    before = answered(200)
    response = await client.post(EXECUTE, json=ECHO, headers=auth("coach"))
    assert response.status_code == 200
    assert response.json()["result"]["text"] == "hi"
    assert response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert answered(200) == before + 1


async def test_a_refusal_raised_by_the_handler_is_answered_as_the_registered_handler_does(
    client: httpx.AsyncClient,
) -> None:
    before = answered(401)
    response = await client.post(EXECUTE, json=ECHO)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AUTH_REQUIRED"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["x-frame-options"] == "DENY"
    assert answered(401) == before + 1


async def test_other_methods_reach_the_router_which_allows_only_post(client: httpx.AsyncClient) -> None:
    response = await client.put(EXECUTE, json=ECHO, headers=auth("coach"))
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


@pytest.fixture
async def behind_a_prefix(sample_app: FastAPI, sample_executor: ToolExecutor) -> AsyncIterator[httpx.AsyncClient]:
    """The app mounted by a proxy under `/sales` (uvicorn's `--root-path`): paths arrive with the prefix."""
    transport = httpx.ASGITransport(app=sample_app, root_path="/sales")
    async with sample_app.router.lifespan_context(sample_app), httpx.AsyncClient(
        transport=transport, base_url="http://testserver"
    ) as http:
        yield http
    await sample_executor.aclose()


async def test_the_route_is_matched_below_a_proxys_prefix(behind_a_prefix: httpx.AsyncClient) -> None:
    before = answered(200)
    response = await behind_a_prefix.post(f"/sales{EXECUTE}", json=ECHO, headers=auth("coach"))
    assert response.status_code == 200
    assert response.json()["result"]["text"] == "hi"
    assert answered(200) == before + 1


async def test_a_crash_reaches_the_server_and_is_counted_as_500(
    client: httpx.AsyncClient, sample_executor: ToolExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug, not a failed call")

    monkeypatch.setattr(sample_executor, "execute", crash)
    before = answered(500)
    with pytest.raises(RuntimeError, match="a bug"):  # the server logs it and answers 500
        await client.post(EXECUTE, json=ECHO, headers=auth("coach"))
    assert answered(500) == before + 1
