"""Choosing among equivalent candidate tools: a bandit that learns from what each choice earned (docs/bandit.md).

`Bandit.select(candidates, role, context)` picks a tool by its policy and remembers the choice under the call id
the caller then runs it with; the executor's recorder (`Bandit.record`) hands the outcome of that call, and only
of such a *selectable* call, to the statistics store as a reward. Two policies, by `SALESBOOST_BANDIT_POLICY`:

- `epsilon_greedy` (the default, as before): with probability `TOOL_BANDIT_EPSILON` a uniformly random
  candidate, else the best mean reward so far (a candidate never tried first).
- `linucb`: a linear model of the reward per tool over a small context vector (`ContextEncoder`: caller role, sales
  stage, hour of day, payload size), disjoint LinUCB with ridge prior 1; it picks the highest upper confidence
  bound `theta.x + alpha * sqrt(x' A^-1 x)`, and a share `SALESBOOST_BANDIT_EXPLORE` of picks is uniform so
  that every candidate keeps a known, non-zero propensity. Its statistics are discounted by
  `SALESBOOST_BANDIT_DISCOUNT` per update (discounted LinUCB): the past fades, so a drift is followed.

The reward is the success minus a bounded latency penalty (`reward`). Each decision's propensity is logged with
its context and reward (logger `salesboost.tools.selection`, one line per rewarded call) for offline evaluation.
The statistics live in a `BanditStore` (in-process or Redis: `salesboost.state.bandit`), chosen by the
composition root.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import math
import os
import random
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from salesboost.tools.call import Call
from salesboost.tools.running import step

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Vector = npt.NDArray[np.float64]

log = logging.getLogger(__name__)

# A success loses at most this much for its latency, so a slow success (1 - 0.5) still beats any failure (<= 0).
LATENCY_WEIGHT = 0.5
PENDING_MAX = 10_000  # choices remembered until their call is recorded; the oldest are forgotten beyond


@dataclass(frozen=True, slots=True)
class SelectionContext:
    """What a choice may depend on besides the caller's role: the conversation's sales stage, the UTC hour
    (None: now) and the size in bytes of the payload the caller means to send."""

    stage: str | None = None
    hour: int | None = None
    payload_size: int = 0


class ContextEncoder:
    """The context vector over the configured roles and the known sales stages: a bias, the role one-hot, the
    stage one-hot (an unknown role or stage, or none, sets no bit), the UTC hour on the circle (sin, cos), and
    log2 of the payload size scaled to [0, 1] (1 MiB and more: 1)."""

    def __init__(self, roles: Sequence[str], stages: Sequence[str]) -> None:
        self.roles = {role: 1 + i for i, role in enumerate(roles)}
        self.stages = {stage: 1 + len(roles) + i for i, stage in enumerate(stages)}
        self.dimension = 1 + len(roles) + len(stages) + 3

    def features(self, role: str, context: SelectionContext, hour: int) -> Vector:
        import numpy as np  # about 0.1 s to import: a process that never chooses a tool does not pay it

        x = np.zeros(self.dimension)
        x[0] = 1.0
        if (at := self.roles.get(role)) is not None:
            x[at] = 1.0
        if context.stage is not None and (at := self.stages.get(context.stage)) is not None:
            x[at] = 1.0
        angle = 2 * math.pi * (hour % 24) / 24
        x[-3], x[-2] = math.sin(angle), math.cos(angle)
        x[-1] = min(math.log2(1 + max(context.payload_size, 0)) / 20, 1.0)
        return x


def reward(ok: bool, latency_s: float, budget_s: float) -> float:
    """1 for a success, 0 for a failure, less `LATENCY_WEIGHT` times the latency's share of the budget (at most
    the whole penalty): within [-0.5, 1], and a success always earns more than a failure."""
    return (1.0 if ok else 0.0) - LATENCY_WEIGHT * min(latency_s / budget_s, 1.0)


@dataclass(slots=True)
class ArmStats:
    """One tool's statistics: pulls and reward sum (all policies), and LinUCB's discounted `a` (d x d) and `b`
    (d), None until the first contextual update (then the prior: identity and zeros)."""

    pulls: float = 0.0
    reward_sum: float = 0.0
    a: Vector | None = None
    b: Vector | None = None

    @property
    def mean_reward(self) -> float:
        return self.reward_sum / self.pulls if self.pulls else 0.0


class BanditStore(Protocol):
    """Where the statistics live; every update is atomic (several executors may share one store)."""

    kind: str  # "memory" or "redis", for the statistics' readers

    async def read(self, arms: Sequence[str]) -> dict[str, ArmStats]:
        """The statistics of these arms (empty ones for arms never updated)."""
        ...

    async def update(
        self, arm: str, reward: float, x: Vector | None, candidates: Sequence[str], discount: float
    ) -> None:
        """Count one pull of `arm` with `reward`; with a context `x`, first discount every candidate's `a`
        and `b` (`a = discount * a + (1 - discount) * I`, `b = discount * b`), then add `x x'` to `arm`'s `a`
        and `reward * x` to its `b`."""
        ...

    async def snapshot(self) -> dict[str, ArmStats]:
        """Every arm's statistics."""
        ...

    async def aclose(self) -> None: ...


