"""The figures on answers worked out by hand."""

from __future__ import annotations

import math

import pytest

from salesboost.evaluation.metrics import (
    Latency,
    first_occurrences,
    ndcg_at,
    ratio,
    recall_at,
    reciprocal_rank,
)


def test_ndcg_is_one_for_the_ideal_order_and_graded_otherwise() -> None:
    grades = {"a": 3, "b": 1}
    assert ndcg_at(5, ["a", "b", "x"], grades) == pytest.approx(1.0)
    # b first, a second: (1 + 3/log2 3) / (3 + 1/log2 3)
    assert ndcg_at(5, ["b", "a"], grades) == pytest.approx((1 + 3 / math.log2(3)) / (3 + 1 / math.log2(3)))
    assert ndcg_at(5, ["x", "y"], grades) == 0.0
    # a relevant document past the cutoff does not count
    assert ndcg_at(2, ["x", "y", "a"], grades) == 0.0


def test_recall_and_reciprocal_rank() -> None:
    grades = {"a": 2, "b": 1, "c": 3}
    assert recall_at(5, ["a", "x", "c"], grades) == pytest.approx(2 / 3)
    assert recall_at(1, ["x", "a"], grades) == 0.0
    assert reciprocal_rank(["x", "y", "b"], grades) == pytest.approx(1 / 3)
    assert reciprocal_rank(["x"], grades) == 0.0


def test_chunks_map_to_documents_at_their_first_rank() -> None:
    assert first_occurrences(["a.md", "b.md", "a.md", "c.md", "b.md"]) == ["a.md", "b.md", "c.md"]


def test_a_ratio_over_nothing_is_undefined_not_zero() -> None:
    assert ratio(0, 0) is None
    assert ratio(2, 3) == pytest.approx(2 / 3)


def test_latency_percentiles() -> None:
    latency = Latency.of([float(ms) for ms in range(1, 101)])
    assert latency.calls == 100
    assert latency.p50_ms == pytest.approx(50.5)
    assert latency.p95_ms == pytest.approx(95.05)
    assert Latency.of([3.0]) == Latency(1, 3.0, 3.0)
