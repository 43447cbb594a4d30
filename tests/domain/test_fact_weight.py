"""A derived fact's importance scales its score down, never up: no fact outranks its source by importance."""

from __future__ import annotations

from typing import Any

import pytest

from novamem.domain.ranking import fact_weight


def fact(importance: object) -> dict[str, Any]:
    return {"fact": {"type": "fact", "importance": importance}, "source_chunk_id": "01SOURCE"}


@pytest.mark.parametrize(
    ("metadata", "weight"),
    [
        (fact(1), 1 / 3),
        (fact(2), 2 / 3),
        (fact(3), 1.0),
        (fact(5), 1.0),  # important facts are not lifted above their source
        (fact(0), 1 / 3),  # out of range: clamped
        (fact("high"), 1.0),  # unreadable: left alone
        (fact(True), 1.0),
        (fact(float("nan")), 1.0),
        ({"fact": {"importance": 1}}, 1.0),  # a client's own metadata, not a derived fact
        ({"tags": ["x"]}, 1.0),
        ({}, 1.0),
    ],
)
def test_fact_weight(metadata: dict[str, Any], weight: float) -> None:
    assert fact_weight(metadata) == pytest.approx(weight)
