"""`GET /api/v1/tools/bandit/stats`: admin only; the policy, its parameters, and each arm's pulls and mean reward
after a choice made in Python and run over HTTP under the choice's call id."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from conftest import SAMPLE_ROLES, auth, make_settings
from salesboost.api import create_app
from salesboost.assembly import create_backends
from salesboost.tools.executor import ToolExecutor
from salesboost.tools.selection import SelectionContext
from sample_tools import make_registry, private_executor

STATS = "/api/v1/tools/bandit/stats"


@pytest.fixture
async def linucb(sqlite_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, ToolExecutor]]:
    settings = make_settings(sqlite_url, SAMPLE_ROLES, bandit_enabled=True, bandit_policy="linucb")
    executor = private_executor(make_registry(create_backends(settings)), require_idempotency_key=True)
    app = create_app(settings, executor=executor)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        yield http, executor
    await executor.aclose()


async def test_stats_show_the_policy_and_the_arms(linucb: tuple[httpx.AsyncClient, ToolExecutor]) -> None:
    http, executor = linucb
    for _ in range(3):
        choice = await executor.select_tool(["echo", "inline"], "coach", SelectionContext(stage="closing"))
        payload = {"text": "x"} if choice.tool == "echo" else {"seconds": 0}
        body = {"tool": choice.tool, "payload": payload, "tool_call_id": choice.tool_call_id}
        assert (await http.post("/api/v1/tools/execute", json=body, headers=auth("coach"))).status_code == 200
    response = await http.get(STATS, headers=auth("admin"))
    assert response.status_code == 200
    stats = response.json()
    assert stats["enabled"] is True
    assert stats["policy"] == "linucb"
    assert stats["store"] == "memory"
    assert set(stats["parameters"]) == {"alpha", "explore", "discount", "latency_budget_s"}
    assert sum(arm["pulls"] for arm in stats["arms"].values()) == 3
    assert all(0.5 <= arm["mean_reward"] <= 1.0 for arm in stats["arms"].values() if arm["pulls"])  # fast successes


async def test_stats_are_for_admins(client: httpx.AsyncClient) -> None:
    refused = await client.get(STATS, headers=auth("coach"))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "TOOL_FORBIDDEN"
    response = await client.get(STATS, headers=auth("admin"))
    assert response.status_code == 200
    body = response.json()
    assert (body["enabled"], body["policy"], body["epsilon"], body["arms"]) == (False, "epsilon_greedy", 0.1, {})
