"""The provider's signed webhooks against the running app, on SQLite and PostgreSQL: STOP, HELP and START
inbound, delivery status callbacks, and what an unsigned or wrongly signed request gets (nothing changes)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from conftest import app_client, auth, make_settings
from salesboost.api.sms_webhooks import signature_valid, twilio_signature
from salesboost.assembly import create_backends
from salesboost.config import Settings
from salesboost.sales.sms.outbox import LogProvider, OutboxDispatcher
from salesboost.tools.base import ToolBackends

TOKEN = "provider-auth-token-0123"
JOHN = "+14155550101"  # a fictional test number: the log provider texts it at any hour
INBOUND = "/api/v1/sms/inbound"
STATUS = "/api/v1/sms/status"
EXECUTE = "/api/v1/tools/execute"


def test_twilios_published_example() -> None:
    """The vectors of Twilio's own validator tests (token 12345)."""
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {"CallSid": "CA1234567890ABCDE", "Digits": "1234", "From": "+14158675309", "To": "+18005551212",
              "Caller": "+14158675309"}
    assert twilio_signature(url, params.items(), "12345") == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    repeated = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")]
    assert twilio_signature(url, repeated, "12345") == "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    # Twilio signs some URLs with the default port and some without: both are accepted, nothing else.
    with_port = url.replace(".com", ".com:443")
    assert signature_valid(url, list(params.items()), "12345", twilio_signature(with_port, params.items(), "12345"))
    assert signature_valid(with_port, list(params.items()), "12345", "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    assert not signature_valid(url, list(params.items()), "12346", "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    assert not signature_valid(url, [*params.items(), ("Body", "x")], "12345", "RSOYDt4T1cUTdK1PDd93/VVr8B8=")


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url, ("sdr", "coach"), sms_http_auth_token=TOKEN, sms_dispatcher_enabled=False)


@pytest.fixture
async def backends(settings: Settings) -> AsyncIterator[ToolBackends]:
    backend = create_backends(settings)
    yield backend
    await backend.aclose()


@pytest.fixture
async def http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings) as client:
        yield client


async def signed(
    http: httpx.AsyncClient, path: str, form: dict[str, str], *, token: str = TOKEN,
    url: str = "http://testserver", headers: dict[str, str] | None = None,
) -> httpx.Response:
    signature = twilio_signature(url + path, form.items(), token)
    return await http.post(
        path, content=urlencode(form),
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature,
                 **(headers or {})},
    )


def text(phone: str, body: str) -> dict[str, str]:
    return {"From": phone, "To": "+15005550006", "Body": body, "MessageSid": "SMinbound1", "AccountSid": "AC1"}


async def send(http: httpx.AsyncClient, key: str, **payload: Any) -> dict[str, Any]:
    body = {"tool": "sms_outreach", "payload": {"phone_number": JOHN, "message": "Hello", **payload}}
    response = await http.post(EXECUTE, json=body, headers={**auth("sdr"), "Idempotency-Key": key})
    answer: dict[str, Any] = response.json()
    return answer


