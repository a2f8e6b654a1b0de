"""Apps to test the HTTP surface against: one over the small test tools (every status code is easy to
provoke), one over the real default registry with the demo data seeded, each with one API key per role.

Async tests reach the app in-process with `httpx.AsyncClient(transport=ASGITransport(app))`, its lifespan
run by `app.router.lifespan_context`; WebSocket tests use Starlette's `TestClient` (the app in a thread).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from salesboost.api import create_app
from salesboost.assembly import create_backends
from salesboost.config import Settings, load_settings
from salesboost.sales.crm.seed import seed_customers
from salesboost.store.db import create_engine, session_factory
from salesboost.tools.base import ToolBackends
from salesboost.tools.executor import ToolExecutor
from sample_tools import make_registry, private_executor

SAMPLE_ROLES = ("coach", "npc", "admin")
ROLES = ("coach", "npc", "evaluator", "sdr", "admin")
KEYS = {role: f"test-{role}-key-0123456789abcdef" for role in ROLES}
BAD_KEY = "test-nobody-key-0123456789abcdef"


def auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[role]}"}


def make_settings(database_url: str, roles: tuple[str, ...], **overrides: object) -> Settings:
    keys = ",".join(f"{KEYS[role]}:{role}" for role in roles)
    return load_settings(database_url=database_url, api_keys=keys, retry_base_delay=0.001, **overrides)


@pytest.fixture
def sample_settings(sqlite_url: str) -> Settings:
    return make_settings(
        sqlite_url, SAMPLE_ROLES, circuit_failure_threshold=2, ws_heartbeat_seconds=0.2, ws_auth_timeout=0.5
    )


@pytest.fixture
async def demo_settings(sqlite_url: str) -> Settings:
    """All five roles' keys, on a database holding the demo customers."""
    settings = make_settings(sqlite_url, ROLES)
    engine = create_engine(sqlite_url)
    try:
        await seed_customers(ToolBackends(settings=settings, session_factory=session_factory(engine)))
    finally:
        await engine.dispose()
    return settings


@pytest.fixture
def sample_executor(sample_settings: Settings) -> ToolExecutor:
    """The test tools on a fresh SQLite database; private metrics, so /metrics shows only real tools."""
    registry = make_registry(create_backends(sample_settings))
    return private_executor(registry, require_idempotency_key=True)


@pytest.fixture
def sample_app(sample_settings: Settings, sample_executor: ToolExecutor) -> FastAPI:
    return create_app(sample_settings, executor=sample_executor)


@pytest.fixture
async def client(sample_app: FastAPI, sample_executor: ToolExecutor) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the app over the test tools, with its lifespan running."""
    transport = httpx.ASGITransport(app=sample_app)
    async with sample_app.router.lifespan_context(sample_app), httpx.AsyncClient(
        transport=transport, base_url="http://testserver"
    ) as http:
        yield http
    await sample_executor.aclose()


@pytest.fixture
def ws_client(sample_app: FastAPI, sample_executor: ToolExecutor) -> Iterator[TestClient]:
    """Starlette's TestClient (HTTP and WebSocket) of the app over the test tools."""
    with TestClient(sample_app) as test_client:
        yield test_client
        test_client.portal.call(sample_executor.aclose)


@asynccontextmanager
async def app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the whole service built from `settings` (the default tools), its lifespan running."""
    app = create_app(settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        yield http


@pytest.fixture
async def demo(demo_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The service over the demo data."""
    async with app_client(demo_settings) as http:
        yield http
