"""The original design's `sms_outreach` example, exactly as written, through HTTP against the app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from salesboost.api import create_app
from salesboost.config import load_settings

SDR_KEY = "test-sdr-key-0123456789abcdef"
EXAMPLE = {"tool": "sms_outreach", "payload": {"phone_number": "+15550001000", "message": "Test"}}


@pytest.fixture
async def http(db_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(load_settings(database_url=db_url, api_keys=f"{SDR_KEY}:sdr"))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        yield client


async def test_the_original_example_as_written(http: httpx.AsyncClient) -> None:
    headers = {"Authorization": f"Bearer {SDR_KEY}", "Idempotency-Key": "original-example-1"}
    response = await http.post("/api/v1/tools/execute", json=EXAMPLE, headers=headers)
    assert response.status_code == 200, response.text
    envelope = response.json()
    assert envelope["ok"] is True
    message = envelope["result"]["message"]
    assert message["phone"] == "+15550001000"
    assert message["test_number"] is True
    assert message["status"] == "queued"
    assert message["body"] == "Test"
    again = await http.post("/api/v1/tools/execute", json=EXAMPLE, headers=headers)
    assert again.json()["result"]["duplicate"] is True
    assert again.json()["result"]["message"]["message_id"] == message["message_id"]
