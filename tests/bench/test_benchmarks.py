"""The benchmarks run end to end and print the RESULT line scripts read (a smoke run: the figures of a run this
short mean nothing, so only their presence and form are checked)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_bench(script: str, *args: str) -> tuple[list[str], dict[str, float]]:
    """The lines a benchmark printed, and its RESULT line's figures."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args], capture_output=True, text=True, env=env, timeout=600,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert lines[-1].startswith("RESULT "), done.stdout[-3000:]
    return lines, {key: float(value) for key, value in (field.split("=") for field in lines[-1].split()[1:])}


def result_line(script: str, *args: str) -> dict[str, float]:
    return run_bench(script, *args)[1]


def test_executor_overhead_prints_every_ratio_and_the_audit_cost() -> None:
    result = result_line("executor_overhead.py", "--quick", "--repeats", "1")
    for key in ("executor_us", "floor_ratio", "cache_hit_ratio", "openai_speedup", "tracing_overhead_us",
                "tracing_overhead_floors", "audit_us"):
        assert key in result
    assert result["audit_us"] > 0
    assert result["floor_ratio"] > 1  # the pipeline does more than validating


def test_http_load_measures_the_ceiling_and_our_mcp_beside_the_others() -> None:
    lines, result = run_bench(
        "http_load.py", "--duration", "1.5", "--seconds", "1.5", "--rate", "50", "--connections", "4", "--rounds", "3"
    )
    for key in ("api_rps", "mcp_rps", "ceiling_rps", "ceiling_ratio", "fixed_p99_ratio", "our_mcp_rps",
                "our_mcp_ratio", "mcp_sse_rps", "our_mcp_fast_ratio"):
        assert result[key] > 0, key
    assert result["api_errors"] == 0
    assert result["our_mcp_errors"] == 0
    # A ratio of the service and its ceiling is the median of the rounds' own, each round printed.
    rounds = next(line for line in lines if line.startswith("by round: "))
    throughput, p99 = (part.split()[1:] for part in rounds.removeprefix("by round: ").split(";"))
    assert len(throughput) == len(p99) == 3
    assert result["ceiling_ratio"] == float(sorted(throughput, key=float)[1])
    assert result["fixed_p99_ratio"] == float(sorted(p99, key=float)[1])
    # ours against the bare server in its mode (sessions, progress reports), not its fastest
    assert abs(result["our_mcp_ratio"] - result["our_mcp_rps"] / result["mcp_sse_rps"]) < 0.02


def test_startup_times_fresh_processes_to_the_first_answer() -> None:
    result = result_line("startup.py", "--runs", "1")
    assert result["startup_first_answer_s"] > 0
    assert result["cli_call_s"] > 0


def test_http_load_with_the_access_log_has_every_server_write_it() -> None:
    lines, result = run_bench(
        "http_load.py", "--access-log", "--duration", "1", "--seconds", "1", "--rate", "50", "--connections", "4",
        "--rounds", "1",
    )
    written = next(line for line in lines if line.startswith("access log lines: "))
    counts = dict(part.rsplit(" ", 1) for part in written.removeprefix("access log lines: ").split(", "))
    assert set(counts) == {"api", "ceiling", "mcp", "mcp-sse"}
    assert all(int(count) > 0 for count in counts.values()), written
    assert result["ceiling_ratio"] > 0
