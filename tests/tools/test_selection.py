"""The bandit behind `select_tool`, through the executor: what it learns from, the reward, the contextual policy,
the propensities it logs."""

from __future__ import annotations

import json
import logging
from typing import Any, Literal

import pytest

from salesboost.tools.base import Tool, ToolContext, ToolInput, ToolOutput, ToolPolicy
from salesboost.tools.errors import ToolDomainError, ToolPermissionError
from salesboost.tools.executor import ToolExecutor
from salesboost.tools.selection import ContextEncoder, SelectionContext, reward
from sample_tools import EVERYONE

Stage = Literal["discovery", "closing"]


class StageInput(ToolInput):
    stage: Stage


class StageOutput(ToolOutput):
    tool: str


class Specialist(Tool[StageInput, StageOutput]):
    """Answers only in its own stage: the best of two equivalent tools depends on the context."""

    description = "Works in one stage only."
    Input = StageInput
    Output = StageOutput
    policy = ToolPolicy(roles=EVERYONE)

    def __init__(self, name: str, stage: Stage) -> None:
        self.name = name
        self.stage = stage

    async def run(self, args: StageInput, ctx: ToolContext) -> StageOutput:
        if args.stage != self.stage:
            raise ToolDomainError("WRONG_STAGE", f"{self.name} does not work in {args.stage}")
        return StageOutput(tool=self.name)


def with_specialists(make_executor: Any, **settings: Any) -> ToolExecutor:
    executor: ToolExecutor = make_executor(bandit_enabled=True, **settings)
    executor.registry.register(Specialist("opener", "discovery"))
    executor.registry.register(Specialist("closer", "closing"))
    return executor


async def chosen_and_run(executor: ToolExecutor, stage: Stage, role: str = "coach") -> str:
    choice = await executor.select_tool(["opener", "closer"], role, SelectionContext(stage=stage))
    await executor.execute(choice.tool, {"stage": stage}, role, tool_call_id=choice.tool_call_id)
    return choice.tool


async def test_epsilon_greedy_learns_from_the_calls_it_chose(make_executor: Any) -> None:
    ex = make_executor(bandit_enabled=True, bandit_epsilon=0.0)
    first = await ex.select_tool(["lookup", "echo"], "coach")
    assert (first.tool, first.propensity, first.policy) == ("lookup", 1.0, "epsilon_greedy")  # untried first
    await ex.execute("lookup", {"key": "missing"}, "coach", tool_call_id=first.tool_call_id)
    second = await ex.select_tool(["lookup", "echo"], "coach")
    assert second.tool == "echo"
    await ex.execute("echo", {"text": "a"}, "coach", tool_call_id=second.tool_call_id)
    await ex.execute("echo", {"text": "b"}, "coach")  # not chosen by the bandit: it teaches nothing
    await ex.bandit.flush()
    assert (await ex.select_tool(["lookup", "echo"], "coach")).tool == "echo"
    assert (await ex.select_tool(["actions", "echo"], "npc")).tool == "echo"  # npc may not call actions
    arms = (await ex.bandit.statistics())["arms"]
    assert arms["lookup"]["pulls"] == 1
    assert arms["lookup"]["mean_reward"] < 0.0 < arms["echo"]["mean_reward"]  # a failure less its latency
    assert arms["echo"]["pulls"] == 1


async def test_off_it_answers_the_first_allowed(make_executor: Any) -> None:
    ex = make_executor()
    choice = await ex.select_tool(["actions", "echo"], "npc")
    assert (choice.tool, choice.policy) == ("echo", "first")
    with pytest.raises(ToolPermissionError):
        await ex.select_tool(["actions"], "npc")


def test_the_reward_is_success_less_a_bounded_latency_penalty() -> None:
    assert reward(True, 0.0, 2.0) == 1.0
    assert reward(True, 1.0, 2.0) == 0.75
    assert reward(True, 60.0, 2.0) == 0.5  # bounded: a slow success still beats any failure
    assert reward(False, 0.0, 2.0) == 0.0
    assert reward(False, 60.0, 2.0) == -0.5