class Policy(Protocol):
    name: str
    contextual: bool  # whether it learns from the context vector (then the store keeps `a` and `b`)

    def choose(self, candidates: Sequence[str], stats: dict[str, ArmStats], x: Vector) -> tuple[str, float]:
        """The chosen candidate and the probability this policy had of choosing it."""
        ...


class EpsilonGreedy:
    name = "epsilon_greedy"
    contextual = False

    def __init__(self, epsilon: float, rng: random.Random) -> None:
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError("epsilon must be within [0, 1]")
        self.epsilon = epsilon
        self._rng = rng

    def choose(self, candidates: Sequence[str], stats: dict[str, ArmStats], x: Vector) -> tuple[str, float]:
        untried = [c for c in candidates if stats[c].pulls == 0]
        if untried:
            return untried[0], 1.0
        best = max(candidates, key=lambda c: stats[c].mean_reward)
        return _explore_or(best, candidates, self.epsilon, self._rng)


class LinUCB:
    name = "linucb"
    contextual = True

    def __init__(self, alpha: float, explore: float, rng: random.Random) -> None:
        self.alpha = alpha
        self.explore = explore
        self._rng = rng

    def choose(self, candidates: Sequence[str], stats: dict[str, ArmStats], x: Vector) -> tuple[str, float]:
        import numpy as np  # imported by the features already

        # Arms under the prior (theta 0, A^-1 = I) score alpha * |x|; the others are solved in one batch.
        scores = np.full(len(candidates), self.alpha * math.sqrt(float(x @ x)))
        known = [i for i, c in enumerate(candidates) if _fits(stats[c], x)]
        if known:
            a = np.stack([stats[candidates[i]].a for i in known])  # type: ignore[misc]
            b = np.stack([stats[candidates[i]].b for i in known])  # type: ignore[misc]
            a_inv_x = np.linalg.solve(a, np.broadcast_to(x, b.shape)[..., None])[..., 0]
            width = np.sqrt(np.maximum(a_inv_x @ x, 0.0))
            scores[known] = (b * a_inv_x).sum(axis=1) + self.alpha * width
        best = candidates[int(np.argmax(scores))]
        return _explore_or(best, candidates, self.explore, self._rng)



def _fits(arm: ArmStats, x: Vector) -> bool:
    """Whether the arm has statistics of `x`'s dimension (else it is under the prior)."""
    return arm.a is not None and arm.b is not None and arm.b.shape == x.shape


def _explore_or(best: str, candidates: Sequence[str], share: float, rng: random.Random) -> tuple[str, float]:
    """`best`, except for a uniformly random candidate `share` of the time; with the exact propensity."""
    chosen = rng.choice(list(candidates)) if rng.random() < share else best
    uniform = share / len(candidates)
    return chosen, uniform + (1.0 - share if chosen == best else 0.0)


@dataclass(frozen=True, slots=True)
class ToolChoice:
    """The chosen tool and the call id to run it with (its outcome is the choice's reward)."""

    tool: str
    tool_call_id: str
    propensity: float
    policy: str


@dataclass(slots=True)
class _Pending:
    choice: ToolChoice
    candidates: tuple[str, ...]
    role: str
    x: Vector = field(repr=False)


