"""Weighted fusion of a query's candidates (`domain.ranking.fuse`)."""

from __future__ import annotations

import pytest

from novamem.domain.ranking import Candidate, fuse
from novamem.search.presets import SearchWeights

WEIGHTS = SearchWeights(keyword=0.4, vector=0.4, graph=0.0, recency=0.1, entity=0.1, time=0.0)


def fused(raws: dict[str, dict[str, float]], weights: SearchWeights = WEIGHTS, floor: float = 0.3) -> list[Candidate]:
    return fuse([Candidate(id=i, raw=dict(r)) for i, r in raws.items()], weights, min_vector_score=floor)


def test_keyword_and_entity_scores_are_scaled_to_the_best_and_cosines_kept_absolute() -> None:
    found = {c.id: c for c in fused({"a": {"keyword": 8.0, "vector": 0.5, "entity": 2.0}, "b": {"keyword": 2.0}})}
    assert found["a"].signals["keyword"] == 1.0 and found["b"].signals["keyword"] == 0.25
    assert found["a"].signals["entity"] == 1.0 and found["b"].signals["entity"] == 0.0
    assert found["a"].signals["vector"] == 0.5  # not scaled up although it is the best cosine
    # recency produced nothing, so its weight is shared out: 0.4 + 0.4 + 0.1 of weight are active
    assert found["a"].score == pytest.approx((0.4 * 1.0 + 0.4 * 0.5 + 0.1 * 1.0) / 0.9)
    assert found["b"].score == pytest.approx(0.4 * 0.25 / 0.9)


def test_signals_are_clamped_and_order_is_best_first() -> None:
    found = fused({"low": {"vector": 0.35, "recency": 1.7}, "high": {"vector": 1.2, "graph": -0.5, "recency": 0.5}})
    assert [c.id for c in found] == ["high", "low"]
    assert found[0].signals["vector"] == 1.0 and found[0].signals["graph"] == 0.0
    assert found[1].signals["recency"] == 1.0 and found[0].signals["recency"] == 0.5


def test_a_weak_vector_only_candidate_is_dropped_and_unknown_signals_are_ignored() -> None:
    found = fused({"weak": {"vector": 0.2}, "kept": {"vector": 0.2, "entity": 1.0}, "odd": {"keyword": 1.0, "x": 9.0}})
    assert sorted(c.id for c in found) == ["kept", "odd"]
    assert "x" not in found[0].signals


def test_time_counts_only_when_the_query_names_one() -> None:
    weights = WEIGHTS.merged({"time": 0.5})
    found = {c.id: c for c in fused({"then": {"keyword": 1.0, "time": 1.0}, "other": {"keyword": 1.0}}, weights)}
    assert found["then"].signals["time"] == 1.0 and "time" not in found["other"].signals
    assert found["then"].score > found["other"].score
    # without a time signal anywhere its weight is not active
    plain = fused({"a": {"keyword": 1.0}}, weights)
    assert plain[0].score == pytest.approx(1.0)
