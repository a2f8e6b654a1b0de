"""The SMS provider's webhooks: inbound texts (STOP, START, HELP) and delivery status callbacks, Twilio-style.

They are called by the provider, not by API clients, so they take no API key: each request must carry the
provider's signature, `X-Twilio-Signature` = base64(HMAC-SHA1(auth token, URL + every form parameter's name and
value, sorted by name)), keyed by `SALESBOOST_SMS_HTTP_AUTH_TOKEN`. Without a token they answer 503 (nothing
can be checked); a missing or wrong signature is 403 and changes nothing.

The URL signed is the one the provider was configured with. Behind a proxy or load balancer the app sees
another (http instead of https, an internal host), so `SALESBOOST_SMS_WEBHOOK_BASE_URL` names the public
base (`https://tools.example.com`) and the signature is checked against it plus the request's path and query.
Twilio signs some URLs with the default port (:443, :80) and some without, so both forms are accepted, as
its own validators do. The standard library does the work: the `twilio` package would bring an HTTP stack
and more for one HMAC.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit, urlunsplit
from xml.sax.saxutils import escape

from fastapi import APIRouter, Request
from starlette.responses import Response

from salesboost.api.errors import (
    NOT_FOUND,
    REQUEST_INVALID,
    SMS_SIGNATURE_INVALID,
    SMS_WEBHOOK_NOT_CONFIGURED,
    ApiError,
)
from salesboost.api.service import service_of
from salesboost.masking import mask
from salesboost.sales.sms.inbound import Replies, handle_inbound, opt_out
from salesboost.sales.sms.numbers import InvalidPhoneError, recipient_e164
from salesboost.sales.sms.outbox import OPTED_OUT_AT_PROVIDER, record_delivery_status

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/sms", tags=["sms"], include_in_schema=False)
SIGNATURE_HEADER = "x-twilio-signature"
_DEFAULT_PORTS = {"https": 443, "http": 80}


def twilio_signature(url: str, params: Iterable[tuple[str, str]], token: str) -> str:
    """The signature Twilio sends for a POST to `url` with these form parameters (sorted by name, then value)."""
    data = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _port_forms(url: str) -> set[str]:
    """The URL as given, without its port, and with the scheme's default port."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    forms = {url, urlunsplit(parts._replace(netloc=host))}
    if parts.scheme in _DEFAULT_PORTS and parts.port is None:
        forms.add(urlunsplit(parts._replace(netloc=f"{host}:{_DEFAULT_PORTS[parts.scheme]}")))
    return forms


def signature_valid(url: str, params: list[tuple[str, str]], token: str, presented: str | None) -> bool:
    if not presented:
        return False
    return any(
        hmac.compare_digest(twilio_signature(form, params, token).encode(), presented.encode())
        for form in _port_forms(url)
    )


def signed_url(request: Request) -> str:
    """The URL the provider signed: the public base when configured, else the one this request came in on."""
    base = service_of(request).settings.sms_webhook_base_url
    if not base:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return base.rstrip("/") + request.url.path + query


async def signed_form(request: Request) -> dict[str, str]:
    """The form of a correctly signed request (503 without a token to check with, 403 when the signature fails)."""
    token = service_of(request).settings.sms_http_auth_token.get_secret_value()
    if not token:
        raise ApiError(
            503, SMS_WEBHOOK_NOT_CONFIGURED,
            "the SMS webhooks check the provider's signature with its auth token, and none is configured: set "
            "SALESBOOST_SMS_HTTP_AUTH_TOKEN",
        )
    params = parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    if not signature_valid(signed_url(request), params, token, request.headers.get(SIGNATURE_HEADER)):
        log.warning("sms webhook %s: missing or wrong X-Twilio-Signature; ignored", request.url.path)
        raise ApiError(
            403, SMS_SIGNATURE_INVALID,
            "missing or wrong X-Twilio-Signature for this URL and body (behind a proxy, set "
            "SALESBOOST_SMS_WEBHOOK_BASE_URL to the public base URL the provider calls)",
        )
    return dict(params)


@lru_cache(maxsize=4)
def _replies(path: Path) -> Replies:
    """Read once per file: the texts change with a restart, as settings do."""
    return Replies.load(path)


def _twiml(reply: str | None) -> Response:
    """The answer to the provider: a reply text to send back, or none."""
    message = f"<Message>{escape(reply)}</Message>" if reply is not None else ""
    body = f'<?xml version="1.0" encoding="UTF-8"?><Response>{message}</Response>'
    return Response(body, media_type="text/xml")


@router.post("/inbound")
async def inbound(request: Request) -> Response:
    """A text to one of our numbers (`From`, `To`, `Body`, `MessageSid`): STOP, START and HELP are applied and
    answered; anything else is acknowledged with no reply."""
    form = await signed_form(request)
    settings = service_of(request).settings
    try:
        phone = recipient_e164(form.get("From", ""), settings.phone_default_region)
    except InvalidPhoneError:  # a short code or an alphanumeric sender: no keyword handling applies
        return _twiml(None)
    backends = service_of(request).executor.registry.backends
    replies = _replies(settings.sms_replies_file)
    result = await handle_inbound(backends.sessions(), phone, form.get("Body", ""), backends.clock(), replies)
    log.info("sms inbound %s from %s: %s", form.get("MessageSid", "?"), mask(phone), result.outcome)
    return _twiml(result.reply)


@router.post("/status")
async def status(request: Request) -> Response:
    """A delivery status callback (`MessageSid`, `MessageStatus`, `ErrorCode`): the outbox follows it; error
    21610 (the recipient opted out at the provider) is recorded as an opt-out."""
    form = await signed_form(request)
    backends = service_of(request).executor.registry.backends
    now = backends.clock()
    error_code = form.get("ErrorCode") or None
    try:
        message = await record_delivery_status(
            backends.sessions(), form.get("MessageSid", ""), form.get("MessageStatus", ""), now, error_code
        )
    except ValueError as exc:
        raise ApiError(400, REQUEST_INVALID, str(exc)) from None
    if message is not None and error_code == OPTED_OUT_AT_PROVIDER:
        await opt_out(backends.sessions(), message.phone, now, source="provider", keyword=error_code)
    if message is None:
        raise ApiError(404, NOT_FOUND, f"no message with provider id {form.get('MessageSid', '')!r}")
    return Response(status_code=204)
