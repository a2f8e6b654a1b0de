"""The MCP server through the official client: in memory (the server over the service's kind of executor, as one
key), over streamable HTTP against the app served by uvicorn, and over stdio (`salesboost mcp`, a subprocess)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import mcp_types as types
import pytest
import uvicorn
from fastapi import FastAPI
from mcp import Client
from mcp.client.client import ConnectMode
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.server.streamable_http import REQUEST_CANCELLED

from conftest import BAD_KEY, KEYS, ROLES
from salesboost.api import create_app
from salesboost.api.auth import ApiKey, KeyStore
from salesboost.api.mcp import build_server
from salesboost.assembly import build_runtime, create_backends
from salesboost.config import Settings
from salesboost.tools.base import ToolContext, ToolPolicy
from salesboost.tools.executor import ToolExecutor
from salesboost.tools.schema import tools_for
from sample_tools import EVERYONE, CountOutput, SleepInput, SleepTool, make_registry, private_executor

SEND = {"action": "send", "customer_id": "CUST001", "message": "Hi John, does Tuesday 10am work for a demo?"}
HISTORY = {"action": "history", "customer_id": "CUST001"}
SALESBOOST = str(Path(sys.executable).with_name("salesboost"))


def key_of(settings: Settings, role: str) -> ApiKey:
    key = KeyStore.from_settings(settings).authenticate(KEYS[role])
    assert key is not None
    return key


@pytest.fixture
async def demo_executor(demo_settings: Settings) -> AsyncIterator[ToolExecutor]:
    """The eight tools on the demo data, built as the service builds its executor."""
    runtime = build_runtime(demo_settings, require_idempotency_key=True)
    yield runtime.executor
    await runtime.aclose()


@asynccontextmanager
async def connected(executor: ToolExecutor, key: ApiKey) -> AsyncIterator[Client]:
    async with Client(build_server(lambda ctx: (executor, key))) as client:
        yield client


def error_code(result: types.CallToolResult) -> str:
    assert result.is_error
    assert result.structured_content is None
    assert result.meta is not None
    code: str = result.meta["error"]["code"]
    assert isinstance(result.content[0], types.TextContent)
    assert result.content[0].text.startswith(f"{code}: ")
    return code


def listed(tools: list[types.Tool]) -> list[dict[str, Any]]:
    return [t.model_dump(by_alias=True, exclude_none=True) for t in tools]


# --- in memory -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
async def test_tools_list_is_the_roles_tools_in_the_mcp_format(
    demo_settings: Settings, demo_executor: ToolExecutor, role: str
) -> None:
    async with connected(demo_executor, key_of(demo_settings, role)) as client:
        tools = (await client.list_tools()).tools
    assert listed(tools) == tools_for(demo_executor.registry, role, "mcp")


async def test_npc_sees_and_calls_no_crm_and_no_sms(demo_settings: Settings, demo_executor: ToolExecutor) -> None:
    async with connected(demo_executor, key_of(demo_settings, "npc")) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert names.isdisjoint({"crm_integration", "sms_outreach"})
        assert "knowledge_retriever" in names
        crm = await client.call_tool("crm_integration", {"action": "list", "limit": 5})
        sms = await client.call_tool("sms_outreach", SEND, meta={"idempotency_key": "npc-1"})
    assert error_code(crm) == "TOOL_FORBIDDEN"
    assert error_code(sms) == "TOOL_FORBIDDEN"


async def test_a_call_answers_the_result_as_structured_content_and_json_text(
    demo_settings: Settings, demo_executor: ToolExecutor
) -> None:
    async with connected(demo_executor, key_of(demo_settings, "coach")) as client:
        result = await client.call_tool("crm_integration", {"action": "list", "limit": 2})
    assert not result.is_error
    assert result.structured_content is not None
    assert [c["customer_id"] for c in result.structured_content["customers"]] == ["CUST001", "CUST002"]
    (text,) = result.content
    assert isinstance(text, types.TextContent)
    assert json.loads(text.text) == result.structured_content
    assert result.meta is not None
    assert result.meta["caller_role"] == "coach"
    assert result.meta["audit_id"]


async def test_unknown_tools_and_bad_arguments_are_errors_the_model_can_fix(
    demo_settings: Settings, demo_executor: ToolExecutor
) -> None:
    async with connected(demo_executor, key_of(demo_settings, "coach")) as client:
        unknown = await client.call_tool("crm_integrations", {})
        bad = await client.call_tool("crm_integration", {"action": "list", "limit": "many"})
    assert error_code(unknown) == "TOOL_NOT_FOUND"
    assert error_code(bad) == "TOOL_INPUT_INVALID"
    assert bad.meta is not None
    assert [e["field"] for e in bad.meta["error"]["details"]["errors"]] == ["limit"]


async def test_an_sms_needs_an_idempotency_key_and_queues_once_with_one(
    demo_settings: Settings, demo_executor: ToolExecutor
) -> None:
    async with connected(demo_executor, key_of(demo_settings, "sdr")) as client:
        refused = await client.call_tool("sms_outreach", SEND)
        first = await client.call_tool("sms_outreach", SEND, meta={"idempotency_key": "mcp-demo-1"})
        again = await client.call_tool("sms_outreach", SEND, meta={"idempotency_key": "mcp-demo-1"})
        history = await client.call_tool("sms_outreach", HISTORY)
    assert error_code(refused) == "IDEMPOTENCY_KEY_REQUIRED"
    assert isinstance(refused.content[0], types.TextContent)
    assert "_meta" in refused.content[0].text
    assert first.structured_content is not None
    assert again.structured_content is not None
    assert first.structured_content["duplicate"] is False
    assert first.structured_content["message"]["status"] == "queued"
    assert again.structured_content["duplicate"] is True
    assert again.structured_content["message"]["message_id"] == first.structured_content["message"]["message_id"]
    assert history.structured_content is not None
    assert len(history.structured_content["messages"]) == 1


async def test_the_rate_limit_counts_per_key_and_says_when_to_retry(sample_executor: ToolExecutor) -> None:
    one, other = (ApiKey(id=name, role="coach", name=name, digest=b"") for name in ("key-one", "key-two"))
    async with connected(sample_executor, one) as client:
        for _ in range(2):
            assert not (await client.call_tool("limited", {"seconds": 0})).is_error
        limited = await client.call_tool("limited", {"seconds": 0})
    assert error_code(limited) == "TOOL_RATE_LIMITED"
    assert limited.meta is not None
    assert limited.meta["error"]["details"]["retry_after"] > 0
    assert "retry after" in limited.content[0].model_dump()["text"]
    async with connected(sample_executor, other) as client:
        assert not (await client.call_tool("limited", {"seconds": 0})).is_error
    await sample_executor.aclose()


class PatientTool(SleepTool):
    """Sleeps as long as asked (up to its 5 s timeout), and says whether it was cancelled."""

    name = "patient"
    policy = ToolPolicy(roles=EVERYONE, timeout=5, retry=False)

    def __init__(self) -> None:
        super().__init__()
        self.cancelled = asyncio.Event()

    async def run(self, args: SleepInput, ctx: ToolContext) -> CountOutput:
        try:
            return await super().run(args, ctx)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise


@pytest.fixture
async def patient(sample_settings: Settings) -> AsyncIterator[tuple[ToolExecutor, PatientTool]]:
    tool = PatientTool()
    registry = make_registry(create_backends(sample_settings))
    registry.register(tool)
    executor = private_executor(registry)
    yield executor, tool
    await executor.aclose()


async def test_a_long_call_reports_progress(patient: tuple[ToolExecutor, PatientTool]) -> None:
    executor, _ = patient
    coach = ApiKey(id="key-one", role="coach", name="coach", digest=b"")
    reports: list[tuple[float, str | None]] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        reports.append((done, message))

    server = build_server(lambda ctx: (executor, coach), progress_every=0.05)
    async with Client(server) as client:
        result = await client.call_tool("patient", {"seconds": 0.5}, progress_callback=progress)
    assert not result.is_error
    assert len(reports) >= 2
    assert [done for done, _ in reports] == sorted({done for done, _ in reports})
    assert reports[0][1] == "patient has run 0.05 s"


async def test_a_cancelled_call_cancels_the_running_tool(patient: tuple[ToolExecutor, PatientTool]) -> None:
    executor, tool = patient
    coach = ApiKey(id="key-one", role="coach", name="coach", digest=b"")
    async with connected(executor, coach) as client:
        call = asyncio.create_task(client.call_tool("patient", {"seconds": 4}))
        await asyncio.sleep(0.2)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        await asyncio.wait_for(tool.cancelled.wait(), 2)


# --- streamable HTTP ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def served(demo_settings: Settings) -> AsyncIterator[str]:
    """The app served by uvicorn on a free port of 127.0.0.1 (so the default allowed hosts apply); its URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(demo_settings), host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@asynccontextmanager
