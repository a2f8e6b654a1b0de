"""One measurement: a tool's labelled set (default: its blind set) run on a runtime of its own."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from salesboost.evaluation import BLIND_DIR, compliance, knowledge, stage
from salesboost.evaluation.report import Report
from salesboost.evaluation.runner import evaluation_runtime

LabelledSet = compliance.ComplianceSet | stage.StageSet | knowledge.KnowledgeSet

_LOADERS: dict[str, tuple[Callable[[Path], LabelledSet], str]] = {
    "compliance": (compliance.load, "compliance.jsonl"),
    "stage": (stage.load, "stage.jsonl"),
    "knowledge": (knowledge.load, "knowledge"),
}


def load(tool: str, path: Path | None = None) -> LabelledSet:
    """The set, read and checked before any runtime is built (`SetError` says what is wrong and where)."""
    loader, blind = _LOADERS[tool]
    return loader(path or BLIND_DIR / blind)


async def measure(
    labelled: LabelledSet, on_file: Callable[[str], None] | None = None, database_url: str | None = None
) -> Report:
    """Run the set; `on_file` is told of each corpus file a knowledge set ingests; `database_url`: the database
    to run on instead of a temporary SQLite file."""
    async with evaluation_runtime(database_url) as runtime:
        if isinstance(labelled, knowledge.KnowledgeSet):
            return await labelled.evaluate(runtime, on_file)
        return await labelled.evaluate(runtime)
