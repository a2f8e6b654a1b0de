"""Heavy parts (`tools.base.Heavy`) through the executor: built once under concurrent first calls, a failed
build is the call's clear error, and `Warmup` builds them ahead."""

from __future__ import annotations

import asyncio
import threading
import time

from salesboost.assembly import create_backends
from salesboost.config import Settings
from salesboost.tools.base import Heavy, Tool, ToolContext, ToolInput, ToolOutput, ToolPolicy
from salesboost.tools.permissions import Permissions, ToolPermission
from salesboost.tools.registry import ToolRegistry
from salesboost.tools.warmup import Warmup
from sample_tools import private_executor


class ModelInput(ToolInput):
    text: str


class ModelOutput(ToolOutput):
    answer: str
    builds: int


class ModelTool(Tool[ModelInput, ModelOutput]):
    """A blocking tool whose 'model' takes a while to build, as the stage classifier's does."""

    name = "model_tool"
    description = "Answers with its model."
    Input = ModelInput
    Output = ModelOutput
    policy = ToolPolicy(read_only=True, retry=False)

    def __init__(self, build_seconds: float = 0.2, fail: bool = False) -> None:
        self.builds = 0
        self.build_seconds = build_seconds
        self.fail = fail
        self.model = Heavy("the test model", self._build)

    def _build(self) -> str:
        self.builds += 1
        time.sleep(self.build_seconds)  # long enough for every concurrent first call to arrive meanwhile
        if self.fail:
            raise FileNotFoundError("model file missing; build it with `make model`")
        return "built"

    def heavy_parts(self) -> tuple[Heavy[str]]:
        return (self.model,)

    def run(self, args: ModelInput, ctx: ToolContext) -> ModelOutput:
        return ModelOutput(answer=f"{self.model.get()}:{args.text}", builds=self.builds)


def _registry(settings: Settings, tool: ModelTool) -> ToolRegistry:
    permissions = Permissions(frozenset({"coach"}), {"model_tool": ToolPermission(roles=frozenset({"coach"}))})
    registry = ToolRegistry(permissions=permissions, backends=create_backends(settings))
    registry.register(tool)
    return registry


async def test_concurrent_first_calls_build_the_part_once(settings: Settings) -> None:
    tool = ModelTool()
    executor = private_executor(_registry(settings, tool))
    try:
        results = await asyncio.gather(
            *(executor.execute("model_tool", {"text": str(i)}, "coach") for i in range(8))
        )
    finally:
        await executor.aclose()
    assert [r.ok for r in results] == [True] * 8
    assert tool.builds == 1
    assert sorted(r.result["answer"] for r in results if r.result) == [f"built:{i}" for i in range(8)]


async def test_a_failed_build_is_the_calls_clear_error_and_is_tried_again(settings: Settings) -> None:
    tool = ModelTool(build_seconds=0, fail=True)
    executor = private_executor(_registry(settings, tool))
    try:
        first = await executor.execute("model_tool", {"text": "a"}, "coach")
        assert not first.ok
        assert first.error is not None
        assert first.error.code == "TOOL_EXECUTION_FAILED"
        assert first.error.message == (
            "the test model is not available: model file missing; build it with `make model`"
        )
        tool.fail = False  # the file was built since: the next call builds the part and succeeds
        second = await executor.execute("model_tool", {"text": "b"}, "coach")
    finally:
        await executor.aclose()
    assert second.ok
    assert second.result == {"answer": "built:b", "builds": 2}


async def test_warmup_builds_ahead_and_says_what_is_still_warming(settings: Settings) -> None:
    tool = ModelTool(build_seconds=0)
    release = threading.Event()
    slow = tool.model
    tool.model = Heavy("the test model", lambda: (release.wait(10), slow.get())[1])
    warmup = Warmup(_registry(settings, tool))
    warmup.start()
    await asyncio.sleep(0.05)
    assert warmup.status() == "warming: the test model"
    release.set()
    await warmup.aclose()
    assert warmup.status() == "ok"
    assert tool.model.ready
    assert tool.builds == 1
