"""The real eight tools over HTTP, on the demo data: the seed's three curl examples, and every role."""

from __future__ import annotations

import httpx
import pytest

from conftest import ROLES, auth
from salesboost.api import create_app
from salesboost.config import Settings
from salesboost.tools.permissions import load_permissions

EXECUTE = "/api/v1/tools/execute"
EIGHT_TOOLS = {
    "knowledge_retriever", "compliance_check", "profile_reader", "price_calculator", "stage_classifier",
    "crm_integration", "sms_outreach", "competitor_analysis",
}


# --- the seed's three curl examples ----------------------------------------------------------------------


async def test_curl_crm_integration_list(demo: httpx.AsyncClient) -> None:
    """curl -X POST $URL/api/v1/tools/execute -H "Authorization: Bearer $COACH_KEY"
    -d '{"tool": "crm_integration", "payload": {"action": "list", "limit": 5}}'"""
    body = {"tool": "crm_integration", "payload": {"action": "list", "limit": 5}}
    response = await demo.post(EXECUTE, json=body, headers=auth("coach"))
    assert response.status_code == 200
    envelope = response.json()
    assert envelope["ok"] is True
    assert envelope["caller_role"] == "coach"
    result = envelope["result"]
    assert result["action"] == "list"
    assert [c["customer_id"] for c in result["customers"]] == [f"CUST00{i}" for i in range(1, 6)]
    assert result["count"] == 5
    assert result["total"] > 5
    assert result["next_cursor"] == "CUST005"


async def test_curl_sms_outreach_send(demo: httpx.AsyncClient) -> None:
    """curl -X POST $URL/api/v1/tools/execute -H "Authorization: Bearer $SDR_KEY" -H "Idempotency-Key: demo-1"
    -d '{"tool": "sms_outreach",
         "payload": {"action": "send", "customer_id": "CUST001", "message": "..."}}'"""
    message = "Hi John, does Tuesday 10am work for a demo?"
    payload = {"action": "send", "customer_id": "CUST001", "message": message}
    body = {"tool": "sms_outreach", "payload": payload}
    without_key = await demo.post(EXECUTE, json=body, headers=auth("sdr"))
    assert without_key.status_code == 428
    assert without_key.json()["error"]["code"] == "IDEMPOTENCY_KEY_REQUIRED"

    sent = await demo.post(EXECUTE, json=body, headers={**auth("sdr"), "Idempotency-Key": "demo-1"})
    assert sent.status_code == 200
    result = sent.json()["result"]
    assert result["action"] == "send"
    assert result["duplicate"] is False
    assert result["message"]["customer_id"] == "CUST001"
    assert result["message"]["status"] == "queued"
    assert result["sent_today"] == 1

    retried = await demo.post(EXECUTE, json=body, headers={**auth("sdr"), "Idempotency-Key": "demo-1"})
    assert retried.status_code == 200
    again = retried.json()["result"]
    assert again["duplicate"] is True
    assert again["message"]["message_id"] == result["message"]["message_id"]


async def test_curl_competitor_analysis(demo: httpx.AsyncClient) -> None:
    """curl -X POST $URL/api/v1/tools/execute -H "Authorization: Bearer $COACH_KEY"
    -d '{"tool": "competitor_analysis", "payload": {"competitor_name": "CompetitorA"}}'"""
    response = await demo.post(
        EXECUTE, json={"tool": "competitor_analysis", "payload": {"competitor_name": "CompetitorA"}},
        headers=auth("coach"),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    (report,) = body["result"]["competitors"]
    assert report["name"] == "CompetitorA"
    assert report["pricing"] is not None


# --- every role --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_lists_exactly_the_tools_the_matrix_gives_it(
    demo: httpx.AsyncClient, demo_settings: Settings, role: str
) -> None:
    matrix = load_permissions(demo_settings.permissions_file)
    expected = {name for name, perm in matrix.tools.items() if role in perm.roles}
    listed = (await demo.get("/api/v1/tools", headers=auth(role))).json()
    assert listed["role"] == role
    assert {t["name"] for t in listed["tools"]} == expected
    for name in EIGHT_TOOLS - expected:
        refused = await demo.post(EXECUTE, json={"tool": name, "payload": {}}, headers=auth(role))
        assert refused.status_code == 403, name
        assert refused.json()["error"]["code"] == "TOOL_FORBIDDEN"


async def test_per_action_roles_hold_over_http(demo: httpx.AsyncClient) -> None:
    create = {"tool": "crm_integration", "payload": {"action": "create", "data": {"name": "Nordwind GmbH"}}}
    coach = await demo.post(EXECUTE, json=create, headers={**auth("coach"), "Idempotency-Key": "c-1"})
    assert coach.status_code == 403
    assert coach.json()["error"]["details"]["action"] == "create"
    sdr = await demo.post(EXECUTE, json=create, headers={**auth("sdr"), "Idempotency-Key": "c-1"})
    assert sdr.status_code == 200
    assert sdr.json()["result"]["created"] is True


