"""`WS /ws/chat`: authentication, who may watch which session, events in order, heartbeats, slow clients."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient, WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from conftest import KEYS, auth
from salesboost.api import create_app
from salesboost.assembly import create_backends
from salesboost.config import Settings
from sample_tools import make_registry, private_executor

EXECUTE = "/api/v1/tools/execute"


def bearer(role: str) -> list[str]:
    return ["salesboost.v1", f"bearer.{KEYS[role]}"]


def next_event(ws: WebSocketTestSession) -> dict[str, Any]:
    """The next message that is not a heartbeat (heartbeats come every 0.2 s in these settings)."""
    while True:
        message: dict[str, Any] = ws.receive_json()
        if message["event"] != "heartbeat":
            return message


def run(client: TestClient, role: str, session_id: str | None, tool_call_id: str, text: str = "hi") -> None:
    body: dict[str, Any] = {"tool": "echo", "payload": {"text": text}, "tool_call_id": tool_call_id}
    if session_id is not None:
        body["session_id"] = session_id
    response = client.post(EXECUTE, json=body, headers=auth(role))
    assert response.status_code == 200, response.text


def drain(ws: WebSocketTestSession) -> None:
    """Read until the server closes the socket."""
    while True:
        ws.receive_json()


def refused_with(client: TestClient, path: str, subprotocols: list[str] | None = None) -> WebSocketDisconnect:
    with client.websocket_connect(path, subprotocols) as ws, pytest.raises(WebSocketDisconnect) as closed:
        drain(ws)
    return closed.value


def test_a_call_streams_started_then_completed_with_the_right_fields(ws_client: TestClient) -> None:
    with ws_client.websocket_connect("/ws/chat?session_id=s1", subprotocols=bearer("coach")) as ws:
        assert ws.accepted_subprotocol == "salesboost.v1"
        subscribed = next_event(ws)
        assert subscribed["event"] == "subscribed"
        assert (subscribed["session_id"], subscribed["role"]) == ("s1", "coach")

        run(ws_client, "coach", "s1", "call-1")
        started, completed = next_event(ws), next_event(ws)

    assert started["event"] == "tool_status"
    assert started["data"] == {
        "tool_name": "echo", "status": "started", "tool_call_id": "call-1", "caller_role": "coach"
    }
    assert started["timestamp"].endswith("Z")
    data = completed["data"]
    assert data["status"] == "completed"
    assert (data["tool_name"], data["tool_call_id"], data["caller_role"]) == ("echo", "call-1", "coach")
    assert data["cached"] is False
    assert data["retry_count"] == 0
    assert data["latency_ms"] >= 0
    preview = data["result_preview"]
    assert preview.startswith("Echoed 'hi'")
    assert "415 555 0100" not in preview
    assert "jane@example.com" not in preview
    assert len(preview) <= 100


def test_successive_calls_arrive_in_order_and_failures_carry_their_code(ws_client: TestClient) -> None:
    with ws_client.websocket_connect("/ws/chat?session_id=s2", subprotocols=bearer("coach")) as ws:
        next_event(ws)
        run(ws_client, "coach", "s2", "a")
        run(ws_client, "coach", "s2", "b")
        body = {"tool": "lookup", "payload": {"key": "x"}, "session_id": "s2", "tool_call_id": "c"}
        response = ws_client.post(EXECUTE, json=body, headers=auth("coach"))
        assert response.status_code == 200
        events = [next_event(ws)["data"] for _ in range(6)]
    assert [(e["tool_call_id"], e["status"]) for e in events] == [
        ("a", "started"), ("a", "completed"),
        ("b", "started"), ("b", "completed"),
        ("c", "started"), ("c", "failed"),
    ]
    assert events[-1]["error_code"] == "THING_NOT_FOUND"
    assert "x" in events[-1]["error"]


def test_first_message_authentication(ws_client: TestClient) -> None:
    with ws_client.websocket_connect("/ws/chat?session_id=s3") as ws:
        ws.send_json({"type": "auth", "api_key": KEYS["npc"]})
        subscribed = next_event(ws)
        assert (subscribed["event"], subscribed["role"]) == ("subscribed", "npc")
        run(ws_client, "npc", "s3", "n1")
        assert next_event(ws)["data"]["tool_call_id"] == "n1"


def test_a_subprotocol_of_only_the_bearer_key_is_echoed_back(ws_client: TestClient) -> None:
    only_key = [f"bearer.{KEYS['coach']}"]
    with ws_client.websocket_connect("/ws/chat?session_id=s4", subprotocols=only_key) as ws:
        assert ws.accepted_subprotocol == f"bearer.{KEYS['coach']}"
        assert next_event(ws)["event"] == "subscribed"


@pytest.mark.parametrize(
    "first",
    [
        {"type": "auth", "api_key": "test-nobody-key-0123456789abcdef"},
        {"type": "hello"},
        {"type": "auth", "api_key": 42},
        {"type": "auth", "api_key": "\ud800-lone-surrogate-0123456789"},
        "not json",
    ],
)
def test_bad_first_message_is_closed_4401(ws_client: TestClient, first: object) -> None:
    with ws_client.websocket_connect("/ws/chat?session_id=s5") as ws:
        if isinstance(first, str):
            ws.send_text(first)
        else:
            ws.send_json(first)
        with pytest.raises(WebSocketDisconnect) as closed:
            drain(ws)
    assert closed.value.code == 4401


def test_a_key_in_the_query_string_alone_is_not_accepted(ws_client: TestClient) -> None:
    closed = refused_with(ws_client, f"/ws/chat?session_id=s6&api_key={KEYS['admin']}&token={KEYS['admin']}")
    assert closed.code == 4401
    assert "within" in closed.reason


def test_an_unknown_bearer_subprotocol_is_closed_4401(ws_client: TestClient) -> None:
    unknown = ["salesboost.v1", "bearer.nobody-0123456789abcdef"]
    closed = refused_with(ws_client, "/ws/chat?session_id=s7", unknown)
    assert closed.code == 4401


def test_a_subscriber_cannot_read_another_keys_session(ws_client: TestClient) -> None:
    run(ws_client, "coach", "coach-session", "c0")
    closed = refused_with(ws_client, "/ws/chat?session_id=coach-session", bearer("npc"))
    assert closed.code == 4403
    assert "another API key" in closed.reason

    # On its own session, npc sees its own calls and nothing of the coach's.
    with ws_client.websocket_connect("/ws/chat?session_id=npc-session", subprotocols=bearer("npc")) as ws:
        next_event(ws)
        run(ws_client, "coach", "coach-session", "secret-call")
        run(ws_client, "coach", None, "no-session-call")
        run(ws_client, "npc", "npc-session", "mine")
        seen = [next_event(ws)["data"]["tool_call_id"] for _ in range(2)]
    assert seen == ["mine", "mine"]


def test_a_subscription_claims_nothing_and_carries_only_the_subscribers_own_calls(ws_client: TestClient) -> None:
    """Subscribing to a session nobody owns is allowed (to see one's first call), but claims nothing: the key whose
    call is accepted first owns the session, and the early subscriber never sees that key's calls."""
    with ws_client.websocket_connect("/ws/chat?session_id=fresh", subprotocols=bearer("coach")) as ws:
        assert ws.receive_json()["event"] == "subscribed"
        run(ws_client, "npc", "fresh", "npc-call")
        body = {"tool": "echo", "payload": {"text": "x"}, "session_id": "fresh"}
        refused = ws_client.post(EXECUTE, json=body, headers=auth("coach"))
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "SESSION_FORBIDDEN"
        # The npc's events were published before its call answered: had they been sent, they would come first.
        assert [ws.receive_json()["event"] for _ in range(2)] == ["heartbeat", "heartbeat"]


def test_an_owner_watching_its_session_sees_only_its_own_calls(ws_client: TestClient) -> None:
    run(ws_client, "coach", "owned", "first")
    with ws_client.websocket_connect("/ws/chat?session_id=owned", subprotocols=bearer("coach")) as ws:
        next_event(ws)
        run(ws_client, "admin", "owned", "admins")  # admin may call in every session
        run(ws_client, "coach", "owned", "mine")
        seen = [next_event(ws)["data"]["tool_call_id"] for _ in range(2)]
    assert seen == ["mine", "mine"]


def test_only_admin_may_watch_every_session(ws_client: TestClient) -> None:
    closed = refused_with(ws_client, "/ws/chat", bearer("coach"))
    assert closed.code == 4403
    with ws_client.websocket_connect("/ws/chat", subprotocols=bearer("admin")) as ws:
        assert next_event(ws)["session_id"] is None
        run(ws_client, "coach", "c-9", "one")
        run(ws_client, "npc", None, "two")
        seen = [next_event(ws)["data"] for _ in range(4)]
    assert [(e["tool_call_id"], e["caller_role"]) for e in seen[::2]] == [("one", "coach"), ("two", "npc")]


def test_admin_may_watch_any_one_session(ws_client: TestClient) -> None:
    run(ws_client, "coach", "coach-owned", "before")
    with ws_client.websocket_connect("/ws/chat?session_id=coach-owned", subprotocols=bearer("admin")) as ws:
        next_event(ws)
        run(ws_client, "coach", "coach-owned", "after")
        assert next_event(ws)["data"]["tool_call_id"] == "after"


def test_a_malformed_session_id_is_closed_4400(ws_client: TestClient) -> None:
    closed = refused_with(ws_client, "/ws/chat?session_id=has%20space", bearer("coach"))
    assert closed.code == 4400


def test_heartbeats_when_idle(ws_client: TestClient) -> None:
    with ws_client.websocket_connect("/ws/chat?session_id=quiet", subprotocols=bearer("coach")) as ws:
        assert ws.receive_json()["event"] == "subscribed"
        heartbeat = ws.receive_json()
    assert heartbeat["event"] == "heartbeat"
    assert heartbeat["timestamp"].endswith("Z")


@pytest.fixture
def small_queue_client(sample_settings: Settings) -> Iterator[TestClient]:
    """An app whose subscribers may fall at most 3 events behind."""
    settings = sample_settings.model_copy(update={"event_queue_size": 3})
    registry = make_registry(create_backends(settings))
    executor = private_executor(registry, require_idempotency_key=True)
    with TestClient(create_app(settings, executor=executor)) as client:
        yield client
        client.portal.call(executor.aclose)


def test_a_client_falling_behind_is_dropped_with_1013_and_calls_go_on(small_queue_client: TestClient) -> None:
    """Ten calls publish twenty events at once: more than the queue holds, so the bus drops the subscriber."""
    client = small_queue_client
    with client.websocket_connect("/ws/chat?session_id=burst", subprotocols=bearer("coach")) as ws:
        assert ws.receive_json()["event"] == "subscribed"
        calls = [{"tool": "echo", "payload": {"text": f"t{i}"}} for i in range(10)]
        body = {"calls": calls, "session_id": "burst"}
        batch = client.post("/api/v1/tools/execute-batch", json=body, headers=auth("coach"))
        assert batch.status_code == 200
        assert batch.json()["succeeded"] == 10
        with pytest.raises(WebSocketDisconnect) as closed:
            drain(ws)
    assert closed.value.code == 1013
    # The bus forgot the dropped subscriber: later calls have nobody to publish to.
    assert (
        client.post(
            "/api/v1/tools/execute", json={"tool": "echo", "payload": {"text": "z"}, "session_id": "burst"},
            headers=auth("coach"),
        ).status_code
        == 200
    )
    assert client.app.state.service.executor.events.subscriber_count == 0  # type: ignore[attr-defined]
