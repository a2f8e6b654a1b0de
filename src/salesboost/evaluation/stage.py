"""stage_classifier on a labelled set: stage accuracy overall, with history and without."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from salesboost.assembly import Runtime
from salesboost.evaluation.metrics import Latency, ratio
from salesboost.evaluation.report import Report, Row
from salesboost.evaluation.runner import timed_call
from salesboost.evaluation.sets import read_set, shown
from salesboost.sales.stage.model import Role, Stage

TOOL = "stage_classifier"
COLUMNS = {"accuracy": "stage accuracy"}


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    content: str


class StageItem(BaseModel):
    model_config = ConfigDict(extra="ignore")

    message: str
    speaker: Role = "customer"
    history: list[Turn] = Field(default_factory=list)
    current_stage: Stage | None = None
    stage: Stage
    category: str | None = None
    style: str | None = None


def accuracy(hits: Sequence[bool]) -> dict[str, float | None]:
    return {"accuracy": ratio(sum(hits), len(hits))}


@dataclass(frozen=True, slots=True)
class StageSet:
    path: Path
    items: list[tuple[int, StageItem]]

    async def evaluate(self, runtime: Runtime) -> Report:
        hits: list[bool] = []
        with_history: list[bool] = []
        without_history: list[bool] = []
        by_category: dict[str, list[bool]] = defaultdict(list)
        latencies: list[float] = []
        for line, item in self.items:
            payload: dict[str, Any] = {
                "message": item.message,
                "speaker": item.speaker,
                "history": [turn.model_dump() for turn in item.history],
            }
            if item.current_stage is not None:
                payload["current_stage"] = item.current_stage
            result, ms = await timed_call(runtime, TOOL, payload, f"{self.path}:{line}")
            hit = result["stage"] == item.stage
            hits.append(hit)
            (with_history if item.history else without_history).append(hit)
            latencies.append(ms)
            if item.category is not None:
                by_category[item.category].append(hit)
        return Report(
            tool=TOOL,
            set_path=shown(self.path),
            unit="messages",
            columns=COLUMNS,
            overall=Row("all", len(hits), accuracy(hits)),
            latency=Latency.of(latencies),
            subsets=[
                Row("with history", len(with_history), accuracy(with_history)),
                Row("without history", len(without_history), accuracy(without_history)),
            ],
            categories=[Row(name, len(h), accuracy(h)) for name, h in sorted(by_category.items())],
        )


def load(path: Path) -> StageSet:
    """The set's items with their line numbers, checked before anything runs."""
    return StageSet(path, read_set(path, StageItem))
