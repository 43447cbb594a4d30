"""The graph view's geometry: a seed memory in the middle, its neighbours on a circle around it (pure functions).

A neighbour's distance from the centre shows the strength of its best path to the seed (the `graph` score of
`POST /v1/neighbors`, the product of the edge strengths along it): strong links sit close, weak ones far out.
Neighbours are spread evenly by angle in score order, starting at the top and going clockwise. The template
(`_graph.html`) draws the result as inline SVG; the same neighbours are listed in a table next to it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["INNER", "OUTER", "SIZE", "GraphLayout", "GraphNode", "Spoke", "circle_layout", "short_label"]

SIZE = 560  # the square viewBox
INNER = 92  # distance of a neighbour with score 1
OUTER = 236  # distance of a neighbour with score 0
SEED_RADIUS = 26
NODE_RADIUS = (16.0, 25.0)  # score 0 .. score 1
GUIDE_SCORES = (0.25, 0.5, 0.75)  # faint rings at these scores
LABEL_CHARS = 60


@dataclass(frozen=True, slots=True)
class GraphNode:
    """A neighbour drawn at (x, y) with radius r; `rank` is its place by score (1 = strongest)."""

    id: str
    rank: int
    x: float
    y: float
    r: float
    score: float
    tier: str
    label: str


@dataclass(frozen=True, slots=True)
class Spoke:
    """The line from the seed to a neighbour; `weight` (0..1) sets its thickness and opacity."""

    x1: float
    y1: float
    x2: float
    y2: float
    weight: float


@dataclass(frozen=True, slots=True)
class GraphLayout:
    """Everything the SVG needs, in viewBox units (a `size` × `size` square, the seed at its centre)."""

    size: int
    centre: float
    seed_radius: float
    nodes: tuple[GraphNode, ...]
    spokes: tuple[Spoke, ...]
    guides: tuple[tuple[float, float], ...]  # (score, radius) of the faint rings


def short_label(text: str, limit: int = LABEL_CHARS) -> str:
    """One line of at most `limit` characters, cut at a word boundary with an ellipsis."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,.;:") + "…"


def _distance(score: float) -> float:
    return INNER + (1 - score) * (OUTER - INNER)


def circle_layout(neighbours: Sequence[tuple[str, str, float, str]], *, size: int = SIZE) -> GraphLayout:
    """Place `(id, content, score, tier)` neighbours around the seed, strongest first, clockwise from the top.

    Scores are clamped to 0..1; the order of equal scores is kept.
    """
    scale = size / SIZE
    centre = size / 2
    ranked = sorted(neighbours, key=lambda item: -_clamp(item[2]))
    count = len(ranked)
    nodes: list[GraphNode] = []
    spokes: list[Spoke] = []
    for index, (entry_id, content, raw_score, tier) in enumerate(ranked):
        score = _clamp(raw_score)
        angle = -math.pi / 2 + 2 * math.pi * index / max(count, 1)
        distance = _distance(score) * scale
        x = round(centre + distance * math.cos(angle), 1)
        y = round(centre + distance * math.sin(angle), 1)
        radius = round((NODE_RADIUS[0] + (NODE_RADIUS[1] - NODE_RADIUS[0]) * score) * scale, 1)
        nodes.append(GraphNode(entry_id, index + 1, x, y, radius, score, tier, short_label(content)))
        spokes.append(Spoke(centre, centre, x, y, round(score, 3)))
    guides = tuple((score, round(_distance(score) * scale, 1)) for score in GUIDE_SCORES)
    return GraphLayout(size, centre, round(SEED_RADIUS * scale, 1), tuple(nodes), tuple(spokes), guides)


def _clamp(score: float) -> float:
    return min(max(score, 0.0), 1.0)
