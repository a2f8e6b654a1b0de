"""The benchmarks run end to end and print the RESULT line scripts read (a smoke run: the figures of a run this
short mean nothing, so only their presence and form are checked)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def result_line(script: str, *args: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args], capture_output=True, text=True, env=env, timeout=600,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("RESULT "), done.stdout[-3000:]
    return {key: float(value) for key, value in (field.split("=") for field in last.split()[1:])}


def test_executor_overhead_prints_every_ratio_and_the_audit_cost() -> None:
    result = result_line("executor_overhead.py", "--quick", "--repeats", "1")
    for key in ("executor_us", "floor_ratio", "cache_hit_ratio", "openai_speedup", "tracing_overhead_us",
                "tracing_overhead_floors", "audit_us"):
        assert key in result
    assert result["audit_us"] > 0
    assert result["floor_ratio"] > 1  # the pipeline does more than validating


def test_http_load_measures_the_ceiling_and_our_mcp_beside_the_others() -> None:
    result = result_line(
        "http_load.py", "--duration", "1", "--seconds", "1", "--rate", "50", "--connections", "4"
    )
    for key in ("api_rps", "mcp_rps", "ceiling_rps", "ceiling_ratio", "our_mcp_rps", "our_mcp_ratio", "mcp_sse_rps",
                "our_mcp_fast_ratio"):
        assert result[key] > 0, key
    assert result["api_errors"] == 0
    assert result["our_mcp_errors"] == 0
    assert abs(result["ceiling_ratio"] - result["api_rps"] / result["ceiling_rps"]) < 0.01
    # ours against the bare server in its mode (sessions, progress reports), not its fastest
    assert abs(result["our_mcp_ratio"] - result["our_mcp_rps"] / result["mcp_sse_rps"]) < 0.02


def test_startup_times_fresh_processes_to_the_first_answer() -> None:
    result = result_line("startup.py", "--runs", "1")
    assert result["startup_first_answer_s"] > 0
    assert result["cli_call_s"] > 0
