"""`salesboost eval compliance` on a fixture set whose figures are known."""

from __future__ import annotations

import pytest
from eval_cli import FIXTURES, eval_json, run_eval

SET = str(FIXTURES / "compliance.jsonl")


def test_figures_overall_and_per_category() -> None:
    report = eval_json("compliance", "--set", SET)
    assert report["tool"] == "compliance_check"
    assert report["size"] == 7
    # 3 BLOCK labels, 2 of them caught; nothing else predicted BLOCK; 5 of 7 levels right
    assert report["metrics"] == {
        "block_recall": pytest.approx(2 / 3, abs=1e-4),
        "block_precision": 1.0,
        "level_accuracy": pytest.approx(5 / 7, abs=1e-4),
    }
    categories = report["categories"]
    assert set(categories) == {"injection", "guarantee", "ordinary", "pii", "sms_opt_out", "mislabelled"}
    assert categories["mislabelled"] == {
        "size": 2, "block_recall": 0.0, "block_precision": None, "level_accuracy": 0.0
    }
    assert categories["sms_opt_out"]["level_accuracy"] == 1.0
    assert categories["pii"]["block_recall"] is None
    latency = report["latency_ms"]
    assert latency["calls"] == 7
    assert 0 < latency["p50"] <= latency["p95"]


def test_table() -> None:
    table = run_eval("compliance", "--set", SET)
    lines = table.splitlines()
    assert lines[0].endswith("compliance.jsonl (7 messages)")
    assert lines[1].split() == ["size", "BLOCK", "recall", "BLOCK", "precision", "level", "accuracy"]
    assert lines[2].split() == ["all", "7", "0.667", "1.000", "0.714"]
    assert "by category:" in lines
    assert next(line for line in lines if line.startswith("mislabelled")).split() == [
        "mislabelled", "2", "0.000", "-", "0.000"
    ]
    assert lines[-1].startswith("latency per call: p50 ")
    assert lines[-1].endswith("(7 calls)")
