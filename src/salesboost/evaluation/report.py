"""One measurement laid out: the whole set, its subsets and categories, latency; as a table or as JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from salesboost.evaluation.metrics import Latency

Values = dict[str, float | None]


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    size: int
    values: Values


@dataclass(slots=True)
class Report:
    """`columns` maps each metric's key to its label; every row has a value (or None) for each."""

    tool: str
    set_path: str
    unit: str  # what one item of the set is: "messages", "questions"
    columns: dict[str, str]
    overall: Row
    latency: Latency
    subsets: list[Row] = field(default_factory=list)
    categories: list[Row] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        def row(r: Row) -> dict[str, Any]:
            return {"size": r.size, **{key: _round(r.values[key]) for key in self.columns}}

        return {
            "tool": self.tool,
            "set": self.set_path,
            "size": self.overall.size,
            "metrics": {key: _round(self.overall.values[key]) for key in self.columns},
            "subsets": {r.name.replace(" ", "_"): row(r) for r in self.subsets},
            "categories": {r.name: row(r) for r in self.categories},
            "latency_ms": {
                "p50": round(self.latency.p50_ms, 3),
                "p95": round(self.latency.p95_ms, 3),
                "calls": self.latency.calls,
            },
        }

    def render(self) -> str:
        widths = {key: max(len(label), 6) for key, label in self.columns.items()}
        rows = [self.overall, *self.subsets, *self.categories]
        first = max(len(r.name) for r in rows)
        labels = "  ".join(f"{label:>{widths[key]}}" for key, label in self.columns.items())
        title = f"{self.tool} on {self.set_path} ({self.overall.size} {self.unit})"
        lines = [title, f"{'':{first}}  {'size':>5}  {labels}"]
        for index, r in enumerate(rows):
            if index == 1 + len(self.subsets) and self.categories:
                lines.append("by category:")
            cells = "  ".join(f"{_cell(r.values[key]):>{width}}" for key, width in widths.items())
            lines.append(f"{r.name:{first}}  {r.size:>5}  {cells}")
        lat = self.latency
        lines.append(f"latency per call: p50 {lat.p50_ms:.2f} ms, p95 {lat.p95_ms:.2f} ms ({lat.calls} calls)")
        return "\n".join(lines)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
