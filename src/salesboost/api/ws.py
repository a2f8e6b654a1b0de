"""`WS /ws/chat?session_id=...`: the `tool_status` events (docs/contract.md, section 5) of a session, in order,
and heartbeats.

Authentication, never by query string alone (it lands in access logs): offer the subprotocols
`["salesboost.v1", "bearer.<key>"]`, or send `{"type": "auth", "api_key": "<key>"}` as the first message
within `SALESBOOST_WS_AUTH_TIMEOUT` seconds. An admin key may omit session_id to watch every session, or
watch any one. Another key may watch a session it owns, or one nobody owns yet, and receives the events of
its own calls only; subscribing claims nothing (see `sessions.py`). After `{"event": "subscribed", ...}` the
socket carries the session's events and, when idle, a `{"event": "heartbeat"}` every
`SALESBOOST_WS_HEARTBEAT_SECONDS`.

Close codes: 4400 bad request, 4401 not authenticated, 4403 session not yours, 1013 try again later: the
client was too slow (it filled its bounded queue, and the bus dropped it, never waiting for it), or the
session's owner could not be checked (the database did not answer).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable
from typing import Any

import anyio
from anyio import ClosedResourceError
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from salesboost.api.auth import ApiKey
from salesboost.api.service import Service, service_of
from salesboost.api.sessions import SessionForbiddenError, SessionUnavailableError
from salesboost.clock import iso_stamp
from salesboost.tools.events import Subscription

SUBPROTOCOL = "salesboost.v1"
BEARER_PREFIX = "bearer."
CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TRY_AGAIN = 1013
_SESSION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

router = APIRouter()


class _Refused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _subprotocols(websocket: WebSocket) -> tuple[str | None, str | None]:
    """(the key offered as `bearer.<key>`, the subprotocol to accept): browsers insist on one being chosen."""
    offered: list[str] = list(websocket.scope.get("subprotocols") or ())
    bearer = next((p for p in offered if p.startswith(BEARER_PREFIX)), None)
    key = bearer[len(BEARER_PREFIX):] if bearer else None
    return key, SUBPROTOCOL if SUBPROTOCOL in offered else bearer


async def _first_message_key(websocket: WebSocket, timeout: float) -> str:
    text = None
    with anyio.move_on_after(timeout):
        text = await websocket.receive_text()
    if text is None:
        raise _Refused(CLOSE_UNAUTHORIZED, f"send {{'type': 'auth', 'api_key': ...}} within {timeout:g} s")
    try:
        message: Any = json.loads(text)
    except ValueError:
        message = None
    valid = isinstance(message, dict) and message.get("type") == "auth"
    if not valid or not isinstance(message.get("api_key"), str):
        raise _Refused(CLOSE_UNAUTHORIZED, "the first message must be {'type': 'auth', 'api_key': ...}")
    return str(message["api_key"])


async def _subscribe(svc: Service, key: ApiKey, session_id: str | None) -> Subscription:
    """The key's subscription to the session (None: to all), or `_Refused`."""
    if session_id is None:
        if not key.is_admin:
            raise _Refused(CLOSE_FORBIDDEN, "only an admin key may watch every session: pass session_id")
        return svc.executor.events.subscribe(None)
    if not _SESSION_ID.match(session_id):
        raise _Refused(CLOSE_BAD_REQUEST, "session_id must be 1 to 128 letters, digits or . _ : -")
    try:
        await svc.sessions.admit(session_id, key)  # the claim it may answer is for an accepted call to make
    except SessionForbiddenError:
        raise _Refused(CLOSE_FORBIDDEN, "this session belongs to another API key") from None
    except SessionUnavailableError:
        raise _Refused(CLOSE_TRY_AGAIN, "the owner of this session cannot be checked right now; retry") from None
    return svc.executor.events.subscribe(frozenset({session_id}), None if key.is_admin else key.id)


async def _pump(websocket: WebSocket, sub: Subscription, heartbeat: float) -> None:
    """Events to the client in order; a heartbeat when idle; 1013 once the bus has dropped us."""
    while True:
        event = None
        with anyio.move_on_after(heartbeat):
            event = await sub.get()
        if event is None:
            await websocket.send_json({"event": "heartbeat", "timestamp": iso_stamp()})
            continue
        if sub.dropped:
            await websocket.close(CLOSE_TRY_AGAIN, "too slow: your event queue filled up")
            return
        await websocket.send_json(event)


async def _listen(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, to notice when it goes away."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


@router.websocket("/ws/chat")
async def chat(websocket: WebSocket) -> None:
    svc = service_of(websocket)
    settings = svc.settings
    presented, subprotocol = _subprotocols(websocket)
    await websocket.accept(subprotocol=subprotocol)
    try:
        if presented is None:
            presented = await _first_message_key(websocket, settings.ws_auth_timeout)
        key = svc.keys.authenticate(presented)
        if key is None:
            raise _Refused(CLOSE_UNAUTHORIZED, "unknown API key")
        session_id = websocket.query_params.get("session_id") or None
        sub = await _subscribe(svc, key, session_id)
    except _Refused as refused:
        await websocket.close(refused.code, refused.reason)
        return
    except WebSocketDisconnect:
        return
    try:
        await websocket.send_json(
            {"event": "subscribed", "session_id": session_id, "role": key.role,
             "heartbeat_seconds": settings.ws_heartbeat_seconds, "timestamp": iso_stamp()}
        )
        async with anyio.create_task_group() as group:

            async def until_done(job: Awaitable[None]) -> None:
                await job
                group.cancel_scope.cancel()

            group.start_soon(until_done, _pump(websocket, sub, settings.ws_heartbeat_seconds))
            group.start_soon(until_done, _listen(websocket))
    except* (WebSocketDisconnect, ClosedResourceError):
        pass  # the client went away
    finally:
        sub.close()
