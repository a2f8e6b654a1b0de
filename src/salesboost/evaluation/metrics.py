"""The figures: ratios that say when they are undefined, ranking metrics at document level, latency."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


def ratio(part: int, whole: int) -> float | None:
    """part / whole, or None when nothing was there to count (a recall over no positives)."""
    return part / whole if whole else None


def mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def ndcg_at(k: int, ranked: Sequence[str], grades: Mapping[str, int]) -> float:
    """Normalised discounted cumulative gain of the first k documents, with the grades as (linear) gains."""
    dcg = sum(grades.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(ranked[:k]))
    ideal = sorted(grades.values(), reverse=True)[:k]
    idcg = sum(grade / math.log2(rank + 2) for rank, grade in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(k: int, ranked: Sequence[str], grades: Mapping[str, int]) -> float:
    """The share of the relevant documents found among the first k."""
    relevant = {doc for doc, grade in grades.items() if grade > 0}
    return len(relevant.intersection(ranked[:k])) / len(relevant) if relevant else 0.0


def reciprocal_rank(ranked: Sequence[str], grades: Mapping[str, int]) -> float:
    """1 / the rank of the first relevant document, 0 when none was found."""
    for rank, doc in enumerate(ranked, start=1):
        if grades.get(doc, 0) > 0:
            return 1 / rank
    return 0.0


def first_occurrences(sources: Sequence[str]) -> list[str]:
    """Chunks mapped to their documents: each document at the rank of its best chunk."""
    return list(dict.fromkeys(sources))


@dataclass(frozen=True, slots=True)
class Latency:
    """Milliseconds per call, as the caller of `execute` waited for it."""

    calls: int
    p50_ms: float
    p95_ms: float

    @classmethod
    def of(cls, samples_ms: Sequence[float]) -> Latency:
        if len(samples_ms) == 1:
            return cls(1, samples_ms[0], samples_ms[0])
        cuts = statistics.quantiles(samples_ms, n=100, method="inclusive")
        return cls(len(samples_ms), cuts[49], cuts[94])