async def test_all_eight_tools_are_served_with_an_example_each(demo: httpx.AsyncClient) -> None:
    admin = (await demo.get("/api/v1/tools", headers=auth("admin"))).json()
    assert {t["name"] for t in admin["tools"]} == EIGHT_TOOLS
    assert all(t["examples"] for t in admin["tools"])
    document = (await demo.get("/openapi.json")).json()
    content = document["paths"][EXECUTE]["post"]["requestBody"]["content"]["application/json"]
    assert {e["value"]["tool"] for e in content["examples"].values()} == EIGHT_TOOLS


@pytest.mark.parametrize("flag", [0, 1, "true", "yes"])
async def test_compliance_marketing_flag_is_a_json_boolean(demo: httpx.AsyncClient, flag: object) -> None:
    payload = {"text": "Spring sale: 20% off this week.", "channel": "sms", "marketing": flag}
    response = await demo.post(EXECUTE, json={"tool": "compliance_check", "payload": payload}, headers=auth("sdr"))
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["error"]["details"]["errors"]] == ["marketing"]
    payload["marketing"] = True
    ok = await demo.post(EXECUTE, json={"tool": "compliance_check", "payload": payload}, headers=auth("sdr"))
    assert ok.status_code == 200


async def test_cache_stats_show_a_role_only_the_counts_of_its_own_tools(demo: httpx.AsyncClient) -> None:
    body = {"tool": "competitor_analysis", "payload": {"competitor_name": "CompetitorA", "aspect": "pricing"}}
    for _ in range(2):
        assert (await demo.post(EXECUTE, json=body, headers=auth("sdr"))).status_code == 200
    query = {"tool": "knowledge_retriever", "payload": {"query": "discount approval"}}
    assert (await demo.post(EXECUTE, json=query, headers=auth("npc"))).status_code == 200
    npc = (await demo.get("/api/v1/tools/cache/stats", headers=auth("npc"))).json()
    assert set(npc["by_tool"]) == {"knowledge_retriever"}
    assert [e["tool"] for e in npc["top_accessed"]] == ["knowledge_retriever"]
    assert "CompetitorA" not in str(npc)
    coach = (await demo.get("/api/v1/tools/cache/stats", headers=auth("coach"))).json()
    assert coach["by_tool"]["competitor_analysis"] == {"hits": 1, "misses": 1, "hit_rate": 0.5}
    assert all("key" not in e for e in coach["top_accessed"])
    admin = (await demo.get("/api/v1/tools/cache/stats", headers=auth("admin"))).json()
    assert any("CompetitorA" in e["key"] for e in admin["top_accessed"])


async def test_metrics_expose_the_six_tool_metrics(demo: httpx.AsyncClient) -> None:
    await demo.post(
        EXECUTE, json={"tool": "competitor_analysis", "payload": {"competitor_name": "CompetitorA"}},
        headers=auth("coach"),
    )
    text = (await demo.get("/metrics")).text
    for name in (
        "tool_calls_total", "tool_execution_duration_seconds", "tool_errors_total", "tool_cache_hit_rate",
        "tool_cache_operations_total", "tool_retry_attempts_total", "http_requests_total",
        "http_request_duration_seconds",
    ):
        assert f"# TYPE {name} " in text, name
    assert 'tool_calls_total{caller_role="coach",status="success",tool_name="competitor_analysis"}' in text



async def test_the_service_delivers_the_sms_outbox(demo_settings: Settings) -> None:
    """`salesboost serve` runs the outbox dispatcher: a queued text is sent without a separate process."""
    import asyncio

    settings = demo_settings.model_copy(update={"sms_dispatch_interval": 0.02})
    app = create_app(settings)
    send = {"tool": "sms_outreach", "payload": {"action": "send", "customer_id": "CUST002", "message": "Hello!"}}
    history = {"tool": "sms_outreach", "payload": {"action": "history", "customer_id": "CUST002"}}
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        sent = await http.post(EXECUTE, json=send, headers={**auth("sdr"), "Idempotency-Key": "deliver-1"})
        assert sent.json()["result"]["message"]["status"] == "queued"
        statuses: list[str] = []
        for _ in range(200):
            answer = await http.post(EXECUTE, json=history, headers=auth("sdr"))
            statuses = [m["status"] for m in answer.json()["result"]["messages"]]
            if statuses == ["sent"]:
                break
            await asyncio.sleep(0.02)
        assert statuses == ["sent"]


async def test_the_real_tools_in_a_providers_format(demo: httpx.AsyncClient) -> None:
    openai = (await demo.get("/api/v1/tools", params={"format": "openai"}, headers=auth("sdr"))).json()
    assert openai["not_strict"] == {}
    assert [t["function"]["strict"] for t in openai["tools"]] == [True] * len(openai["tools"])
    mcp = (await demo.get("/api/v1/tools", params={"format": "mcp"}, headers=auth("sdr"))).json()
    sms = next(t for t in mcp["tools"] if t["name"] == "sms_outreach")
    assert sms["annotations"]["openWorldHint"] is True
    assert sms["annotations"]["destructiveHint"] is True
