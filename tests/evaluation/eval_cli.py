"""Running `salesboost eval` as a user runs it (Typer's runner), on the small fixture sets of tests/fixtures/eval/.

Each fixture set has items any sound tool gets right and items labelled wrong on purpose (category
`mislabelled`), so the figures are known in advance and stay below 1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from salesboost.cli import app

FIXTURES = Path(__file__).parents[1] / "fixtures" / "eval"
runner = CliRunner()


def run_eval(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, ["eval", *args])
    assert result.exit_code == code, result.output
    return result.stdout


def eval_json(*args: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(run_eval(*args, "--json"))
    return data


def eval_error(*args: str) -> str:
    """The one line a malformed set gives, with exit code 2."""
    result = runner.invoke(app, ["eval", *args])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]