async def history(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    body = {"tool": "sms_outreach", "payload": {"action": "history", "phone_number": JOHN}}
    messages: list[dict[str, Any]] = (await http.post(EXECUTE, json=body, headers=auth("coach"))).json()["result"][
        "messages"
    ]
    return messages


async def test_stop_help_start_over_the_signed_webhook(http: httpx.AsyncClient) -> None:
    help_ = await signed(http, INBOUND, text(JOHN, "help"))
    assert help_.status_code == 200
    assert help_.headers["content-type"].startswith("text/xml")
    assert "Msg&amp;data rates may apply" in help_.text  # escaped in the XML
    assert "<Message>SalesBoost: " in help_.text
    stop = await signed(http, INBOUND, text(JOHN, "Stop."))
    assert "you are unsubscribed" in stop.text
    assert (await send(http, "after-stop"))["error"]["code"] == "SMS_OPTED_OUT"
    again = await signed(http, INBOUND, text(JOHN, "STOP"))
    assert again.text == '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'  # one confirmation only
    start = await signed(http, INBOUND, text(JOHN, "START"))
    assert "resubscribed" in start.text
    assert (await send(http, "after-start"))["ok"] is True
    chat = await signed(http, INBOUND, text(JOHN, "Tuesday works for me"))
    assert chat.text.endswith("<Response></Response>")


@pytest.mark.parametrize(
    "how",
    ["unsigned", "wrong token", "body changed", "another URL", "API key instead"],
)
async def test_a_wrongly_signed_request_is_refused_and_changes_nothing(http: httpx.AsyncClient, how: str) -> None:
    form = text(JOHN, "STOP")
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if how == "unsigned":
        response = await http.post(INBOUND, content=urlencode(form), headers=headers)
    elif how == "wrong token":
        response = await signed(http, INBOUND, form, token="not-the-token")
    elif how == "body changed":
        signature = twilio_signature(f"http://testserver{INBOUND}", text(JOHN, "HELP").items(), TOKEN)
        response = await http.post(
            INBOUND, content=urlencode(form), headers={**headers, "X-Twilio-Signature": signature}
        )
    elif how == "another URL":
        response = await signed(http, INBOUND, form, url="https://elsewhere.example")
    else:
        response = await http.post(INBOUND, content=urlencode(form), headers={**headers, **auth("sdr")})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "SMS_SIGNATURE_INVALID"
    assert (await send(http, "still-subscribed-" + how.replace(" ", "-")))["ok"] is True
    status = await http.post(STATUS, content=urlencode({"MessageSid": "log-1", "MessageStatus": "failed"}),
                             headers=headers)
    assert status.status_code == 403


async def test_without_a_token_the_webhooks_say_why(db_url: str) -> None:
    async with app_client(make_settings(db_url, ("sdr",))) as http:
        for path in (INBOUND, STATUS):
            response = await signed(http, path, text(JOHN, "STOP"))
            assert response.status_code == 503
            assert response.json()["error"]["code"] == "SMS_WEBHOOK_NOT_CONFIGURED"
            assert "SALESBOOST_SMS_HTTP_AUTH_TOKEN" in response.json()["error"]["message"]


async def test_behind_a_proxy_the_public_url_is_signed(db_url: str) -> None:
    settings = make_settings(db_url, ("sdr",), sms_http_auth_token=TOKEN,
                             sms_webhook_base_url="https://tools.example.com/")
    async with app_client(settings) as http:
        public = await signed(http, INBOUND, text(JOHN, "HELP"), url="https://tools.example.com")
        assert public.status_code == 200
        assert "<Message>" in public.text
        assert (await signed(http, INBOUND, text(JOHN, "HELP"))).status_code == 403  # the app's own URL


async def test_status_callbacks_move_the_outbox(http: httpx.AsyncClient, backends: ToolBackends) -> None:
    ids = [(await send(http, f"status-{i}", message=f"Note {i}"))["result"]["message"]["message_id"] for i in range(4)]
    assert (await OutboxDispatcher(backends.sessions(), LogProvider()).run_once()).sent == 4
    sid = {i: f"log-{i}" for i in ids}

    def callback(message_id: int, status: str, error: str = "") -> dict[str, str]:
        form = {"MessageSid": sid[message_id], "MessageStatus": status, "AccountSid": "AC1"}
        return {**form, "ErrorCode": error} if error else form

    assert (await signed(http, STATUS, callback(ids[0], "delivered"))).status_code == 204
    assert (await signed(http, STATUS, callback(ids[0], "sent"))).status_code == 204  # late: no step back
    assert (await signed(http, STATUS, callback(ids[1], "failed", "21211"))).status_code == 204
    assert (await signed(http, STATUS, callback(ids[2], "undelivered", "21614"))).status_code == 204
    by_id = {m["message_id"]: m for m in await history(http)}
    assert (by_id[ids[0]]["status"], by_id[ids[0]]["delivered_at"] is not None) == ("delivered", True)
    assert by_id[ids[1]]["status"] == "failed"
    assert "invalid 'To' number" in by_id[ids[1]]["last_error"]
    assert "not a mobile number" in by_id[ids[2]]["last_error"]
    assert (await send(http, "before-21610"))["ok"] is True
    # 21610: the recipient opted out at the provider; the number is opted out here too.
    assert (await signed(http, STATUS, callback(ids[3], "failed", "21610"))).status_code == 204
    assert (await send(http, "after-21610"))["error"]["code"] == "SMS_OPTED_OUT"
    unknown = await signed(http, STATUS, {"MessageSid": "SMnope", "MessageStatus": "delivered"})
    assert unknown.status_code == 404
    bad = await signed(http, STATUS, {"MessageSid": sid[ids[0]], "MessageStatus": "teleported"})
    assert bad.status_code == 400