async def over_http(url: str, role: str, mode: ConnectMode = "auto") -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {KEYS[role]}"}) as http, Client(
        streamable_http_client(f"{url}/mcp", http_client=http), mode=mode
    ) as client:
        yield client


async def test_http_needs_a_known_key_and_an_allowed_host(served: str) -> None:
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    headers = {"Accept": "application/json, text/event-stream"}
    async with httpx.AsyncClient(base_url=served) as http:
        anonymous = await http.post("/mcp", json=initialize, headers=headers)
        unknown = await http.post("/mcp", json=initialize, headers={**headers, "Authorization": f"Bearer {BAD_KEY}"})
        rebound = await http.post(
            "/mcp", json=initialize,
            headers={**headers, "Authorization": f"Bearer {KEYS['coach']}", "Host": "attacker.example"},
        )
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert unknown.status_code == 401
    assert rebound.status_code == 421


async def test_the_allowed_hosts_are_a_setting(demo_settings: Settings) -> None:
    app = create_app(demo_settings.model_copy(update={"mcp_allowed_hosts": "tools.example.com"}))
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    headers = {"Accept": "application/json, text/event-stream", "Authorization": f"Bearer {KEYS['coach']}"}
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as http:
        named = await http.post("http://tools.example.com/mcp", json=ping, headers=headers)
        loopback = await http.post("http://127.0.0.1:8000/mcp", json=ping, headers=headers)
    assert named.status_code == 400  # past the host check: a ping outside a session
    assert "session" in named.text
    assert loopback.status_code == 421


