"""Fact consolidation's pure parts (the dream cycle's second step, reference §7.3): clusters of near facts,
the prompt that asks which fact is an outdated version of another, and the defensive reading of the answer.

No I/O here: the storage layer finds each walked fact's nearest facts, the service sends the prompt and
applies what `parse_supersessions` returns. A judgement is only ever accepted between two facts of the same
cluster, and a cluster only ever holds facts of one tenant and owner, so an answer (however wrong) can never
retire a fact across owners or from another group.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from novamem.domain.facts import answer_array

__all__ = [
    "CLUSTERS_PER_CALL",
    "CONSOLIDATION_MAX_TOKENS",
    "CONSOLIDATION_PROMPT",
    "FACT_CLUSTER_COSINE",
    "FACT_NEIGHBOURS",
    "FACT_WALK",
    "SUPERSEDED_VIA",
    "FactMember",
    "Supersession",
    "consolidation_input",
    "distinct_clusters",
    "parse_supersessions",
]

FACT_WALK = 1000  # active facts walked per pass, from the persisted cursor
FACT_NEIGHBOURS = 6  # nearest facts clustered with each walked fact
FACT_CLUSTER_COSINE = 0.85  # a neighbour this close (or closer) joins the walked fact's cluster
CLUSTERS_PER_CALL = 8  # clusters judged by one model call
CONSOLIDATION_MAX_TOKENS = 1024
SUPERSEDED_VIA = "dream_cycle_consolidation"  # `metadata.superseded_via` of a fact retired here

CONSOLIDATION_PROMPT = (
    "You maintain a memory store of small facts. You get numbered groups of related facts; each fact has a "
    "number within its group, the date it happened (when known) and the date it was stored. In each group, "
    "find every fact that is an outdated version of another fact of the same group: both are about the same "
    "subject and the same attribute (where someone lives, a setting's value, a preference, a role), and the "
    "other one is newer and replaces it. Facts that merely differ, add detail, or can both be true are not "
    "outdated. Answer with only a JSON array (no prose, no code fence) of objects "
    '{"group": <group number>, "superseded": <number of the outdated fact>, "by": <number of the fact that '
    "replaces it>}. If nothing is outdated, answer []."
)


@dataclass(frozen=True, slots=True)
class FactMember:
    """One fact of a cluster: its id, stored text and when it was stored."""

    id: str
    content: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Supersession:
    """`superseded` is an outdated version of `by` (two facts of one cluster)."""

    superseded: str
    by: str


def distinct_clusters(groups: Iterable[Sequence[FactMember]]) -> list[tuple[FactMember, ...]]:
    """The clusters worth judging, in walk order: each walked fact with its near facts, members in id order;
    singletons, repeats and clusters inside an earlier one dropped."""
    kept: list[tuple[FactMember, ...]] = []
    sets: list[frozenset[str]] = []
    for group in groups:
        members = tuple(sorted({m.id: m for m in group}.values(), key=lambda m: m.id))
        ids = frozenset(m.id for m in members)
        if len(ids) < 2 or any(ids <= seen for seen in sets):
            continue
        kept.append(members)
        sets.append(ids)
    return kept


def consolidation_input(clusters: Sequence[Sequence[FactMember]], redact: Callable[[str], str]) -> str:
    """The user message: each cluster as a numbered group of numbered facts (both from 1), each text
    passed through `redact` before it leaves the process."""
    lines: list[str] = []
    for g, cluster in enumerate(clusters, start=1):
        lines.append(f"Group {g}:")
        for n, member in enumerate(cluster, start=1):
            stored = member.created_at.astimezone(UTC).date().isoformat()
            lines.append(f"  {n}. {redact(member.content)} [stored {stored}]")
    return "\n".join(lines)


def parse_supersessions(answer: str, clusters: Sequence[Sequence[FactMember]]) -> list[Supersession] | None:
    """The usable judgements of the model's answer, in answer order; None when it holds no JSON array.

    `<think>` blocks and code fences are ignored and the first JSON array is read. Groups and facts are the
    numbers of `consolidation_input` (a fact may also be named by its id). An item is dropped when its group
    or either fact is unknown, when both name the same fact, or when it repeats an earlier fact's verdict."""
    items = answer_array(answer)
    if items is None:
        return None
    found: list[Supersession] = []
    judged: set[str] = set()
    for item in items:
        if not isinstance(item, dict):
            continue
        cluster = _pick(clusters, item.get("group"))
        if cluster is None:
            continue
        old, new = _member(cluster, item.get("superseded")), _member(cluster, item.get("by"))
        if old is None or new is None or old.id == new.id or old.id in judged:
            continue
        judged.add(old.id)
        found.append(Supersession(old.id, new.id))
    return found


def _number(value: object) -> int | None:
    """A 1-based position from an int or a numeric string (booleans and floats with a fraction refused)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _pick(clusters: Sequence[Sequence[FactMember]], value: object) -> Sequence[FactMember] | None:
    n = _number(value)
    return clusters[n - 1] if n is not None and 1 <= n <= len(clusters) else None


def _member(cluster: Sequence[FactMember], value: object) -> FactMember | None:
    if isinstance(value, str):
        by_id = next((m for m in cluster if m.id == value.strip()), None)
        if by_id is not None:
            return by_id
    n = _number(value)
    return cluster[n - 1] if n is not None and 1 <= n <= len(cluster) else None
