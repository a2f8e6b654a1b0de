"""Two `salesboost serve` processes sharing Redis and a PostgreSQL database of their own, as two replicas behind a
load balancer: limits, events, cache and breakers hold across them. And `serve --workers N` never loosens them
silently."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as redis
import websockets

from sales.sms.fake_sms_api import ACCOUNT, TOKEN, running_fake_api
from salesboost.assembly import build_runtime
from salesboost.config import DATA_DIR, load_settings
from shared_state import RedisServer, free_port

SALESBOOST = str(Path(sys.executable).with_name("salesboost"))
KEY = "replica-test-sdr-key-0123456789abcdef"
HEADERS = {"Authorization": f"Bearer {KEY}"}
EXECUTE = "/api/v1/tools/execute"

pytestmark = pytest.mark.postgres


class Server:
    def __init__(self, port: int, process: subprocess.Popen[bytes]) -> None:
        self.port = port
        self.process = process
        self.url = f"http://127.0.0.1:{port}"


@contextmanager
def serve(env: Mapping[str, str], *args: str) -> Iterator[Server]:
    """`salesboost serve` on a free port, until it has warmed up; stopped by its pid afterwards."""
    port = free_port()
    process = subprocess.Popen(
        [SALESBOOST, "serve", "--port", str(port), *args], env={**os.environ, **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"serve exited {process.returncode}: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:  # up, and done loading the tools' models (/readyz says "warming: ..." until then)
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).json()
                if not ready["checks"]["warmup"].startswith("warming"):
                    break
            except (httpx.HTTPError, ValueError):
                pass
            assert time.monotonic() < deadline, "serve did not get past warming up within 90 s"
            time.sleep(0.2)
        yield Server(port, process)
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def replica_env(postgres_url: str, redis_url: str, prefix: str, **extra: str) -> dict[str, str]:
    return {
        "SALESBOOST_DATABASE_URL": postgres_url,
        "SALESBOOST_REDIS_URL": redis_url,
        "SALESBOOST_REDIS_PREFIX": prefix,
        "SALESBOOST_API_KEYS": f"{KEY}:sdr",
        "SALESBOOST_RATE_LIMITS_FILE": str(DATA_DIR / "rate_limits.yaml"),  # the defaults, on
        "SALESBOOST_CIRCUIT_FAILURE_THRESHOLD": "2",
        "SALESBOOST_SMS_DISPATCHER_ENABLED": "false",
        "SALESBOOST_LOG_LEVEL": "WARNING",
        **extra,
    }


@pytest.fixture
async def prefix(redis_url: str) -> AsyncIterator[str]:
    name = f"test-{uuid.uuid4().hex[:10]}:"
    yield name
    client = redis.Redis.from_url(redis_url)
    keys = [key async for key in client.scan_iter(match=f"{name}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def execute(
    http: httpx.AsyncClient, server: Server, tool: str, payload: dict[str, Any], **fields: Any
) -> httpx.Response:
    headers = dict(HEADERS)
    key = fields.pop("idempotency_key", None)
    if key is not None:
        headers["Idempotency-Key"] = key
    return await http.post(f"{server.url}{EXECUTE}", json={"tool": tool, "payload": payload, **fields}, headers=headers)


async def test_two_replicas_share_limits_events_cache_and_breakers(
    postgres_url: str, redis_url: str, prefix: str
) -> None:
    env = replica_env(postgres_url, redis_url, prefix)
    with serve(env) as a, serve(env) as b:
        async with httpx.AsyncClient(timeout=30) as http:
            # competitor_analysis: 5 per minute per caller, whichever replica is asked.
            answers = [
                await execute(http, (a, b)[i % 2], "competitor_analysis", {"competitor_name": "CompetitorA"})
                for i in range(12)
            ]
            assert [r.status_code for r in answers] == [200] * 5 + [429] * 7
            refused = answers[-1]
            assert refused.json()["error"]["code"] == "TOOL_RATE_LIMITED"
            assert (refused.headers["RateLimit-Limit"], refused.headers["RateLimit-Remaining"]) == ("5", "0")
            assert int(refused.headers["Retry-After"]) >= 1

            # A WebSocket on b receives the events of a call served by a, in order.
            ws_url = f"ws://127.0.0.1:{b.port}/ws/chat?session_id=replica-s1"
            async with websockets.connect(ws_url, subprotocols=["salesboost.v1", f"bearer.{KEY}"]) as ws:  # type: ignore[list-item]
                assert json.loads(await ws.recv())["event"] == "subscribed"
                await asyncio.sleep(0.5)  # b's listener is subscribed since start-up; the socket's queue now
                call = await execute(http, a, "compliance_check", {"text": "Hello there"},
                                     session_id="replica-s1", tool_call_id="over-there")
                assert call.status_code == 200
                events = [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(2)]
            assert [(e["data"]["tool_call_id"], e["data"]["status"]) for e in events] == [
                ("over-there", "started"), ("over-there", "completed")
            ]

            # A profile cached through a is a hit on b; a CRM update on a drops it on b at once.
            created = await execute(http, a, "crm_integration", {"action": "create", "data": {
                "name": "Replica GmbH", "phone": "+49 30 901820", "industry": "Logistics"}}, idempotency_key="c-1")
            assert created.status_code == 200, created.text
            customer = created.json()["result"]["customer"]["customer_id"]
            first = await execute(http, a, "profile_reader", {"customer_id": customer})
            assert first.status_code == 200
            assert not first.json()["cached"]
            assert (await execute(http, b, "profile_reader", {"customer_id": customer})).json()["cached"]
            updated = await execute(http, a, "crm_integration", {
                "action": "update", "customer_id": customer, "data": {"industry": "Shipping"}}, idempotency_key="u-1")
            assert updated.status_code == 200, updated.text
            fresh = await execute(http, b, "profile_reader", {"customer_id": customer})
            assert not fresh.json()["cached"]
            assert fresh.json()["result"] != first.json()["result"]

            # A breaker tripped through a fails fast on b: the customers table is gone for a moment, so two
            # profile reads crash on a; b then refuses without touching the database.
            await _sql(postgres_url, "ALTER TABLE customers RENAME TO customers_away")
            try:
                for n in range(2):
                    crashed = await execute(http, a, "profile_reader", {"customer_id": f"CUST{n + 101}"})
                    assert crashed.json()["error"]["code"] == "TOOL_EXECUTION_FAILED"
                await asyncio.sleep(0.2)  # the outcome is written just after the call answered
                fast = await execute(http, b, "profile_reader", {"customer_id": "CUST103"})
                assert fast.status_code == 503, fast.text
                assert fast.json()["error"]["code"] == "TOOL_CIRCUIT_OPEN"
            finally:
                await _sql(postgres_url, "ALTER TABLE customers_away RENAME TO customers")

            # Both report the shared state ready, and the aggregated cache statistics agree.
            for server in (a, b):
                ready = (await http.get(f"{server.url}/readyz")).json()
                assert ready["status"] == "ready"
                assert ready["checks"]["redis"] == "ok"
            stats = [(await http.get(f"{s.url}/api/v1/tools/cache/stats", headers=HEADERS)).json() for s in (a, b)]
            assert stats[0]["hits"] == stats[1]["hits"] >= 1


async def test_two_replicas_dispatchers_text_each_queued_message_once(
    postgres_url: str, redis_url: str, prefix: str
) -> None:
    """200 texts queued, then two replicas, each with its SMS dispatcher, drain the outbox into a provider that
    ignores idempotency keys (a repeated post would be a second text): every message is texted exactly once."""
    numbers = [f"+1{area}5550{n:03d}" for area in (212, 415) for n in range(100, 200)]  # fictional NANP numbers
    runtime = build_runtime(load_settings(database_url=postgres_url, sms_transactional_any_hour=True))
    try:
        results = await runtime.executor.execute_many(
            [{"tool": "sms_outreach", "payload": {"phone_number": phone, "message": f"Order {i} has shipped."},
              "idempotency_key": f"ship-{i}"} for i, phone in enumerate(numbers)],
            "sdr",
        )
    finally:
        await runtime.aclose()
    assert [r.error for r in results if not r.ok] == []
    with running_fake_api(honours_keys=False) as api:
        env = replica_env(
            postgres_url, redis_url, prefix, SALESBOOST_SMS_DISPATCHER_ENABLED="true", SALESBOOST_SMS_PROVIDER="http",
            SALESBOOST_SMS_HTTP_BASE_URL=api.base_url, SALESBOOST_SMS_HTTP_ACCOUNT_SID=ACCOUNT,
            SALESBOOST_SMS_HTTP_AUTH_TOKEN=TOKEN, SALESBOOST_SMS_FROM_NUMBER="+15005550006",
            SALESBOOST_SMS_DISPATCH_INTERVAL="0.05",
        )
        with serve(env), serve(env):
            for _ in range(600):  # two minutes at most
                if len(api.texted) >= len(numbers):
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(1)  # a double post would come now, if ever
        texted = sorted(message["To"] for message in api.texted)
    assert texted == sorted(numbers)  # each number once: none lost, none twice
    assert len(api.requests) == len(numbers)


async def _sql(postgres_url: str, statement: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(postgres_url)
    conn = await asyncpg.connect(host=url.host, port=url.port or 5432, user=url.username, database=url.database)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def test_a_redis_outage_degrades_without_a_5xx_and_shared_state_resumes(
    postgres_url: str, redis_server: RedisServer
) -> None:
    env = replica_env(postgres_url, redis_server.url, "sb:", SALESBOOST_REDIS_RETRY_SECONDS="0.2")
    with serve(env) as a:
        async with httpx.AsyncClient(timeout=30) as http:
            payload = {"competitor_name": "CompetitorB"}
            assert (await execute(http, a, "competitor_analysis", payload)).status_code == 200
            assert (await execute(http, a, "competitor_analysis", payload)).json()["cached"]

            redis_server.kill()
            during = [await execute(http, a, "knowledge_retriever", {"query": f"pricing {i}"}) for i in range(3)]
            during += [await execute(http, a, "competitor_analysis", payload) for _ in range(2)]
            assert all(r.status_code < 500 for r in during), [r.status_code for r in during]
            assert not any(r.json()["cached"] for r in during)  # the cache is bypassed
            ready = (await http.get(f"{a.url}/readyz")).json()
            assert ready["status"] == "degraded"
            assert ready["checks"]["redis"].startswith("degraded: Redis unreachable")
            metrics = (await http.get(f"{a.url}/metrics")).text
            assert 'salesboost_state_fallbacks_total{component="cache"}' in metrics
            assert 'salesboost_state_fallbacks_total{component="ratelimit"}' in metrics

            redis_server.start()
            deadline = time.monotonic() + 20
            while (await http.get(f"{a.url}/readyz")).json()["status"] != "ready":
                assert time.monotonic() < deadline, "shared state did not resume"
                await asyncio.sleep(0.2)
            assert not (await execute(http, a, "competitor_analysis", payload)).json()["cached"]
            assert (await execute(http, a, "competitor_analysis", payload)).json()["cached"]


def test_serve_with_workers_and_no_redis_refuses_to_start(sqlite_url: str) -> None:
    env = {**os.environ, "SALESBOOST_DATABASE_URL": sqlite_url, "SALESBOOST_API_KEYS": f"{KEY}:sdr"}
    env.pop("SALESBOOST_REDIS_URL", None)
    done = subprocess.run(
        [SALESBOOST, "serve", "--workers", "2", "--port", str(free_port())], env=env, capture_output=True,
        text=True, timeout=120,
    )
    assert done.returncode == 2
    assert "refusing to start 2 workers without SALESBOOST_REDIS_URL" in done.stderr
    assert "--per-worker-state" in done.stderr


def test_serve_with_workers_may_accept_per_worker_state_and_says_so(sqlite_url: str) -> None:
    env = {"SALESBOOST_DATABASE_URL": sqlite_url, "SALESBOOST_API_KEYS": f"{KEY}:sdr",
           "SALESBOOST_SMS_DISPATCHER_ENABLED": "false", "SALESBOOST_REDIS_URL": ""}
    with serve(env, "--workers", "2", "--per-worker-state") as server:
        for _ in range(450):  # each worker warms up on its own: the one asked may still be loading its models
            ready = httpx.get(f"{server.url}/readyz", timeout=10).json()
            if ready["status"] == "ready":
                break
            time.sleep(0.2)
        assert ready["status"] == "ready"
        assert ready["checks"]["redis"].startswith("skipped: per-worker state")
