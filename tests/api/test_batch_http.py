"""`POST /api/v1/tools/execute-batch` keeps a batch's meaning over HTTP: a read after a write sees it, the deadline."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from conftest import auth

BATCH = "/api/v1/tools/execute-batch"


async def test_a_read_after_a_write_sees_it(demo: httpx.AsyncClient) -> None:
    read = {"tool": "crm_integration", "payload": {"action": "read", "customer_id": "CUST003"}}
    update = {
        "tool": "crm_integration", "idempotency_key": "http-batch-1",
        "payload": {"action": "update", "customer_id": "CUST003", "data": {"stage": "closing"}},
    }
    search = {"tool": "crm_integration", "payload": {"action": "search", "query": "CUST003"}}
    response = await demo.post(
        BATCH, json={"calls": [read, update, read, search], "max_concurrent": 4}, headers=auth("sdr")
    )
    assert response.status_code == 200
    body = response.json()
    assert body["failed"] == 0, body
    before, written, after = (r["result"]["customer"] for r in body["results"][:3])
    assert (before["stage"], written["stage"], after["stage"]) == ("presentation", "closing", "closing")


async def test_calls_not_started_by_the_deadline_do_not_run(client: httpx.AsyncClient) -> None:
    calls = [
        {"tool": "blocking", "payload": {"seconds": 0.3}, "tool_call_id": "first"},
        {"tool": "write", "payload": {}, "idempotency_key": "late-write", "tool_call_id": "late"},
        {"tool": "echo", "payload": {"text": "late"}},
    ]
    body = {"calls": calls, "max_concurrent": 5, "deadline_s": 0.1}
    response = await client.post(BATCH, json=body, headers=auth("coach"))
    assert response.status_code == 200
    results = response.json()["results"]
    assert results[0]["ok"] is True
    assert [r["error"]["code"] for r in results[1:]] == ["TOOL_TIMEOUT", "TOOL_TIMEOUT"]
    assert results[1]["tool_call_id"] == "late"
    assert results[1]["error"]["details"] == {"deadline_s": 0.1, "started": False}
    # The write never ran: the same key runs it now, for the first time (attempts counts its runs).
    again = await client.post(BATCH, json={"calls": calls[1:2]}, headers=auth("coach"))
    assert again.json()["results"][0]["result"] == {"attempts": 1}


async def test_fifty_reads_of_100_ms_five_at_a_time(client: httpx.AsyncClient) -> None:
    """50 calls of a tool that blocks 100 ms in a worker thread, 5 at a time: ten rounds, against ten bare rounds
    of five 100 ms sleeps measured side by side (the ideal, 1.0 s)."""
    calls = [{"tool": "blocking", "payload": {"seconds": 0.1}, "tool_call_id": f"b{i}"} for i in range(50)]
    start = time.perf_counter()
    response = await client.post(BATCH, json={"calls": calls, "max_concurrent": 5}, headers=auth("coach"))
    elapsed = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(10):
        await asyncio.gather(*(asyncio.to_thread(time.sleep, 0.1) for _ in range(5)))
    ideal = max(time.perf_counter() - start, 1.0)
    print(f"HTTP 50 x 100 ms at 5: {elapsed:.3f} s; ideal {ideal:.3f} s; ratio {elapsed / ideal:.3f}")
    body = response.json()
    assert body["succeeded"] == 50
    assert [r["tool_call_id"] for r in body["results"]] == [f"b{i}" for i in range(50)]
    assert elapsed <= 1.15 * ideal


@pytest.mark.parametrize("deadline", [0, -1, 3601, "1"])
async def test_a_bad_deadline_is_422(client: httpx.AsyncClient, deadline: object) -> None:
    body = {"calls": [{"tool": "echo", "payload": {"text": "x"}}], "deadline_s": deadline}
    response = await client.post(BATCH, json=body, headers=auth("coach"))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "REQUEST_INVALID"
