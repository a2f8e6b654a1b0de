"""Fixtures for shared state: a `redis-server` of the test's own on a free port, to stop and start again (by
pid, never by name), and pairs of executors sharing a Redis prefix as two replicas would."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import redis.asyncio as redis

from salesboost.assembly import create_backends
from salesboost.config import Settings
from salesboost.tools.executor import ToolExecutor
from sample_tools import make_registry, private_executor

Replicas = Callable[..., tuple[ToolExecutor, ToolExecutor]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not listen on {self.port}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A running `redis-server` of this test's own (skipped when the binary is not installed)."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def prefix() -> str:
    """Keys of their own, so tests (and other runs on the same Redis) never meet."""
    return f"test-{uuid.uuid4().hex[:10]}:"


@pytest.fixture
async def replicas(settings: Settings, redis_url: str, prefix: str) -> AsyncIterator[Replicas]:
    """`replicas(**settings)`: two executors over one Redis prefix, each with its own backends, connection pool,
    events listener and local fallback, as two processes would have; the prefix's keys are deleted afterwards."""
    made: list[ToolExecutor] = []

    def make(**overrides: object) -> tuple[ToolExecutor, ToolExecutor]:
        shared = settings.model_copy(
            update={"redis_url": redis_url, "redis_prefix": prefix, "redis_retry_seconds": 0.2,
                    "redis_timeout": 5.0, **overrides}
        )
        a, b = (private_executor(make_registry(create_backends(shared))) for _ in range(2))
        made.extend((a, b))
        return a, b

    yield make
    for executor in made:
        await executor.aclose()
    client = redis.Redis.from_url(redis_url)
    keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()
