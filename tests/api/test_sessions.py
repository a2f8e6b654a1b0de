"""Session ownership over HTTP and the WebSocket, on SQLite and PostgreSQL: durable across restarts and replicas,
claimed only by an accepted call, and a key's new sessions limited."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from conftest import KEYS, SAMPLE_ROLES, auth, make_settings
from salesboost.api import create_app
from salesboost.assembly import create_backends
from salesboost.clock import utcnow
from salesboost.config import Settings
from salesboost.store.db import WRITE_OPTIONS, create_engine
from sample_tools import make_registry, private_executor

EXECUTE = "/api/v1/tools/execute"
BATCH = "/api/v1/tools/execute-batch"
ACTIVITY = "/api/v1/tools/activity"


def body(tool: str, payload: dict[str, Any], session_id: str, tool_call_id: str | None = None) -> dict[str, Any]:
    return {"tool": tool, "payload": payload, "session_id": session_id, "tool_call_id": tool_call_id}


def echo(session_id: str, tool_call_id: str | None = None) -> dict[str, Any]:
    return body("echo", {"text": "hi"}, session_id, tool_call_id)


def batch_of_one(session_id: str) -> dict[str, Any]:
    return {"calls": [{"tool": "echo", "payload": {"text": "x"}}], "session_id": session_id}


@pytest.fixture
def db_settings(db_url: str) -> Settings:
    return make_settings(db_url, SAMPLE_ROLES, ws_heartbeat_seconds=0.2)


@contextmanager
def replica(settings: Settings, clock: Any = None) -> Iterator[TestClient]:
    """One process of the service (HTTP and WebSocket) over the database of `settings`, closed afterwards."""
    backends = create_backends(settings)
    if clock is not None:
        backends.clock = clock
    executor = private_executor(make_registry(backends), require_idempotency_key=True)
    with TestClient(create_app(settings, executor=executor)) as client:
        yield client
        client.portal.call(executor.aclose)


@asynccontextmanager
async def async_replica(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    executor = private_executor(make_registry(create_backends(settings)), require_idempotency_key=True)
    app = create_app(settings, executor=executor)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        yield http
    await executor.aclose()


def recent(client: TestClient, role: str) -> list[tuple[str, str | None]]:
    response = client.get(ACTIVITY, headers=auth(role))
    assert response.status_code == 200
    return [(r["tool_call_id"], r["session_id"]) for r in response.json()["recent"]]


def ws_refusal(client: TestClient, session_id: str, role: str) -> int | None:
    """The close code of a subscription that is refused, None when it is accepted."""
    with client.websocket_connect(f"/ws/chat?session_id={session_id}") as ws:
        ws.send_json({"type": "auth", "api_key": KEYS[role]})
        try:
            assert ws.receive_json()["event"] == "subscribed"
        except WebSocketDisconnect as closed:
            return closed.code
    return None


def test_ownership_survives_a_restart(db_settings: Settings) -> None:
    with replica(db_settings) as first:
        assert first.post(EXECUTE, json=echo("S", "a-1"), headers=auth("coach")).status_code == 200
    with replica(db_settings) as second:  # a new process: nothing of the first one's memory
        stolen = second.post(EXECUTE, json=echo("S", "b-1"), headers=auth("npc"))
        assert stolen.status_code == 403
        assert stolen.json()["error"]["code"] == "SESSION_FORBIDDEN"
        batch = second.post(BATCH, json=batch_of_one("S"), headers=auth("npc"))
        assert batch.status_code == 403
        assert batch.json()["error"]["code"] == "SESSION_FORBIDDEN"
        assert ws_refusal(second, "S", "npc") == 4403
        assert recent(second, "npc") == []

        assert second.post(EXECUTE, json=echo("S", "a-2"), headers=auth("coach")).status_code == 200
        assert ws_refusal(second, "S", "coach") is None
        assert recent(second, "coach") == [("a-2", "S"), ("a-1", "S")]
        assert second.post(EXECUTE, json=echo("S", "admin-1"), headers=auth("admin")).status_code == 200


def test_a_refused_call_claims_no_session(db_settings: Settings) -> None:
    refusals = [
        (body("no-such-tool", {}, "free"), 404),
        (body("echo", {"text": ""}, "free"), 422),
        (body("actions", {"action": "read"}, "free"), 403),  # npc may not call it
        (body("write", {}, "free"), 428),  # no Idempotency-Key
    ]
    with replica(db_settings) as client:
        for request, status in refusals:
            assert client.post(EXECUTE, json=request, headers=auth("npc")).status_code == status
        limited_call = body("limited", {"seconds": 0}, "other")
        for _ in range(2):  # its rate limit: 2 a minute
            assert client.post(EXECUTE, json=limited_call, headers=auth("npc")).status_code == 200
        limited = client.post(EXECUTE, json={**limited_call, "session_id": "free"}, headers=auth("npc"))
        assert limited.status_code == 429
        assert limited.json()["error"]["code"] == "TOOL_RATE_LIMITED"
        # None of those claimed "free": the coach's accepted call does, and the npc is refused there from now on.
        assert client.post(EXECUTE, json=echo("free", "c-1"), headers=auth("coach")).status_code == 200
        assert client.post(EXECUTE, json=echo("free"), headers=auth("npc")).status_code == 403
        # Neither the npc's refused calls in it show in the coach's activity, nor in the npc's (not its session).
        assert recent(client, "coach") == [("c-1", "free")]
        assert {session for _, session in recent(client, "npc")} == {"other"}


def test_the_eviction_attack_no_longer_frees_a_session(db_url: str) -> None:
    """Until now, ownership lived in a map of 100,000 sessions: that many cheap refused calls with fresh session
    ids pushed the victim's idle session out, and anybody could claim it. Now refused calls claim nothing, and the
    map is only a cache of the durable owners: forgetting one costs a read."""
    settings = make_settings(db_url, SAMPLE_ROLES, api_max_sessions=2)
    with replica(settings) as client:
        assert client.post(EXECUTE, json=echo("victim", "v-1"), headers=auth("coach")).status_code == 200
        for i in range(20):
            assert client.post(EXECUTE, json=body("nope", {}, f"fresh-{i}"), headers=auth("npc")).status_code == 404
        for i in range(5):  # accepted ones too, to push the victim's session out of the cache
            assert client.post(EXECUTE, json=echo(f"mine-{i}"), headers=auth("npc")).status_code == 200
        stolen = client.post(EXECUTE, json=echo("victim"), headers=auth("npc"))
        assert stolen.status_code == 403
        assert ws_refusal(client, "victim", "npc") == 4403
        assert client.post(EXECUTE, json=echo("victim", "v-2"), headers=auth("coach")).status_code == 200
        assert recent(client, "coach") == [("v-2", "victim"), ("v-1", "victim")]
        assert all(session.startswith("mine-") for _, session in recent(client, "npc"))
    assert asyncio.run(owned_sessions(db_url)) == {"victim": 1, "mine-": 5}


async def owned_sessions(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT session_id FROM session_owners"))).scalars().all()
    finally:
        await engine.dispose()
    counts: dict[str, int] = {}
    for session_id in rows:
        prefix = "mine-" if session_id.startswith("mine-") else session_id
        counts[prefix] = counts.get(prefix, 0) + 1
    return counts


def test_a_key_may_start_only_so_many_sessions_per_window(db_url: str) -> None:
    settings = make_settings(db_url, SAMPLE_ROLES, max_sessions_per_key=2, sessions_window_seconds=60)
    now = [utcnow()]

    def clock() -> datetime:
        return now[0]

    with replica(settings, clock) as client:
        assert client.post(EXECUTE, json=echo("s1"), headers=auth("coach")).status_code == 200
        now[0] += timedelta(seconds=10)
        assert client.post(EXECUTE, json=echo("s2"), headers=auth("coach")).status_code == 200
        now[0] += timedelta(seconds=10)
        refused = client.post(EXECUTE, json=echo("s3", "over"), headers=auth("coach"))
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "40"
        error = refused.json()["error"]
        assert error["code"] == "SESSION_LIMIT_REACHED"
        assert error["retryable"] is True
        assert "SALESBOOST_MAX_SESSIONS_PER_KEY" in error["message"]
        assert error["details"] == {"limit": 2, "window_seconds": 60, "retry_after": 40}
        assert refused.json()["tool_call_id"] == "over"
        # In a batch, each call that would start the session says so in its envelope.
        batch = client.post(BATCH, json=batch_of_one("s3"), headers=auth("coach"))
        assert batch.status_code == 200
        assert batch.json()["results"][0]["error"]["code"] == "SESSION_LIMIT_REACHED"

        # The key's own sessions go on; a refused call says why it was refused; other keys have their own share.
        assert client.post(EXECUTE, json=echo("s1"), headers=auth("coach")).status_code == 200
        assert client.post(EXECUTE, json=body("nope", {}, "s4"), headers=auth("coach")).status_code == 404
        assert client.post(EXECUTE, json=echo("s3"), headers=auth("npc")).status_code == 200
        # Once the first session is older than the window, one more may start (the second is still in it).
        now[0] += timedelta(seconds=41)
        assert client.post(EXECUTE, json=echo("s4"), headers=auth("coach")).status_code == 200
        assert client.post(EXECUTE, json=echo("s5"), headers=auth("coach")).status_code == 429


async def test_two_replicas_racing_for_a_session_get_one_owner(db_settings: Settings) -> None:
    """Both calls usually pass the first look (nobody owns the session yet) and meet at the claim: the database's
    primary key lets one win."""
    async with async_replica(db_settings) as one, async_replica(db_settings) as two:
        for i in range(10):
            answers = await asyncio.gather(
                one.post(EXECUTE, json=echo(f"race-{i}"), headers=auth("coach")),
                two.post(EXECUTE, json=echo(f"race-{i}"), headers=auth("npc")),
            )
            statuses = sorted(a.status_code for a in answers)
            assert statuses == [200, 403], [a.json() for a in answers]
            loser = next(a for a in answers if a.status_code == 403)
            assert loser.json()["error"]["code"] == "SESSION_FORBIDDEN"


def test_activity_shows_a_key_only_its_own_calls_in_its_own_sessions(db_settings: Settings) -> None:
    with replica(db_settings) as client:
        early = client.post(EXECUTE, json=body("nope", {}, "shared", "npc-early"), headers=auth("npc"))
        assert early.status_code == 404
        assert client.post(EXECUTE, json=echo("shared", "coach-1"), headers=auth("coach")).status_code == 200
        assert client.post(EXECUTE, json=echo("shared", "admin-1"), headers=auth("admin")).status_code == 200
        assert client.post(EXECUTE, json=echo("npc-own", "npc-1"), headers=auth("npc")).status_code == 200

        assert recent(client, "coach") == [("coach-1", "shared")]
        assert recent(client, "npc") == [("npc-1", "npc-own")]
        assert [call for call, _ in recent(client, "admin")] == ["npc-1", "admin-1", "coach-1", "npc-early"]


async def ddl(url: str, *statements: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.execution_options(**WRITE_OPTIONS).begin() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def test_a_database_failure_is_503_never_the_tools_failure(db_settings: Settings) -> None:
    url = db_settings.database_url
    async with async_replica(db_settings) as client:
        # Owners can be read (there are none) but not written: the claim, inside the executor, fails.
        await ddl(
            url,
            "ALTER TABLE session_owners RENAME TO owners_away",
            "CREATE VIEW session_owners AS SELECT DISTINCT session_id, key_id, created_at FROM owners_away",
        )
        for i in range(db_settings.circuit_failure_threshold + 1):
            failed = await client.post(EXECUTE, json=echo(f"new-{i}"), headers=auth("coach"))
            assert failed.status_code == 503, failed.json()
            assert failed.json()["error"]["code"] == "SESSION_UNAVAILABLE"
            assert failed.headers["Retry-After"] == "1"
        # The echo tool's circuit did not count those: a call without a session runs.
        response = await client.post(EXECUTE, json={"tool": "echo", "payload": {"text": "x"}}, headers=auth("coach"))
        assert response.status_code == 200
        # Owners cannot be read either: refused before the executor, the same way.
        await ddl(url, "DROP VIEW session_owners")
        for request in (EXECUTE, BATCH):
            payload = echo("new") if request == EXECUTE else batch_of_one("new")
            failed = await client.post(request, json=payload, headers=auth("coach"))
            assert failed.status_code == 503
            assert failed.json()["error"]["code"] == "SESSION_UNAVAILABLE"


def test_a_subscription_whose_owner_cannot_be_checked_is_closed_to_be_retried(db_settings: Settings) -> None:
    with replica(db_settings) as client:
        asyncio.run(ddl(db_settings.database_url, "DROP TABLE session_owners"))
        assert ws_refusal(client, "anywhere", "coach") == 1013
