"""Instructions per call of the executor's hot path, counted by callgrind: stable on a loaded machine.

Wall-clock figures on a shared machine move by 20% from one run to the next; the number of instructions a call
executes does not. The script runs itself under `valgrind --tool=callgrind`, sets up the executor once (the same
trivial tool as `executor_overhead.py`), and counts each contender's block of calls between two callgrind client
requests (a five-line C helper compiled with the system's `callgrind.h`, called through ctypes): the pydantic
floor, the full pipeline, a cache hit. Start-up and warm-up are not counted, nor the audit writer's thread (its
flushes run between the blocks, as in `executor_overhead.py`): only the thread that makes the calls, garbage
collections included. Needs valgrind, its headers and cc.

    python bench/callgrind_calls.py [--calls 2000]

The audit records of a run are kept until it ends, as the executor bench keeps them between its flushes, so the
garbage collector's walks over them are counted as a server's would be.

The last line is for scripts:
RESULT floor_instr=... full_instr=... cache_hit_instr=... full_ratio=... cache_hit_ratio=...
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HELPER = """
#include <valgrind/callgrind.h>
void zero(void) { CALLGRIND_ZERO_STATS; }
void dump(const char *name) { CALLGRIND_DUMP_STATS_AT(name); }
"""


async def run_calls(calls: int, helper: ctypes.CDLL) -> None:
    """The measured program: set up, warm up, then one counted block of `calls` calls per contender."""
    from executor_overhead import AddInput, add, bench_runtime  # type: ignore[import-not-found]

    runtime = await bench_runtime()
    execute = runtime.executor.execute
    payload = {"a": 1, "b": 2}

    async def floor() -> Any:
        args = AddInput.model_validate(payload)
        return await add(args.a, args.b)

    async def full() -> Any:
        return await execute("add", payload, "coach")

    async def cache_hit() -> Any:
        return await execute("add_cached", payload, "coach")

    contenders = (("floor", floor), ("full", full), ("cache_hit", cache_hit))
    for _, fn in contenders:
        for _ in range(200):
            await fn()
    audit = runtime.executor.audit
    assert audit is not None
    for name, fn in contenders:
        await audit.flush()  # the writer thread started and idle: its work is not counted
        helper.zero()
        for _ in range(calls):
            await fn()
        helper.dump(name.encode())
    os._exit(0)  # no shutdown work (the records are not written)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--keep", type=Path, help="copy callgrind's dumps here (for callgrind_annotate)")
    parser.add_argument("--child", metavar="HELPER", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.child:
        asyncio.run(run_calls(opts.calls, ctypes.CDLL(opts.child)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        source, helper = Path(tmp) / "helper.c", Path(tmp) / "helper.so"
        source.write_text(HELPER)
        subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", str(helper), str(source)], check=True)
        out = Path(tmp) / "callgrind.out"
        subprocess.run(
            ["valgrind", "--tool=callgrind", "--separate-threads=yes", f"--callgrind-out-file={out}",
             sys.executable, __file__, "--child", str(helper), "--calls", str(opts.calls)],
            check=True, capture_output=True, env={**os.environ, "PYTHONHASHSEED": "0"},
        )
        if opts.keep is not None:
            opts.keep.mkdir(parents=True, exist_ok=True)
            for dump in Path(tmp).glob("callgrind.out*"):
                shutil.copy(dump, opts.keep / dump.name)
        per_call: dict[str, float] = {}
        for dump in Path(tmp).glob("callgrind.out.*-01"):  # the calls' thread (the audit writer has its own)
            text = dump.read_text()
            trigger = re.search(r"^desc: Trigger: Client Request: (\w+)", text, re.MULTILINE)
            summary = re.search(r"^summary: (\d+)", text, re.MULTILINE)
            if trigger and summary:
                per_call[trigger.group(1)] = int(summary.group(1)) / opts.calls
    floor = per_call["floor"]
    for name, value in per_call.items():
        print(f"{name:10} {value:10.0f} instructions per call  {value / floor:5.2f}x floor")
    print(
        f"RESULT floor_instr={floor:.0f} full_instr={per_call['full']:.0f} cache_hit_instr={per_call['cache_hit']:.0f} "
        f"full_ratio={per_call['full'] / floor:.2f} cache_hit_ratio={per_call['cache_hit'] / floor:.2f}"
    )


if __name__ == "__main__":
    main()