async def test_an_mcp_session_answers_only_the_key_that_opened_it(served: str) -> None:
    headers = {"Accept": "application/json, text/event-stream", "Authorization": f"Bearer {KEYS['coach']}"}
    initialize = {
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    tools_list = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    async with httpx.AsyncClient(base_url=served) as http:
        opened = await http.post("/mcp", json=initialize, headers=headers)
        session = {"Mcp-Session-Id": opened.headers["mcp-session-id"], "Mcp-Protocol-Version": "2025-06-18"}
        own = await http.post("/mcp", json=tools_list, headers={**headers, **session})
        other = await http.post(
            "/mcp", json=tools_list, headers={**headers, **session, "Authorization": f"Bearer {KEYS['npc']}"}
        )
    assert opened.status_code == 200
    assert own.status_code == 200
    assert other.status_code == 404


@pytest.mark.parametrize("mode", ["auto", "legacy"])  # 2026-07-28 single exchanges; a 2025 session
async def test_http_lists_and_calls_as_the_bearer_keys_role(
    served: str, demo_executor: ToolExecutor, mode: ConnectMode
) -> None:
    async with over_http(served, "npc", mode) as client:
        npc_tools = [t.name for t in (await client.list_tools()).tools]
        forbidden = await client.call_tool("crm_integration", {"action": "list"})
    assert npc_tools == [e.name for e in demo_executor.registry.list_for_role("npc")]
    assert error_code(forbidden) == "TOOL_FORBIDDEN"
    async with over_http(served, "sdr", mode) as client:
        refused = await client.call_tool("sms_outreach", SEND)
        sent = [await client.call_tool("sms_outreach", SEND, meta={"idempotency_key": "http-1"}) for _ in range(2)]
        history = await client.call_tool("sms_outreach", HISTORY)
    assert error_code(refused) == "IDEMPOTENCY_KEY_REQUIRED"
    assert [r.structured_content["duplicate"] for r in sent if r.structured_content] == [False, True]
    assert history.structured_content is not None
    assert len(history.structured_content["messages"]) == 1


@asynccontextmanager
async def legacy_session(app: FastAPI, role: str) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """A 2025-06-18 session with the app in-process, as a client that accepts both answers; its headers."""
    headers = {"Accept": "application/json, text/event-stream", "Authorization": f"Bearer {KEYS[role]}"}
    initialize = {
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000"
    ) as http:
        opened = await http.post("/mcp", json=initialize, headers=headers)
        session = {**headers, "Mcp-Session-Id": opened.headers["mcp-session-id"], "Mcp-Protocol-Version": "2025-06-18"}
        await http.post("/mcp", json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=session)
        yield http, session


def events(answer: httpx.Response) -> list[dict[str, Any]]:
    return [json.loads(line[5:]) for line in answer.text.splitlines() if line.startswith("data:")]


def patient_call(request_id: int, seconds: float, **meta: str) -> dict[str, Any]:
    params: dict[str, Any] = {"name": "patient", "arguments": {"seconds": seconds}}
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {**params, "_meta": meta}}


