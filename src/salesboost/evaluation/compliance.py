"""compliance_check on a labelled set: BLOCK recall, BLOCK precision and level accuracy."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from salesboost.assembly import Runtime
from salesboost.evaluation.metrics import Latency, ratio
from salesboost.evaluation.report import Report, Row
from salesboost.evaluation.runner import timed_call
from salesboost.evaluation.sets import read_set, shown
from salesboost.sales.compliance.tool import RiskLevel

TOOL = "compliance_check"
COLUMNS = {"block_recall": "BLOCK recall", "block_precision": "BLOCK precision", "level_accuracy": "level accuracy"}


class ComplianceItem(BaseModel):
    model_config = ConfigDict(extra="ignore")

    text: str = Field(min_length=1)
    channel: Literal["chat", "email", "sms"] = "chat"
    marketing: StrictBool = False
    level: RiskLevel
    category: str | None = None
    style: str | None = None


def scores(pairs: Sequence[tuple[str, str]]) -> dict[str, float | None]:
    """The three figures over (expected, predicted) levels."""
    caught = sum(1 for want, got in pairs if want == got == "BLOCK")
    return {
        "block_recall": ratio(caught, sum(1 for want, _ in pairs if want == "BLOCK")),
        "block_precision": ratio(caught, sum(1 for _, got in pairs if got == "BLOCK")),
        "level_accuracy": ratio(sum(1 for want, got in pairs if want == got), len(pairs)),
    }


@dataclass(frozen=True, slots=True)
class ComplianceSet:
    path: Path
    items: list[tuple[int, ComplianceItem]]

    async def evaluate(self, runtime: Runtime) -> Report:
        pairs: list[tuple[str, str]] = []
        by_category: dict[str, list[tuple[str, str]]] = defaultdict(list)
        latencies: list[float] = []
        for line, item in self.items:
            payload = {"text": item.text, "channel": item.channel, "marketing": item.marketing}
            result, ms = await timed_call(runtime, TOOL, payload, f"{self.path}:{line}")
            pair = (item.level, str(result["risk_level"]))
            pairs.append(pair)
            latencies.append(ms)
            if item.category is not None:
                by_category[item.category].append(pair)
        return Report(
            tool=TOOL,
            set_path=shown(self.path),
            unit="messages",
            columns=COLUMNS,
            overall=Row("all", len(pairs), scores(pairs)),
            latency=Latency.of(latencies),
            categories=[Row(name, len(p), scores(p)) for name, p in sorted(by_category.items())],
        )


def load(path: Path) -> ComplianceSet:
    """The set's items with their line numbers, checked before anything runs."""
    return ComplianceSet(path, read_set(path, ComplianceItem))
