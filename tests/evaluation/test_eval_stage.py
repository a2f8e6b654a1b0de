"""`salesboost eval stage` on a fixture set whose figures are known."""

from __future__ import annotations

from pathlib import Path

import pytest
from eval_cli import FIXTURES, eval_json, run_eval

from salesboost.config import DATA_DIR

SET = str(FIXTURES / "stage.jsonl")


def test_accuracy_with_and_without_history() -> None:
    report = eval_json("stage", "--set", SET)
    assert report["tool"] == "stage_classifier"
    assert report["size"] == 4
    assert report["metrics"] == {"accuracy": 0.75}
    assert report["subsets"] == {
        "with_history": {"size": 2, "accuracy": 0.5},
        "without_history": {"size": 2, "accuracy": 1.0},
    }
    assert report["categories"] == {
        "clear": {"size": 3, "accuracy": 1.0},
        "mislabelled": {"size": 1, "accuracy": 0.0},
    }
    assert report["latency_ms"]["calls"] == 4


def test_table() -> None:
    lines = run_eval("stage", "--set", SET).splitlines()
    assert lines[0].endswith("stage.jsonl (4 messages)")
    rows = {line.rsplit(maxsplit=2)[0].strip(): line.split()[-2:] for line in lines[2:-1] if line != "by category:"}
    assert rows == {
        "all": ["4", "0.750"],
        "with history": ["2", "0.500"],
        "without history": ["2", "1.000"],
        "clear": ["3", "1.000"],
        "mislabelled": ["1", "0.000"],
    }


def test_the_default_rate_limits_do_not_cut_a_measurement(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A set is many calls from one caller, past stage_classifier's default 10 a minute: all are measured."""
    monkeypatch.setenv("SALESBOOST_RATE_LIMITS_FILE", str(DATA_DIR / "rate_limits.yaml"))
    many = tmp_path / "many.jsonl"
    lines = [line for line in Path(SET).read_text(encoding="utf-8").splitlines() if line.strip()]
    many.write_text("\n".join(lines * 4) + "\n", encoding="utf-8")
    report = eval_json("stage", "--set", str(many))
    assert report["size"] == 16
    assert report["metrics"] == {"accuracy": 0.75}
