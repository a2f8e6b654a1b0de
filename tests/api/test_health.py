"""`/readyz` waits for the tools' heavy parts (warmed in the background from start-up); `/healthz` does not."""

from __future__ import annotations

import asyncio
import threading

import httpx

from salesboost.api import create_app
from salesboost.assembly import create_backends
from salesboost.config import Settings
from salesboost.tools.base import Heavy, Tool, ToolContext, ToolInput, ToolOutput, ToolPolicy
from salesboost.tools.permissions import Permissions, ToolPermission
from salesboost.tools.registry import ToolRegistry
from sample_tools import private_executor


class AskInput(ToolInput):
    question: str


class AskOutput(ToolOutput):
    answer: str


class SlowModelTool(Tool[AskInput, AskOutput]):
    """Its model is built when `release` is set, as a large model file takes its time to load."""

    name = "slow_model"
    description = "Answers with a model that loads slowly."
    Input = AskInput
    Output = AskOutput
    policy = ToolPolicy(read_only=True, retry=False)

    def __init__(self, release: threading.Event, error: str | None = None) -> None:
        self.release = release
        self.error = error
        self.model = Heavy("the slow model", self._load)

    def _load(self) -> str:
        self.release.wait(30)
        if self.error is not None:
            raise RuntimeError(self.error)
        return "model"

    def heavy_parts(self) -> tuple[Heavy[str]]:
        return (self.model,)

    def run(self, args: AskInput, ctx: ToolContext) -> AskOutput:
        return AskOutput(answer=self.model.get())


async def _serve(settings: Settings, tool: SlowModelTool) -> tuple[httpx.Response, httpx.Response, httpx.Response]:
    """/healthz and /readyz while the model loads, then /readyz once it is released."""
    roles = frozenset({"coach", "npc", "admin"})
    permissions = Permissions(roles, {"slow_model": ToolPermission(roles=frozenset({"coach"}))})
    registry = ToolRegistry(permissions=permissions, backends=create_backends(settings))
    registry.register(tool)
    executor = private_executor(registry, require_idempotency_key=True)
    app = create_app(settings, executor=executor)
    try:
        async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as http:
            live, warming = await http.get("/healthz"), await http.get("/readyz")
            tool.release.set()
            for _ in range(200):  # the thread finishes the build within a few milliseconds of the release
                after = await http.get("/readyz")
                if not after.json()["checks"]["warmup"].startswith("warming"):
                    break
                await asyncio.sleep(0.01)
    finally:
        await executor.aclose()
    return live, warming, after


async def test_readyz_waits_for_the_warmup_and_healthz_does_not(sample_settings: Settings) -> None:
    live, warming, ready = await _serve(sample_settings, SlowModelTool(threading.Event()))
    assert live.status_code == 200
    assert warming.status_code == 503
    assert warming.json()["status"] == "not_ready"
    assert warming.json()["checks"]["warmup"] == "warming: the slow model"
    assert ready.status_code == 200
    assert ready.json()["checks"]["warmup"] == "ok"


async def test_readyz_says_which_part_failed_to_build(sample_settings: Settings) -> None:
    tool = SlowModelTool(threading.Event(), error="model file missing; run `make model`")
    _, _, after = await _serve(sample_settings, tool)
    assert after.status_code == 503
    assert after.json()["checks"]["warmup"] == (
        "error: the slow model is not available: model file missing; run `make model`"
    )
