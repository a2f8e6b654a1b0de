"""A set that cannot be measured is one line naming the file and the line, and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from eval_cli import FIXTURES, eval_error, run_eval

from salesboost.config import get_settings

GOOD = '{"text": "Thanks for the call.", "level": "OK"}'


@pytest.mark.parametrize(
    ("lines", "says"),
    [
        ([GOOD, '{"text": "hi", "level": "OK"'], ":2: not valid JSON"),
        ([GOOD, "[1, 2]"], ":2: each line must be a JSON object"),
        ([GOOD, "", '{"text": "hi"}'], ":3: level: Field required"),
        (['{"text": "hi", "level": "DANGER"}'], ":1: level: Input should be 'OK', 'WARN' or 'BLOCK'"),
        (['{"text": "hi", "level": "OK", "channel": "fax"}'], ":1: channel: Input should be"),
        (['{"text": "hi", "level": "OK", "marketing": "yes"}'], ":1: marketing: Input should be a valid boolean"),
        (['{"text": "", "level": "OK"}'], ":1: text: String should have at least 1 character"),
    ],
)
def test_a_malformed_compliance_set(tmp_path: Path, lines: list[str], says: str) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    line = eval_error("compliance", "--set", str(bad))
    assert "bad.jsonl" in line
    assert says in line


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ('{"message": "hi", "stage": "negotiation"}', ":1: stage: Input should be"),
        ('{"message": "hi", "stage": "opening", "history": [{"role": "bot", "content": "x"}]}', ":1: history.0.role"),
        ('{"stage": "opening"}', ":1: message: Field required"),
    ],
)
def test_a_malformed_stage_set(tmp_path: Path, line: str, says: str) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(line + "\n")
    assert says in eval_error("stage", "--set", str(bad))


def test_a_missing_or_empty_set(tmp_path: Path) -> None:
    assert "cannot read the set" in eval_error("compliance", "--set", str(tmp_path / "nothing.jsonl"))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    assert eval_error("stage", "--set", str(empty)).endswith("empty.jsonl: the set is empty")


def test_a_missing_stage_model_is_one_line_naming_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALESBOOST_STAGE_MODEL_PATH", str(tmp_path / "absent.joblib"))
    get_settings.cache_clear()
    message = eval_error("stage", "--set", str(FIXTURES / "stage.jsonl"))
    assert "salesboost train stage-classifier" in message
    assert len(message.strip().splitlines()) == 1
    # A tool that needs no stage model is measured all the same: the model is built on first use.
    assert "BLOCK recall" in run_eval("compliance", "--set", str(FIXTURES / "compliance.jsonl"))