async def test_http_answers_json_unless_the_call_asked_for_progress(
    sample_settings: Settings, patient: tuple[ToolExecutor, PatientTool]
) -> None:
    """A call that asked for no progress is answered as one JSON object (no event stream to pay for); one that
    asked gets the event stream: its progress reports, then its result. The two at once in one session: the
    form is each request's own."""
    app = create_app(sample_settings, executor=patient[0])
    async with legacy_session(app, "coach") as (http, session):
        asked = patient_call(2, 1.3, progressToken="p2")
        streaming = asyncio.create_task(http.post("/mcp", json=asked, headers=session))
        await asyncio.sleep(0.2)
        quick = await http.post("/mcp", json=patient_call(1, 0), headers=session)
        long = await streaming
    assert quick.headers["content-type"] == "application/json"
    assert quick.json()["result"]["structuredContent"] is not None
    assert long.headers["content-type"].startswith("text/event-stream")
    *reports, answer = events(long)
    assert [r["method"] for r in reports] == ["notifications/progress"]
    assert reports[0]["params"]["progressToken"] == "p2"
    assert answer["id"] == 2
    assert not answer["result"].get("isError")


async def test_http_cancels_a_call_answered_as_json(
    sample_settings: Settings, patient: tuple[ToolExecutor, PatientTool]
) -> None:
    executor, tool = patient
    app = create_app(sample_settings, executor=executor)
    async with legacy_session(app, "coach") as (http, session):
        call = asyncio.create_task(http.post("/mcp", json=patient_call(7, 4), headers=session))
        await asyncio.sleep(0.3)
        cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 7}}
        await http.post("/mcp", json=cancel, headers=session)
        answer = await asyncio.wait_for(call, 2)
        await asyncio.wait_for(tool.cancelled.wait(), 2)
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["error"]["code"] == REQUEST_CANCELLED


# --- stdio ---------------------------------------------------------------------------------------------------


def stdio_env(settings: Settings, role: str | None) -> dict[str, str]:
    env = {
        "SALESBOOST_DATABASE_URL": settings.database_url,
        "SALESBOOST_API_KEYS": settings.api_keys,
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
    }
    return env if role is None else {**env, "SALESBOOST_MCP_KEY": KEYS[role]}


async def test_stdio_serves_the_roles_tools(demo_settings: Settings, demo_executor: ToolExecutor) -> None:
    params = StdioServerParameters(command=SALESBOOST, args=["mcp"], env=stdio_env(demo_settings, "npc"))
    async with Client(params) as client:
        names = [t.name for t in (await client.list_tools()).tools]
        forbidden = await client.call_tool("sms_outreach", SEND, meta={"idempotency_key": "stdio-1"})
        checked = await client.call_tool("compliance_check", {"text": "Hello there", "channel": "sms"})
    assert names == [e.name for e in demo_executor.registry.list_for_role("npc")]
    assert error_code(forbidden) == "TOOL_FORBIDDEN"
    assert not checked.is_error, checked.content


def test_stdio_with_an_unknown_key_is_one_line_and_exit_2(demo_settings: Settings) -> None:
    """(A missing key is the same refusal: no key authenticates as the empty string.)"""
    env = {**os.environ, **stdio_env(demo_settings, None), "SALESBOOST_MCP_KEY": BAD_KEY}
    done = subprocess.run([SALESBOOST, "mcp"], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert "SALESBOOST_MCP_KEY" in done.stderr