def test_the_context_vector() -> None:
    features = ContextEncoder(["admin", "coach"], ["discovery", "closing"]).features
    small = features("coach", SelectionContext(stage="closing", payload_size=10), hour=6)
    big = features("coach", SelectionContext(stage="closing", payload_size=10**7), hour=18)
    assert len(small) == 1 + 2 + 2 + 3
    assert small[:5].tolist() == [1.0, 0.0, 1.0, 0.0, 1.0]  # bias, coach, closing
    assert small[-1] < big[-1] == 1.0
    assert small[-3] == pytest.approx(1.0)  # 06:00 is a quarter of the circle
    assert big[-3] == pytest.approx(-1.0)
    unknown = features("evaluator", SelectionContext(stage="won"), hour=6)
    assert unknown[:5].tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]  # an unknown role or stage sets no bit


async def test_linucb_learns_which_tool_fits_which_stage(make_executor: Any) -> None:
    ex = with_specialists(make_executor, bandit_policy="linucb", bandit_explore=0.0, bandit_alpha=0.5)
    stages: list[Stage] = ["discovery", "closing"]
    for i in range(60):
        await chosen_and_run(ex, stages[i % 2])
    await ex.bandit.flush()
    # Learned: each stage now gets its specialist every time (no exploration share left to surprise us).
    assert [await chosen_and_run(ex, "discovery") for _ in range(5)] == ["opener"] * 5
    assert [await chosen_and_run(ex, "closing") for _ in range(5)] == ["closer"] * 5
    stats = await ex.bandit.statistics()
    assert stats["policy"] == "linucb"
    assert stats["store"] == "memory"
    assert stats["parameters"]["alpha"] == 0.5


async def test_epsilon_greedy_cannot_tell_the_stages_apart(make_executor: Any) -> None:
    """The contrast: one mean per tool, whatever the stage, so it does no better than a coin."""
    ex = with_specialists(make_executor, bandit_epsilon=0.0)
    stages: list[Stage] = ["discovery", "closing"] * 20
    for stage in stages:
        await chosen_and_run(ex, stage)
    await ex.bandit.flush()
    right = {"discovery": "opener", "closing": "closer"}
    hits = [await chosen_and_run(ex, stage) == right[stage] for stage in stages[:10]]
    # A hit raises the leader's mean, so it leads again in the other stage, where it misses: never two hits in a
    # row, at most half. LinUCB (above) gets all ten.
    assert sum(hits) <= 5


async def test_each_rewarded_decision_is_logged_with_its_propensity(
    make_executor: Any, caplog: pytest.LogCaptureFixture
) -> None:
    ex = with_specialists(make_executor, bandit_policy="linucb", bandit_explore=0.2)
    caplog.set_level(logging.INFO, logger="salesboost.tools.selection")
    choice = await ex.select_tool(["opener", "closer"], "coach", SelectionContext(stage="closing", hour=9))
    await ex.execute(choice.tool, {"stage": "closing"}, "coach", tool_call_id=choice.tool_call_id)
    await ex.bandit.flush()
    decisions = [r.bandit for r in caplog.records if hasattr(r, "bandit")]  # type: ignore[attr-defined]
    assert len(decisions) == 1
    logged = decisions[0]
    assert logged["tool_call_id"] == choice.tool_call_id
    assert logged["chosen"] == choice.tool
    assert logged["candidates"] == ["opener", "closer"]
    # An exploration share of 0.2 over two tools: 0.9 for the UCB's pick, 0.1 for the other.
    assert logged["propensity"] in (0.9, 0.1)
    assert logged["propensity"] == pytest.approx(choice.propensity)
    assert logged["reward"] == pytest.approx(reward(logged["ok"], logged["latency_ms"] / 1000, 2.0), abs=1e-5)
    assert len(logged["context"]) == ex.bandit.encoder.dimension
    assert logged["context"][ex.bandit.encoder.stages["closing"]] == 1.0
    assert json.loads(caplog.records[-1].getMessage().removeprefix("bandit decision ")) == logged
