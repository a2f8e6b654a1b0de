"""The REST routes over HTTP (in-process): every route, every status code, the envelope as the body."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from conftest import KEYS, auth
from salesboost.api import create_app, dashboard
from salesboost.assembly import create_backends
from salesboost.config import Settings
from salesboost.tools.executor import ToolExecutor
from sample_tools import make_registry, private_executor

EXECUTE = "/api/v1/tools/execute"
BATCH = "/api/v1/tools/execute-batch"


async def call(
    client: httpx.AsyncClient, role: str, tool: str, payload: dict[str, Any] | None = None, **fields: Any
) -> httpx.Response:
    headers = auth(role)
    key = fields.pop("idempotency_key", None)
    if key is not None:
        headers["Idempotency-Key"] = key
    body = {"tool": tool, "payload": payload or {}, **fields}
    return await client.post(EXECUTE, json=body, headers=headers)


def error_code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


# --- execute: success and the envelope -------------------------------------------------------------------


async def test_execute_answers_the_envelope_with_the_role_of_the_key(client: httpx.AsyncClient) -> None:
    response = await call(client, "coach", "echo", {"text": "hi", "times": 2}, tool_call_id="call-1")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["ok"] is True
    assert body["tool"] == "echo"
    assert body["tool_call_id"] == "call-1"
    assert body["caller_role"] == "coach"
    assert body["result"]["text"] == "hihi"
    assert body["error"] is None
    assert body["audit_id"]


async def test_a_role_in_the_body_is_ignored(client: httpx.AsyncClient) -> None:
    response = await call(client, "coach", "echo", {"text": "x"}, caller_role="admin")
    assert response.status_code == 200
    assert response.json()["caller_role"] == "coach"
    # "actions" update is admin-only: claiming admin in the body does not help a coach.
    refused = await call(
        client, "coach", "actions", {"action": "update"}, caller_role="admin", idempotency_key="k1"
    )
    assert refused.status_code == 403
    assert error_code(refused) == "TOOL_FORBIDDEN"
    assert refused.json()["caller_role"] == "coach"


async def test_x_api_key_header_authenticates_too(client: httpx.AsyncClient) -> None:
    response = await client.post(
        EXECUTE, json={"tool": "echo", "payload": {"text": "x"}}, headers={"X-API-Key": KEYS["npc"]}
    )
    assert response.status_code == 200
    assert response.json()["caller_role"] == "npc"


async def test_a_body_without_json_content_type_is_still_read_as_json(client: httpx.AsyncClient) -> None:
    """What `curl -d` sends (application/x-www-form-urlencoded) works."""
    response = await client.post(
        EXECUTE,
        content=b'{"tool": "echo", "payload": {"text": "x"}}',
        headers={**auth("coach"), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert response.json()["ok"] is True


# --- execute: each error code and its status --------------------------------------------------------------


async def test_domain_failure_is_200_with_its_own_code(client: httpx.AsyncClient) -> None:
    response = await call(client, "coach", "lookup", {"key": "missing"})
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is False
    assert body["error"]["code"] == "THING_NOT_FOUND"
    assert body["error"]["details"] == {"key": "missing"}


async def test_unknown_tool_is_404(client: httpx.AsyncClient) -> None:
    response = await call(client, "coach", "no_such_tool")
    assert response.status_code == 404
    assert error_code(response) == "TOOL_NOT_FOUND"
    assert response.json()["tool"] == "no_such_tool"


async def test_disabled_tool_is_409(client: httpx.AsyncClient, sample_executor: ToolExecutor) -> None:
    sample_executor.registry.disable("echo")
    response = await call(client, "coach", "echo", {"text": "x"})
    assert response.status_code == 409
    assert error_code(response) == "TOOL_DISABLED"


async def test_forbidden_role_is_403(client: httpx.AsyncClient) -> None:
    response = await call(client, "npc", "actions", {"action": "read"})
    assert response.status_code == 403
    assert error_code(response) == "TOOL_FORBIDDEN"


async def test_invalid_payload_is_422_with_the_field_path(client: httpx.AsyncClient) -> None:
    response = await call(client, "coach", "echo", {"text": "", "extra": 1})
    assert response.status_code == 422
    body = response.json()
    assert body["error"]["code"] == "TOOL_INPUT_INVALID"
    fields = {e["field"] for e in body["error"]["details"]["errors"]}
    assert fields == {"text", "extra"}


async def test_a_body_that_is_not_json_is_400_as_an_envelope(client: httpx.AsyncClient) -> None:
    response = await client.post(EXECUTE, content=b"{not json", headers=auth("coach"))
    assert response.status_code == 400
    body = response.json()
    assert body["ok"] is False
    assert body["error"]["code"] == "TOOL_INPUT_INVALID"
    assert body["caller_role"] == "coach"
    assert body["tool_call_id"].startswith("rejected-")


async def test_a_lone_surrogate_escape_is_400_not_a_crash(client: httpx.AsyncClient) -> None:
    coach = auth("coach")
    response = await client.post(EXECUTE, content=b'{"tool": "\\ud800x", "payload": {}}', headers=coach)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "TOOL_INPUT_INVALID"
    paired = await client.post(EXECUTE, content=b'{"tool": "\\ud83d\\ude00", "payload": {}}', headers=coach)
    assert paired.status_code == 404
    assert paired.json()["tool"] == "\U0001f600"
    batch = await client.post(BATCH, content=b'{"calls": [{"tool": "\\udc00"}]}', headers=coach)
    assert batch.status_code == 400


@pytest.mark.parametrize(
    ("text", "status"),
    [
        (rb"C:\\ud800\\dir", 200),  # an escaped backslash, then the letters ud800: plain text
        (rb"\\\\udc00", 200),  # two escaped backslashes
        (rb"\\\ud800", 400),  # an escaped backslash, then a real lone surrogate
        (rb"\\\ud83d\\ude00", 400),  # a real high surrogate; the escaped backslash leaves the low one text
    ],
)
async def test_only_a_real_escape_is_a_lone_surrogate(client: httpx.AsyncClient, text: bytes, status: int) -> None:
    content = b'{"tool": "echo", "payload": {"text": "' + text + b'"}}'
    response = await client.post(EXECUTE, content=content, headers=auth("coach"))
    assert response.status_code == status
    if status == 200:
        assert response.json()["result"]["text"] == text.decode().replace("\\\\", "\\")


@pytest.mark.parametrize("route", [EXECUTE, BATCH])
@pytest.mark.parametrize("where", ["payload", "top"])
async def test_deeply_nested_json_is_400_in_json(client: httpx.AsyncClient, route: str, where: str) -> None:
    nested = b"[" * 1500 + b"]" * 1500
    content = b'{"tool": "echo", "payload": {"x": ' + nested + b"}}" if where == "payload" else nested
    response = await client.post(route, content=content, headers=auth("coach"))
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json()["ok"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"payload": {}}, "body.tool"),
        ({"tool": "echo", "payload": [1]}, "body.payload"),
        ({"tool": "echo", "payload": {}, "unknown": 1}, "body.unknown"),
        ({"tool": "echo", "session_id": "spaces are not allowed"}, "body.session_id"),
    ],
)
async def test_a_malformed_body_is_422_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await client.post(EXECUTE, json=body, headers=auth("coach"))
    assert response.status_code == 422
    envelope = response.json()
    assert envelope["error"]["code"] == "TOOL_INPUT_INVALID"
    assert field in {e["field"] for e in envelope["error"]["details"]["errors"]}
    assert envelope["tool"] == body.get("tool", "")


async def test_rate_limited_is_429_with_retry_after(client: httpx.AsyncClient) -> None:
    for _ in range(2):
        assert (await call(client, "coach", "limited", {"seconds": 0})).status_code == 200
    response = await call(client, "coach", "limited", {"seconds": 0})
    assert response.status_code == 429
    assert error_code(response) == "TOOL_RATE_LIMITED"
    assert int(response.headers["Retry-After"]) >= 1
    assert (response.headers["RateLimit-Limit"], response.headers["RateLimit-Remaining"]) == ("2", "0")
    # The bucket is per key: another key still gets through.
    assert (await call(client, "npc", "limited", {"seconds": 0})).status_code == 200


async def test_timeout_is_504(client: httpx.AsyncClient) -> None:
    response = await call(client, "coach", "sleepy", {"seconds": 1})
    assert response.status_code == 504
    assert error_code(response) == "TOOL_TIMEOUT"


async def test_calls_that_find_no_free_worker_are_503_busy_and_never_trip_the_breaker(
    client: httpx.AsyncClient,
) -> None:
    # 8 worker threads, 0.6 s a run, 1 s timeout: two waves run, the rest are still queued at 1 s.
    answers = await asyncio.gather(*(call(client, "coach", "queued", {"seconds": 0.6}) for _ in range(24)))
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) == {200, 503}, statuses
    for busy in (a for a in answers if a.status_code == 503):
        assert error_code(busy) == "TOOL_BUSY"
        assert int(busy.headers["Retry-After"]) >= 1
    assert (await call(client, "coach", "queued", {"seconds": 0})).status_code == 200  # the circuit is closed


async def test_crash_is_502_then_open_circuit_is_503_with_retry_after(client: httpx.AsyncClient) -> None:
    for _ in range(2):  # circuit_failure_threshold=2 in these settings
        crashed = await call(client, "coach", "flaky", {"failures": 10, "kind": "value"})
        assert crashed.status_code == 502
        assert error_code(crashed) == "TOOL_EXECUTION_FAILED"
    response = await call(client, "coach", "flaky", {"failures": 0})
    assert response.status_code == 503
    assert error_code(response) == "TOOL_CIRCUIT_OPEN"
    assert int(response.headers["Retry-After"]) >= 1


# --- idempotency keys and sessions ------------------------------------------------------------------------


async def test_side_effecting_call_needs_an_idempotency_key(client: httpx.AsyncClient) -> None:
    refused = await call(client, "coach", "write", {})
    assert refused.status_code == 428
    assert error_code(refused) == "IDEMPOTENCY_KEY_REQUIRED"
    done = await call(client, "coach", "write", {}, idempotency_key="order-42")
    assert done.status_code == 200
    assert done.json()["ok"] is True


async def test_only_write_actions_need_an_idempotency_key(client: httpx.AsyncClient) -> None:
    read = await call(client, "admin", "actions", {"action": "read"})
    assert read.status_code == 200
    default_action = await call(client, "admin", "actions", {})  # the model's default action is read
    assert default_action.status_code == 200
    update = await call(client, "admin", "actions", {"action": "update"})
    assert update.status_code == 428
    keyed = await call(client, "admin", "actions", {"action": "update"}, idempotency_key="u-1")
    assert keyed.status_code == 200
    assert keyed.json()["result"]["text"].endswith(":u-1")


@pytest.mark.parametrize("key", ["k" * 201, "has space", "caf\u00e9"])
async def test_the_header_follows_the_batch_bodys_key_rule(client: httpx.AsyncClient, key: str) -> None:
    """One rule for the header and the batch body: a key either refuses is refused by the other."""
    header = await client.post(
        EXECUTE, json={"tool": "write", "payload": {}},
        headers={**auth("coach"), "Idempotency-Key": key.encode("utf-8")},  # type: ignore[dict-item]
    )
    assert header.status_code == 422
    assert error_code(header) == "TOOL_INPUT_INVALID"
    batch = await client.post(
        BATCH, json={"calls": [{"tool": "write", "payload": {}, "idempotency_key": key}]}, headers=auth("coach")
    )
    assert batch.status_code == 422


async def test_a_session_belongs_to_the_first_key_that_uses_it(client: httpx.AsyncClient) -> None:
    assert (await call(client, "coach", "echo", {"text": "a"}, session_id="s-coach")).status_code == 200
    stolen = await call(client, "npc", "echo", {"text": "b"}, session_id="s-coach")
    assert stolen.status_code == 403
    assert error_code(stolen) == "SESSION_FORBIDDEN"
    assert (await call(client, "admin", "echo", {"text": "c"}, session_id="s-coach")).status_code == 200
    assert (await call(client, "coach", "echo", {"text": "d"}, session_id="s-coach")).status_code == 200


# --- authentication ----------------------------------------------------------------------------------------

PROTECTED = [
    ("POST", EXECUTE),
    ("POST", BATCH),
    ("GET", "/api/v1/tools"),
    ("GET", "/api/v1/tools/echo"),
    ("GET", "/api/v1/tools/cache/stats"),
    ("GET", "/api/v1/tools/bandit/stats"),
    ("GET", "/api/v1/tools/activity"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer test-nobody-key-0123456789abcdef"},
        {"Authorization": f"Basic {KEYS['admin']}"},
        {"X-API-Key": "short"},
    ],
    ids=["none", "unknown-key", "wrong-scheme", "bad-header"],
)
async def test_every_api_route_needs_a_valid_key(
    client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str]
) -> None:
    response = await client.request(method, path, headers=headers, content=b"{not json")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["error"]["code"] == "AUTH_REQUIRED"


async def test_a_bad_query_without_credentials_is_still_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/tools/activity", params={"window_seconds": "many"})
    assert response.status_code == 401


async def test_health_routes_need_no_credentials(client: httpx.AsyncClient) -> None:
    live = await client.get("/healthz")
    assert live.status_code == 200
    assert live.json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready", "checks": {"database": "ok", "redis": "skipped", "audit": "ok", "warmup": "ok"}
    }


async def _readyz(settings: Settings) -> httpx.Response:
    registry = make_registry(create_backends(settings))
    executor = private_executor(registry, require_idempotency_key=True)
    app = create_app(settings, executor=executor)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        response = await http.get("/readyz")
    await executor.aclose()
    return response


async def test_readyz_is_503_when_the_database_does_not_answer(sample_settings: Settings) -> None:
    settings = sample_settings.model_copy(
        update={"database_url": "postgresql+asyncpg://nobody@127.0.0.1:1/none", "redis_url": "redis://127.0.0.1:1/0"}
    )
    response = await _readyz(settings)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["database"].startswith("error")
    assert body["checks"]["redis"].startswith("degraded: Redis unreachable at redis://127.0.0.1:1/0")


async def test_readyz_is_degraded_naming_redis_when_it_does_not_answer(sample_settings: Settings) -> None:
    response = await _readyz(sample_settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"}))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert (body["checks"]["database"], body["checks"]["audit"], body["checks"]["warmup"]) == ("ok", "ok", "ok")
    assert body["checks"]["redis"] == "degraded: Redis unreachable at redis://127.0.0.1:1/0, local fallback in use"


async def test_readyz_pings_a_live_redis(sample_settings: Settings, redis_url: str) -> None:
    response = await _readyz(sample_settings.model_copy(update={"redis_url": redis_url}))
    assert response.json() == {
        "status": "ready", "checks": {"database": "ok", "redis": "ok", "audit": "ok", "warmup": "ok"}
    }


async def test_unknown_route_is_404_in_the_error_body(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v2/nothing", headers=auth("coach"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


# --- reading the tools -----------------------------------------------------------------------------------


async def test_tool_list_has_only_the_tools_of_the_role_with_schemas(client: httpx.AsyncClient) -> None:
    coach = (await client.get("/api/v1/tools", headers=auth("coach"))).json()
    npc = (await client.get("/api/v1/tools", headers=auth("npc"))).json()
    assert coach["role"] == "coach"
    coach_names = {t["name"] for t in coach["tools"]}
    npc_names = {t["name"] for t in npc["tools"]}
    assert "actions" in coach_names
    assert "actions" not in npc_names
    echo = next(t for t in coach["tools"] if t["name"] == "echo")
    assert echo["input_schema"]["properties"]["text"]["maxLength"] == 50
    assert echo["cacheable"] is True


async def test_one_tool_and_its_refusals(client: httpx.AsyncClient, sample_executor: ToolExecutor) -> None:
    echo = await client.get("/api/v1/tools/echo", headers=auth("npc"))
    assert echo.status_code == 200
    assert echo.json()["name"] == "echo"
    missing = await client.get("/api/v1/tools/nothing", headers=auth("npc"))
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "TOOL_NOT_FOUND")
    forbidden = await client.get("/api/v1/tools/actions", headers=auth("npc"))
    assert (forbidden.status_code, forbidden.json()["error"]["code"]) == (403, "TOOL_FORBIDDEN")
    sample_executor.registry.disable("lookup")
    disabled = await client.get("/api/v1/tools/lookup", headers=auth("npc"))
    assert (disabled.status_code, disabled.json()["error"]["code"]) == (409, "TOOL_DISABLED")


async def test_cache_stats_count_hits_and_show_keys_masked_to_admin_only(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        await call(client, "coach", "echo", {"text": "mail jane@example.com"})
    stats = (await client.get("/api/v1/tools/cache/stats", headers=auth("coach"))).json()
    assert stats["hits"] == 2
    assert stats["misses"] == 1
    assert stats["by_tool"]["echo"]["hits"] == 2
    top = stats["top_accessed"][0]
    assert top["tool"] == "echo"
    assert top["access_count"] == 2
    assert "key" not in top
    admin = (await client.get("/api/v1/tools/cache/stats", headers=auth("admin"))).json()["top_accessed"][0]
    assert "jane@example.com" not in admin["key"]
    assert "j***@example.com" in admin["key"]


async def test_cache_stats_limit_is_validated(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/tools/cache/stats", params={"limit": 0}, headers=auth("coach"))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "REQUEST_INVALID"


# --- batch --------------------------------------------------------------------------------------------------


async def test_batch_runs_calls_and_answers_each_envelope_in_order(client: httpx.AsyncClient) -> None:
    calls = [
        {"tool": "echo", "payload": {"text": "one"}, "tool_call_id": "b1"},
        {"tool": "write", "payload": {}},
        {"tool": "lookup", "payload": {"key": "known"}},
        {"tool": "write", "payload": {}, "idempotency_key": "batch-write-1"},
        {"tool": "nothing"},
    ]
    response = await client.post(BATCH, json={"calls": calls, "max_concurrent": 2}, headers=auth("coach"))
    assert response.status_code == 200
    body = response.json()
    results = body["results"]
    assert [r["tool"] for r in results] == ["echo", "write", "lookup", "write", "nothing"]
    assert results[0]["tool_call_id"] == "b1"
    assert results[0]["result"]["text"] == "one"
    assert results[1]["error"]["code"] == "IDEMPOTENCY_KEY_REQUIRED"
    assert results[2]["ok"] is True
    assert results[3]["ok"] is True
    assert results[4]["error"]["code"] == "TOOL_NOT_FOUND"
    assert (body["succeeded"], body["failed"]) == (3, 2)
    assert all(r["caller_role"] == "coach" for r in results)


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b"{not json", 400),
        (b'{"calls": []}', 422),
        (b'{"calls": [{"payload": {}}]}', 422),
        (b'{"calls": [{"tool": "echo"}], "max_concurrent": 0}', 422),
    ],
)
async def test_batch_refuses_a_bad_body(client: httpx.AsyncClient, content: bytes, status: int) -> None:
    response = await client.post(BATCH, content=content, headers=auth("coach"))
    assert response.status_code == status
    assert response.json()["error"]["code"] == "REQUEST_INVALID"


async def test_batch_refuses_more_than_fifty_calls(client: httpx.AsyncClient) -> None:
    calls = [{"tool": "echo", "payload": {"text": "x"}}] * 51
    response = await client.post(BATCH, json={"calls": calls}, headers=auth("coach"))
    assert response.status_code == 422


async def test_batch_in_a_session_of_another_key_is_403(client: httpx.AsyncClient) -> None:
    await call(client, "coach", "echo", {"text": "a"}, session_id="mine")
    body = {"calls": [{"tool": "echo", "payload": {"text": "x"}}], "session_id": "mine"}
    response = await client.post(BATCH, json=body, headers=auth("npc"))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "SESSION_FORBIDDEN"


# --- activity -----------------------------------------------------------------------------------------------


async def test_activity_rates_and_recent_calls(client: httpx.AsyncClient) -> None:
    await call(client, "coach", "echo", {"text": "a"}, session_id="coach-1", tool_call_id="c1")
    await call(client, "coach", "echo", {"text": "a"}, session_id="coach-1", tool_call_id="c2")
    await call(client, "coach", "lookup", {"key": "nope"}, session_id="coach-1", tool_call_id="c3")
    await call(client, "npc", "echo", {"text": "b"}, session_id="npc-1", tool_call_id="n1")
    await call(client, "npc", "echo", {"text": "c"}, tool_call_id="n2")

    admin = (await client.get("/api/v1/tools/activity", headers=auth("admin"))).json()
    assert admin["window_seconds"] == 300
    echo = next(t for t in admin["tools"] if t["tool"] == "echo")
    assert echo["calls"] == 4
    assert echo["errors"] == 0
    assert echo["cache_hit_rate"] == pytest.approx(0.25)
    assert echo["calls_per_minute"] == pytest.approx(0.8)
    assert echo["p95_latency_ms"] is not None
    lookup = next(t for t in admin["tools"] if t["tool"] == "lookup")
    assert (lookup["calls"], lookup["errors"], lookup["error_rate"]) == (1, 1, 1.0)
    write = next(t for t in admin["tools"] if t["tool"] == "write")
    assert (write["calls"], write["p95_latency_ms"], write["cache_hit_rate"]) == (0, None, None)
    assert [r["tool_call_id"] for r in admin["recent"]] == ["n2", "n1", "c3", "c2", "c1"]
    newest = admin["recent"][0]
    assert newest["timestamp"].endswith("Z")
    assert newest["status"] == "completed"

    coach = (await client.get("/api/v1/tools/activity", headers=auth("coach"))).json()
    assert [r["tool_call_id"] for r in coach["recent"]] == ["c3", "c2", "c1"]
    failed = coach["recent"][0]
    assert failed["status"] == "failed"
    assert (failed["error_code"], failed["session_id"]) == ("THING_NOT_FOUND", "coach-1")
    npc = (await client.get("/api/v1/tools/activity", headers=auth("npc"))).json()
    assert [r["tool_call_id"] for r in npc["recent"]] == ["n1"]
    assert "actions" not in {t["tool"] for t in npc["tools"]}


async def test_activity_window_is_validated(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/tools/activity", params={"window_seconds": 1}, headers=auth("admin"))
    assert response.status_code == 422
    errors = response.json()["error"]["details"]["errors"]
    assert errors[0]["field"] == "query.window_seconds"


# --- metrics, OpenAPI, dashboard --------------------------------------------------------------------------


async def test_metrics_label_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/api/v1/tools/echo", headers=auth("coach"))
    await client.get("/api/v1/tools/nothing-here", headers=auth("coach"))
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'http_requests_total{method="GET",route="/api/v1/tools/{name}",status="200"}' in text
    assert 'http_requests_total{method="GET",route="/api/v1/tools/{name}",status="404"}' in text
    assert "nothing-here" not in text
    bucket = 'http_request_duration_seconds_bucket{le="0.005",method="GET",route="/api/v1/tools/{name}"}'
    assert bucket in text


async def test_metrics_token_guards_metrics(sample_settings: Settings, sample_executor: ToolExecutor) -> None:
    settings = sample_settings.model_copy(update={"metrics_token": SecretStr("scrape-secret")})
    app = create_app(settings, executor=sample_executor)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        assert (await http.get("/metrics")).status_code == 401
        assert (await http.get("/metrics", headers=auth("admin"))).status_code == 401
        scraper = {"Authorization": "Bearer scrape-secret"}
        assert (await http.get("/metrics", headers=scraper)).status_code == 200
    await sample_executor.aclose()


async def test_openapi_declares_bodies_statuses_and_both_auth_schemes(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    body = schema["paths"][EXECUTE]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/ExecuteRequest"}
    assert "ExecuteRequest" in schema["components"]["schemas"]
    assert "BatchRequest" in schema["components"]["schemas"]
    assert set(schema["components"]["securitySchemes"]) == {"bearer", "apiKey"}
    operation = schema["paths"][EXECUTE]["post"]
    assert operation["security"] == [{"bearer": []}, {"apiKey": []}]
    (header,) = operation["parameters"]
    assert (header["name"], header["in"], header["schema"]["maxLength"]) == ("Idempotency-Key", "header", 200)
    assert schema["paths"][BATCH]["post"]["security"] == [{"bearer": []}, {"apiKey": []}]
    assert schema["paths"]["/api/v1/tools"]["get"]["security"] == [{"bearer": []}, {"apiKey": []}]
    responses = schema["paths"][EXECUTE]["post"]["responses"]
    statuses = {"200", "400", "401", "403", "404", "409", "422", "428", "429", "502", "503", "504"}
    assert statuses <= set(responses)
    assert "Retry-After" in responses["429"]["headers"]


@pytest.fixture
def static_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "index.html").write_text("<!doctype html><title>SalesBoost</title>", encoding="utf-8")
    (tmp_path / "app.js").write_text("console.log('ok')", encoding="utf-8")
    monkeypatch.setattr(dashboard, "STATIC_DIR", tmp_path)
    return tmp_path


async def test_dashboard_and_static_files_are_public(
    static_dir: Path, sample_settings: Settings, sample_executor: ToolExecutor
) -> None:
    app = create_app(sample_settings, executor=sample_executor)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        page = await http.get("/dashboard")
        script = await http.get("/static/app.js")
        missing = await http.get("/static/nothing.js")
        metrics = (await http.get("/metrics")).text
    await sample_executor.aclose()
    # Static files are counted under their mount, not as unmatched requests.
    assert 'http_requests_total{method="GET",route="/static",status="200"}' in metrics
    assert 'http_requests_total{method="GET",route="/static",status="404"}' in metrics
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "SalesBoost" in page.text
    assert script.status_code == 200
    assert missing.status_code == 404


async def test_dashboard_without_its_files_is_404(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client: httpx.AsyncClient
) -> None:
    monkeypatch.setattr(dashboard, "STATIC_DIR", tmp_path / "absent")
    response = await client.get("/dashboard")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("fmt", "name_of"),
    [
        ("openai", lambda t: t["function"]["name"]),
        ("openai-responses", lambda t: t["name"]),
        ("anthropic", lambda t: t["name"]),
        ("mcp", lambda t: t["name"]),
    ],
)
async def test_tool_list_in_a_providers_format(client: httpx.AsyncClient, fmt: str, name_of: Any) -> None:
    listed = await client.get("/api/v1/tools", params={"format": fmt}, headers=auth("npc"))
    assert listed.status_code == 200
    body = listed.json()
    assert (body["role"], body["format"], body["not_strict"]) == ("npc", fmt, {})
    default = (await client.get("/api/v1/tools", headers=auth("npc"))).json()
    assert [name_of(t) for t in body["tools"]] == [t["name"] for t in default["tools"]]
    assert "actions" not in [name_of(t) for t in body["tools"]]  # npc may not call it


async def test_tool_list_in_an_unknown_format_is_a_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/tools", params={"format": "gemini"}, headers=auth("coach"))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "REQUEST_INVALID"
    assert error["details"]["errors"][0]["field"] == "query.format"
    assert "'openai', 'openai-responses', 'anthropic' or 'mcp'" in error["message"]