class Bandit:
    """A policy over a store; `select` chooses, `record` (a recorder) learns from the selected calls."""

    def __init__(
        self,
        policy: Policy,
        store: BanditStore,
        encoder: ContextEncoder,
        *,
        discount: float = 1.0,
        latency_budget: float = 2.0,
        hour: Callable[[], int] | None = None,
    ) -> None:
        self.policy = policy
        self.store = store
        self.encoder = encoder
        self.discount = discount
        self.latency_budget = latency_budget
        self._hour = hour or (lambda: time.gmtime().tm_hour)
        self._pending: OrderedDict[str, _Pending] = OrderedDict()
        self._updates: set[asyncio.Task[None]] = set()
        self._prefix = f"sel-{os.urandom(4).hex()}-"
        self._ids = itertools.count(1)

    async def select(
        self,
        candidates: Sequence[str],
        role: str,
        context: SelectionContext | None = None,
        tool_call_id: str | None = None,
    ) -> ToolChoice:
        if not candidates:
            raise ValueError("no candidates to choose from")
        context = context or SelectionContext()
        x = self.encoder.features(role, context, self._hour() if context.hour is None else context.hour)
        try:
            stats = await self.store.read(candidates)
        except Exception as exc:  # a store that cannot answer (Redis away) costs this choice its learning only
            log.warning("bandit statistics unavailable, choosing without them: %r", exc)
            stats = {name: ArmStats() for name in candidates}
        tool, propensity = self.policy.choose(candidates, stats, x)
        call_id = tool_call_id or f"{self._prefix}{next(self._ids):x}"
        choice = ToolChoice(tool, call_id, propensity, self.policy.name)
        self._pending[call_id] = _Pending(choice, tuple(candidates), role, x)
        if len(self._pending) > PENDING_MAX:
            self._pending.popitem(last=False)
        return choice

    def record(self, call: Call) -> None:
        """Learn from a call run under a choice's call id (the executor's recorder; other calls pass)."""
        pending = self._pending.pop(call.tool_call_id, None) if self._pending else None
        if pending is None or pending.choice.tool != call.name:
            return
        earned = reward(call.error is None, call.elapsed, self.latency_budget)
        x = pending.x if self.policy.contextual else None
        self._update(self.store.update(call.name, earned, x, pending.candidates, self.discount))
        if not log.isEnabledFor(logging.INFO):
            return
        choice = pending.choice
        decision = {
            "tool_call_id": choice.tool_call_id, "policy": choice.policy, "role": pending.role,
            "candidates": list(pending.candidates), "chosen": choice.tool, "propensity": round(choice.propensity, 6),
            "context": [round(v, 6) for v in pending.x.tolist()], "reward": round(earned, 6),
            "ok": call.error is None, "latency_ms": call.latency_ms,
        }
        log.info("bandit decision %s", json.dumps(decision), extra={"bandit": decision})

    def _update(self, update: Coroutine[Any, Any, None]) -> None:
        """Apply an update now when the store needs no wait (in-process), else in a task of its own (Redis)."""
        try:
            done, rest = step(update)
        except Exception as exc:
            log.warning("bandit statistics not updated: %r", exc)  # a lost update, never a failed call
            return
        if not done:
            task = asyncio.get_running_loop().create_task(_finish(rest))
            self._updates.add(task)
            task.add_done_callback(self._updated)

    def _updated(self, task: asyncio.Task[None]) -> None:
        self._updates.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("bandit statistics not updated: %r", exc)  # a lost update, never a failed call

    async def flush(self) -> None:
        """Wait for the updates in flight."""
        while self._updates:
            await asyncio.gather(*self._updates, return_exceptions=True)

    async def statistics(self) -> dict[str, Any]:
        """The policy, its parameters, and each arm's pulls and mean reward (none, and `available` false, when
        the store cannot answer)."""
        try:
            arms, available = await self.store.snapshot(), True
        except Exception as exc:
            log.warning("bandit statistics unavailable: %r", exc)
            arms, available = {}, False
        parameters = (
            {"epsilon": self.policy.epsilon} if isinstance(self.policy, EpsilonGreedy)
            else {"alpha": self.policy.alpha, "explore": self.policy.explore, "discount": self.discount}
            if isinstance(self.policy, LinUCB) else {}
        )
        return {
            "policy": self.policy.name,
            "store": self.store.kind,
            "available": available,
            "parameters": {**parameters, "latency_budget_s": self.latency_budget},
            "arms": {
                name: {"pulls": int(arm.pulls), "mean_reward": arm.mean_reward} for name, arm in sorted(arms.items())
            },
        }

    async def aclose(self) -> None:
        await self.flush()
        await self.store.aclose()


async def _finish(rest: Awaitable[None] | None) -> None:
    if rest is not None:
        await rest


def build_policy(
    name: str, *, epsilon: float, alpha: float, explore: float, rng: random.Random | None = None
) -> Policy:
    rng = rng or random.Random()
    if name == "linucb":
        return LinUCB(alpha, explore, rng)
    return EpsilonGreedy(epsilon, rng)
