"""Cumulative regret of the bandit's policies in a simulated world, several seeds, mean and spread.

Three equivalent tools answer the same request. Which one is best depends on the context, and the world drifts
once, half-way:

- `fast_index` succeeds 95% of the time in the early stages (opening, discovery, presentation) and 65% in the
  late ones (objection_handling, closing, follow_up), in about 0.4 s;
- `deep_index` the other way round (65% early, 95% late), in about 0.6 s;
- `cache_index` succeeds 97% of the time everywhere, in 0.1 s plus 1.6 s times the payload's size feature
  (log2 of the bytes / 20): the best tool for small payloads, the worst for large ones.
- At the drift (round 10,000 of 20,000), `fast_index` and `deep_index` swap their stages.

Caller role and hour are drawn too, and matter for nothing: a contextual policy has to learn to ignore them.
Each round's reward is the runtime's own (`tools.selection.reward`: success less 0.5 x latency / 2 s budget),
the latency drawn within +-20% of its mean. Regret is measured against the best tool of each round in
expectation (pseudo-regret), so it is not noise:

- random: a uniform pick;
- best fixed arm: the one tool with the highest expected reward over the whole run, known in advance (no
  learning cost at all: the strongest fixed baseline there is);
- epsilon-greedy and the contextual policy (LinUCB): the runtime's own `Bandit` with the in-process store,
  driven through `select` and the recorder `record`, at the shipped defaults (TOOL_BANDIT_EPSILON 0.1;
  SALESBOOST_BANDIT_ALPHA 0.5, _EXPLORE 0.05, _DISCOUNT 0.999).

A second, smaller run uses a world without context (`cache_index` best everywhere, no drift), where the fixed
arm must win: what the contextual policy costs when there is nothing to learn.

    python bench/bandit_regret.py [--rounds 20000] [--seeds 5]

The last line is for scripts:
RESULT random_regret=<mean> fixed_regret=<mean> egreedy_regret=<mean> contextual_regret=<mean>
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from collections.abc import Callable
from typing import get_args

import numpy as np

from salesboost.sales.stage.model import Stage
from salesboost.state.bandit import LocalBanditStore
from salesboost.tools.call import Call
from salesboost.tools.result import ToolErrorInfo
from salesboost.tools.selection import Bandit, ContextEncoder, SelectionContext, build_policy, reward

TOOLS = ("fast_index", "deep_index", "cache_index")
STAGES: tuple[str, ...] = get_args(Stage)
EARLY = frozenset({"opening", "discovery", "presentation"})
ROLES = ("admin", "coach", "evaluator", "npc", "sdr")
BUDGET = 2.0
FAILED = ToolErrorInfo(code="TOOL_EXECUTION_FAILED", type="RuntimeError", message="failed", retryable=False)

Round = tuple[str, str, int, int]  # role, stage, hour, payload bytes
World = Callable[[Round, bool], tuple[np.ndarray, np.ndarray]]  # success probabilities, mean latencies


def size_feature(size: int) -> float:
    return min(float(np.log2(1 + size)) / 20, 1.0)  # as ContextEncoder encodes it


def drifting(context: Round, drifted: bool) -> tuple[np.ndarray, np.ndarray]:
    _, stage, _, size = context
    early = (stage in EARLY) != drifted
    p = np.array([0.95 if early else 0.65, 0.65 if early else 0.95, 0.97])
    return p, np.array([0.4, 0.6, 0.1 + 1.6 * size_feature(size)])


def flat(context: Round, drifted: bool) -> tuple[np.ndarray, np.ndarray]:
    return np.array([0.85, 0.85, 0.95]), np.array([0.4, 0.6, 0.2])


def expected(world: World, context: Round, drifted: bool) -> np.ndarray:
    """Each tool's expected reward: the +-20% latency noise stays below the budget, where the penalty is linear,
    so the reward at the mean latency is the mean reward."""
    p, latency = world(context, drifted)
    rewards = zip(p, latency, strict=True)
    return np.array([q * reward(True, lat, BUDGET) + (1 - q) * reward(False, lat, BUDGET) for q, lat in rewards])


def draw_rounds(rounds: int, rng: random.Random) -> list[Round]:
    return [
        (rng.choice(ROLES), rng.choice(STAGES), rng.randrange(24), int(10 ** rng.uniform(1, 6)))
        for _ in range(rounds)
    ]


async def learn(policy_name: str, world: World, contexts: list[Round], seed: int, drift_at: int) -> np.ndarray:
    """Pseudo-regret of the runtime's bandit with this policy, per round."""
    rng = random.Random(seed)
    policy = build_policy(policy_name, epsilon=0.1, alpha=0.5, explore=0.05, rng=random.Random(seed + 1))
    discount = 0.999 if policy_name == "linucb" else 1.0
    encoder = ContextEncoder(ROLES, STAGES)
    bandit = Bandit(policy, LocalBanditStore(), encoder, discount=discount, latency_budget=BUDGET)
    regret = np.zeros(len(contexts))
    for t, context in enumerate(contexts):
        role, stage, hour, size = context
        choice = await bandit.select(TOOLS, role, SelectionContext(stage=stage, hour=hour, payload_size=size))
        arm = TOOLS.index(choice.tool)
        p, latency = world(context, t >= drift_at)
        means = expected(world, context, t >= drift_at)
        regret[t] = means.max() - means[arm]
        call = Call(choice.tool, None, role, choice.tool_call_id, None, None, None, None, 0.0)
        call.elapsed = float(latency[arm]) * rng.uniform(0.8, 1.2)
        call.error = None if rng.random() < p[arm] else FAILED
        bandit.record(call)
    await bandit.aclose()
    return regret


