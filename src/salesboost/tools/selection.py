"""Choosing among candidate tools with an epsilon-greedy bandit.

With probability epsilon it explores (a random candidate), else it exploits the candidate with the best mean
reward so far; a candidate never tried is tried first. Rewards come from the executor: 1.0 for a successful
call, 0.0 for a failed one.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from salesboost.tools.call import Call


class EpsilonGreedyBandit:
    def __init__(self, epsilon: float = 0.1, rng: random.Random | None = None) -> None:
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError("epsilon must be within [0, 1]")
        self.epsilon = epsilon
        self._rng = rng or random.Random()
        self._arms: dict[str, list[float]] = {}  # name -> [pulls, reward sum]

    def select(self, candidates: Sequence[str]) -> str:
        if not candidates:
            raise ValueError("no candidates to choose from")
        untried = [c for c in candidates if c not in self._arms]
        if untried:
            return untried[0]
        if self._rng.random() < self.epsilon:
            return self._rng.choice(list(candidates))
        return max(candidates, key=self.mean_reward)

    def update(self, name: str, reward: float) -> None:
        arm = self._arms.setdefault(name, [0.0, 0.0])
        arm[0] += 1
        arm[1] += reward

    def record(self, call: Call) -> None:
        """Learn from a call of a registered tool (a recorder, in the executor's list when the bandit is on)."""
        if call.entry is not None:
            self.update(call.name, 1.0 if call.error is None else 0.0)

    def mean_reward(self, name: str) -> float:
        pulls, total = self._arms.get(name, (0.0, 0.0))
        return total / pulls if pulls else 0.0

    def get_statistics(self) -> dict[str, Any]:
        return {
            "epsilon": self.epsilon,
            "arms": {
                name: {"pulls": int(pulls), "mean_reward": total / pulls if pulls else 0.0}
                for name, (pulls, total) in sorted(self._arms.items())
            },
        }
