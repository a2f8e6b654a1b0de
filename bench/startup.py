"""Start-up: how long a fresh process takes to its first answer, each scenario run N times (median and spread).

    python bench/startup.py [--runs 7]

(a) `first_answer`: a Python program that imports the runtime, builds it with the eight default tools
    (`salesboost.assembly.build_runtime`) and makes one price_calculator call; timed from the process's start to
    the answer on its stdout (its teardown is not counted).
(b) `cli_call`: `salesboost call price_calculator '<payload>'`, timed from start to exit (wall).

Both run against one SQLite file in a temporary directory, migrated by an untimed first run of each scenario
(which also leaves the bytecode caches warm, as on a machine where the package is installed). Wall-clock
figures depend on the machine's load: compare medians taken in one run. The last line is for scripts:
RESULT startup_first_answer_s=<median> cli_call_s=<median>
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

PAYLOAD = {"items": [{"sku": "SB-PRO-M", "quantity": 10}]}
# The answer is printed (and flushed) before the runtime closes: the parent stops its clock on that line.
FIRST_ANSWER = f"""
import asyncio
from salesboost.assembly import build_runtime

async def main():
    runtime = build_runtime()
    try:
        result = await runtime.executor.execute("price_calculator", {PAYLOAD!r}, "coach")
        print(result.model_dump_json(), flush=True)
    finally:
        await runtime.aclose()

asyncio.run(main())
"""


def salesboost_command() -> list[str]:
    """The installed `salesboost` script beside this interpreter, as a user runs it."""
    script = Path(sys.executable).with_name("salesboost")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from salesboost.cli import app; app()"]


def first_answer(env: dict[str, str]) -> float:
    """Seconds from spawning the interpreter to the call's envelope on its stdout."""
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", FIRST_ANSWER], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    elapsed = time.perf_counter() - start
    _, err = child.communicate(timeout=120)
    if child.returncode != 0 or not json.loads(line or "{}").get("ok"):
        raise SystemExit(f"the first-answer program failed ({child.returncode}): {line}{err[-2000:]}")
    return elapsed


def cli_call(env: dict[str, str]) -> float:
    """Wall seconds of `salesboost call price_calculator ...`, start to exit."""
    start = time.perf_counter()
    done = subprocess.run(
        [*salesboost_command(), "call", "price_calculator", json.dumps(PAYLOAD), "--role", "coach"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"salesboost call failed ({done.returncode}): {done.stdout[-1000:]}{done.stderr[-2000:]}")
    return elapsed


def measure(name: str, run: Callable[[dict[str, str]], float], env: dict[str, str], runs: int) -> float:
    run(env)  # untimed: migrates the database, writes the bytecode caches
    times = sorted(run(env) for _ in range(runs))
    median = statistics.median(times)
    print(f"{name:<14} median {median:6.3f} s   min {times[0]:6.3f} s   max {times[-1]:6.3f} s   ({runs} runs)")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per scenario")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="salesboost-startup-") as tmp:
        env = {**os.environ, "SALESBOOST_DATABASE_URL": f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"}
        load = os.getloadavg()[0]
        print(f"load average {load:.2f} on {os.cpu_count()} cores")
        answer = measure("first_answer", first_answer, env, args.runs)
        cli = measure("cli_call", cli_call, env, args.runs)
    print(f"RESULT startup_first_answer_s={answer:.3f} cli_call_s={cli:.3f}")


if __name__ == "__main__":
    main()