def baselines(world: World, contexts: list[Round], drift_at: int) -> tuple[np.ndarray, np.ndarray]:
    """Pseudo-regret per round of a uniform pick and of the best fixed arm in hindsight."""
    means = np.array([expected(world, c, t >= drift_at) for t, c in enumerate(contexts)])
    best = means.max(axis=1)
    return best - means.mean(axis=1), best - means[:, int(means.sum(axis=0).argmax())]


Results = dict[str, list[tuple[float, float]]]  # policy -> per seed: regret before the drift, after it


def run(world: World, rounds: int, seeds: int, drift: bool) -> Results:
    out: Results = {"random": [], "fixed": [], "egreedy": [], "contextual": []}
    drift_at = rounds // 2 if drift else rounds
    for seed in range(seeds):
        contexts = draw_rounds(rounds, random.Random(1000 + seed))
        uniform, fixed = baselines(world, contexts, drift_at)
        per_round = {
            "random": uniform, "fixed": fixed,
            "egreedy": asyncio.run(learn("epsilon_greedy", world, contexts, seed, drift_at)),
            "contextual": asyncio.run(learn("linucb", world, contexts, seed, drift_at)),
        }
        for name, regret in per_round.items():
            out[name].append((float(regret[:drift_at].sum()), float(regret[drift_at:].sum())))
    return out


def table(title: str, results: Results) -> None:
    print(f"\n{title}")
    print("| policy | mean regret | stdev | min | max | before drift | after drift |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, halves in results.items():
        totals = [before + after for before, after in halves]
        spread = statistics.stdev(totals) if len(totals) > 1 else 0.0
        before, after = (statistics.mean(h[i] for h in halves) for i in (0, 1))
        cells = [statistics.mean(totals), spread, min(totals), max(totals), before, after]
        print(f"| {name} | " + " | ".join(str(round(v) + 0) for v in cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    start = time.perf_counter()
    drifting_results = run(drifting, args.rounds, args.seeds, drift=True)
    title = f"Context decides, drift at round {args.rounds // 2}: {args.rounds} rounds, {args.seeds} seeds"
    table(title, drifting_results)
    flat_results = run(flat, args.rounds // 4, min(args.seeds, 3), drift=False)
    table(f"No context, no drift (one tool best everywhere): {args.rounds // 4} rounds", flat_results)
    print(f"\n({time.perf_counter() - start:.1f} s wall, {time.process_time():.1f} s CPU)")
    means = {name: statistics.mean(sum(h) for h in halves) for name, halves in drifting_results.items()}
    print(
        f"RESULT random_regret={means['random']:.1f} fixed_regret={means['fixed']:.1f} "
        f"egreedy_regret={means['egreedy']:.1f} contextual_regret={means['contextual']:.1f}"
    )


if __name__ == "__main__":
    main()
