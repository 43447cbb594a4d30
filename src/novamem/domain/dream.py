"""The dream cycle's judgements: which near-copies are duplicates, which copy survives a merge, and which
merges one pass applies.

Pure logic (no I/O): the storage layer finds each entry's nearest neighbours, this module decides.
A pair is a duplicate when its vectors are nearly identical (cosine ≥ `DUPLICATE_COSINE`) *and* it shares
most of its content words (stop-word-free Jaccard ≥ `DUPLICATE_JACCARD`), so "lives in Dubai" and "lives in
Belgium" (close vectors, different facts) never merge. Stricter than the reference, because a merge
cannot be undone: a pair where each side has a content word the other lacks is a substitution, not a copy
("Alice lives in Dubai" / "Alice lives in Belgium" share exactly half their content words, which the
reference's threshold admits); and a pair that states different numbers, versions or dates, or differs in
negation ("is enabled" / "is not enabled", where "not" is a stop word), is never a duplicate either
(`looks_contradictory`, the capture guard's test). A copy may only add or drop words.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from novamem.domain.capture import looks_contradictory
from novamem.domain.text import content_tokens, jaccard

__all__ = [
    "DREAM_NEIGHBOURS",
    "DREAM_WALK",
    "DUPLICATE_COSINE",
    "DUPLICATE_JACCARD",
    "INFERRED_BASE",
    "INFERRED_MAX",
    "INFERRED_MIN_SHARED",
    "INFERRED_NEIGHBOUR_CAP",
    "INFERRED_PER_SHARED",
    "DreamCandidate",
    "Merge",
    "is_duplicate",
    "plan_merges",
]

DREAM_WALK = 5000  # entries walked per pass, from the persisted cursor
DREAM_NEIGHBOURS = 4  # nearest neighbours judged per walked entry
DUPLICATE_COSINE = 0.97
DUPLICATE_JACCARD = 0.5
INFERRED_MIN_SHARED = 3  # shared `co_occurs` neighbours that earn a `co_inferred` edge
# strongest `co_occurs` neighbours of a node that count toward shared neighbours: a hub with d neighbours
# would otherwise yield d²/2 candidate pairs on its own
INFERRED_NEIGHBOUR_CAP = 16
# a `co_inferred` edge's strength: min(INFERRED_BASE + shared / INFERRED_PER_SHARED, INFERRED_MAX)
INFERRED_BASE = 0.5
INFERRED_PER_SHARED = 20
INFERRED_MAX = 0.9


@dataclass(frozen=True, slots=True)
class DreamCandidate:
    """One side of a candidate pair: an entry's id, text, retrieval hits and creation time."""

    id: str
    content: str
    hits: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Merge:
    """Fold `loser` into `survivor` (same tenant, owner and namespace)."""

    survivor: str
    loser: str


def is_duplicate(a: str, b: str, cosine: float) -> bool:
    """True when two texts are the same memory: near-identical vectors, mostly the same content words, and
    no differing scalar or negation."""
    if cosine < DUPLICATE_COSINE:
        return False
    ta, tb = content_tokens(a), content_tokens(b)
    if jaccard(ta, tb) < DUPLICATE_JACCARD:
        return False
    if (ta - tb) and (tb - ta):
        return False  # a content word swapped for another: "Alice lives in Dubai" / "Alice lives in Belgium"
    return not looks_contradictory(a, b)


def _survivor(a: DreamCandidate, b: DreamCandidate) -> tuple[DreamCandidate, DreamCandidate]:
    """(survivor, loser): more hits wins; on a tie the older entry (then the smaller id) wins."""
    ranked = sorted((a, b), key=lambda c: (-c.hits, c.created_at, c.id))
    return ranked[0], ranked[1]


def plan_merges(pairs: Iterable[tuple[DreamCandidate, DreamCandidate, float]]) -> list[Merge]:
    """The merges one pass applies, from candidate pairs (seed, neighbour, cosine) in walk order.

    An entry takes one role per pass: a survivor may absorb several losers, but an entry that absorbed
    one is not merged away in the same pass (and a loser absorbs nothing), so hits and edges never move
    along a chain within one pass; the next pass sees the result and continues.
    """
    losers: set[str] = set()
    survivors: set[str] = set()
    merges: list[Merge] = []
    for a, b, cosine in pairs:
        if a.id == b.id or not is_duplicate(a.content, b.content, cosine):
            continue
        keep, drop = _survivor(a, b)
        if keep.id in losers or drop.id in losers or drop.id in survivors:
            continue
        losers.add(drop.id)
        survivors.add(keep.id)
        merges.append(Merge(keep.id, drop.id))
    return merges
