"""Shared state on Redis: rate-limit decisions per second, and what Redis-backed state costs a call.

1. Rate-limit decisions against Redis from one process (the GCRA Lua script of `state.ratelimit`, each on its
   own caller's bucket so every decision writes): one at a time through `RedisRateLimiter.check` (a round trip
   each), and pipelined, `--batch` scripts per round trip (what a batch of calls, or a gateway deciding for
   many, can do).
2. The executor's overhead with Redis-backed state beside in-process state, in ONE run (blocks alternate, see
   `executor_overhead.measure`): a cache hit, and the full pipeline of a cheap tool with a rate limit (limit,
   breaker check, run, the breaker's outcome written after the answer).

    python bench/state.py [--decisions 5000] [--pipelined 100000] [--batch 1000] [--repeats 11] [--quick]

Redis: SALESBOOST_BENCH_REDIS_URL (default redis://127.0.0.1:6379/15), under a prefix of its own that is
deleted afterwards. The last line is for scripts:
RESULT ratelimit_single_per_s=<n> ratelimit_pipelined_per_s=<n> redis_cache_hit_ratio=<redis/in-process>
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

from prometheus_client import CollectorRegistry

from executor_overhead import AddTool, CachedAddTool, Contender, measure
from salesboost.assembly import create_backends, executor_parts
from salesboost.config import Settings, load_settings
from salesboost.observability.metrics import ToolMetrics
from salesboost.state.ratelimit import RedisRateLimiter
from salesboost.state.redis import SharedRedis
from salesboost.store.db import upgrade
from salesboost.tools.base import RateLimit, ToolPolicy
from salesboost.tools.executor import ToolExecutor
from salesboost.tools.permissions import Permissions
from salesboost.tools.registry import ToolRegistry

REDIS_URL = os.environ.get("SALESBOOST_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
NO_LIMIT = RateLimit(calls=10**6, per_seconds=3600.0)  # never refuses: every decision is a full one


class LimitedAddTool(AddTool):
    name = "add_limited"
    policy = ToolPolicy(roles=frozenset({"coach"}), rate_limit=NO_LIMIT)


async def decisions(prefix: str, single: int, pipelined: int, batch: int) -> tuple[float, float]:
    shared = SharedRedis(REDIS_URL, prefix=prefix, timeout=5.0)
    limiter = RedisRateLimiter(shared)
    try:
        for i in range(200):  # warm up: the connection, the script's SHA
            await limiter.script(keys=[limiter.key("warm", str(i))], args=limiter.args(NO_LIMIT))
        start = time.perf_counter()
        for i in range(single):
            pending = limiter.check("bench", f"c{i}", "coach", NO_LIMIT)
            assert pending is not None
            await pending
        single_rate = single / (time.perf_counter() - start)
        interval, burst = limiter.args(NO_LIMIT)
        sha = limiter.script.sha  # loaded by the warm-up
        start = time.perf_counter()
        done = 0
        while done < pipelined:
            async with shared.client.pipeline(transaction=False) as pipe:
                for i in range(done, min(done + batch, pipelined)):
                    pipe.execute_command("EVALSHA", sha, 1, limiter.key("bench-p", f"c{i}"), interval, burst)
                answers = await pipe.execute()
            assert all(wait == 0 for wait, _ in answers)
            done += len(answers)
        pipelined_rate = pipelined / (time.perf_counter() - start)
    finally:
        await shared.aclose()
    return single_rate, pipelined_rate


def executor(settings: Settings) -> ToolExecutor:
    registry = ToolRegistry(permissions=Permissions.allow_all(["coach"]), backends=create_backends(settings))
    for tool in (LimitedAddTool(), CachedAddTool()):
        registry.register(tool)
    return ToolExecutor(registry, parts=executor_parts(registry, metrics=ToolMetrics(CollectorRegistry())))


async def overhead(prefix: str, calls: int, repeats: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await asyncio.to_thread(upgrade, url)
        base = load_settings(database_url=url, audit_enabled=False, rate_limits_file="")
        local = executor(base)
        shared = executor(base.model_copy(update={"redis_url": REDIS_URL, "redis_prefix": prefix,
                                                   "redis_timeout": 5.0}))
        try:
            contenders = {
                f"{kind} {what}": Contender(
                    (lambda ex=ex, tool=tool: ex.execute(tool, {"a": 1, "b": 2}, "coach")), calls
                )
                for kind, ex in (("in-process", local), ("redis", shared))
                for what, tool in (("cache hit", "add_cached"), ("full pipeline", "add_limited"))
            }
            return await measure(contenders, repeats)
        finally:
            await local.aclose()
            await shared.aclose()


async def cleanup(prefix: str) -> None:
    shared = SharedRedis(REDIS_URL, prefix=prefix)
    keys = [key async for key in shared.client.scan_iter(match=f"{prefix}*", count=10_000)]
    for i in range(0, len(keys), 10_000):
        await shared.client.delete(*keys[i:i + 10_000])
    await shared.aclose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decisions", type=int, default=5000)
    parser.add_argument("--pipelined", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--quick", action="store_true", help="fewer decisions and calls (a smoke run)")
    args = parser.parse_args()
    calls = 200 if args.quick else 1000
    single_n, piped_n = (500, 5000) if args.quick else (args.decisions, args.pipelined)
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    try:
        single, piped = await decisions(prefix, single_n, piped_n, args.batch)
        times = await overhead(prefix, calls, 3 if args.quick else args.repeats)
    finally:
        await cleanup(prefix)
    print(f"rate-limit decisions against {REDIS_URL}, one process:")
    print(f"  one at a time     {single:>10,.0f} /s   ({single_n:,} decisions)")
    print(f"  pipelined ({args.batch:,})  {piped:>10,.0f} /s   ({piped_n:,} decisions)")
    print(f"\nexecutor, µs per call (median of {3 if args.quick else args.repeats} blocks of {calls}):")
    for name, us in times.items():
        print(f"  {name:28} {us:8.1f}")
    hit = times["redis cache hit"] / times["in-process cache hit"]
    full = times["redis full pipeline"] / times["in-process full pipeline"]
    print(f"  redis / in-process: cache hit {hit:.2f}x, full pipeline {full:.2f}x")
    print(f"RESULT ratelimit_single_per_s={single:.0f} ratelimit_pipelined_per_s={piped:.0f} "
          f"redis_cache_hit_ratio={hit:.2f} redis_full_pipeline_ratio={full:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
