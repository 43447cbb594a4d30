"""The hygiene analysis: which of a slice of live memories deserve a curator's second look.

Pure: it reads entries and returns findings, it never changes anything. The write heuristics of
`domain.capture` (memory type, worthiness, contradiction) are reused, so the report flags exactly
what capture itself would judge low-value, current-state or contradictory.

Pairs are found with an exact Jaccard similarity join (prefix filtering): only entries sharing a
token early in a global rarity order are compared, so the usual slice costs far less than
comparing every pair, and a budget bounds the pathological case (thousands of near-identical rows).
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from novamem.domain import capture as heuristics
from novamem.domain.entries import MemoryEntry
from novamem.domain.text import content_tokens

__all__ = [
    "CURRENT_STATE_TYPES",
    "DUPLICATE_JACCARD",
    "LOW_WORTHINESS",
    "MIN_USEFUL_CHARS",
    "PAIR_BUDGET",
    "EntryFinding",
    "HygieneReport",
    "PairFinding",
    "analyze",
    "memory_type_of",
    "scan_limit",
    "similar_pairs",
    "worthiness_of",
]

LOW_WORTHINESS = 0.35
MIN_USEFUL_CHARS = 20
DUPLICATE_JACCARD = 0.5
# entries about the same subject: their word tokens (numbers aside) overlap at least this much
COMPARABLE_JACCARD = 0.5
CURRENT_STATE_TYPES = frozenset({"setup_fact", "deployment_state"})
# most candidate pairs verified by the similarity joins of one report, and most pairs put to the
# (costlier) contradiction test; past either the pair lists are partial
PAIR_BUDGET = 200_000
CONTRADICTION_BUDGET = 10_000
SCAN_FLOOR = 100
SCAN_PER_K = 20

REASON_LOW_VALUE = "low_worthiness"
REASON_STALE = "current_state_review"
REASON_DUPLICATE = "high_token_overlap"
REASON_CONTRADICTION = "comparable_scalar_conflict"
REASON_ORPHAN = "warm_without_cold_vector"

_HAS_DIGIT = re.compile(r"\d")


def scan_limit(k: int) -> int:
    """How many of the most recently updated entries a report of `k` items per list scans."""
    return max(SCAN_PER_K * k, SCAN_FLOOR)


@dataclass(frozen=True, slots=True)
class EntryFinding:
    """One entry worth a look, why, and (low-value only) its worthiness score."""

    entry: MemoryEntry
    reason: str
    memory_type: str
    score: float | None = None


@dataclass(frozen=True, slots=True)
class PairFinding:
    """Two entries of one namespace and project that overlap or conflict; `newer` was updated last."""

    newer: MemoryEntry
    older: MemoryEntry
    reason: str
    score: float


@dataclass(slots=True)
class HygieneReport:
    """Every finding (uncapped; callers cap each list) and whether the pair scan ran to completion."""

    scanned: int
    low_value: list[EntryFinding] = field(default_factory=list)
    stale: list[EntryFinding] = field(default_factory=list)
    duplicates: list[PairFinding] = field(default_factory=list)
    contradictions: list[PairFinding] = field(default_factory=list)
    orphans: list[EntryFinding] = field(default_factory=list)
    pair_scan_complete: bool = True


def memory_type_of(entry: MemoryEntry) -> str:
    """The stored `memoryType`, else what capture would classify the entry as (raw writes carry none)."""
    return heuristics.classify(entry.content, entry.namespace, entry.memory_type)


def worthiness_of(entry: MemoryEntry, memory_type: str, personal_terms: tuple[str, ...] = ()) -> float:
    """The stored `worthiness.overall`, else the score capture would have given the entry."""
    stored = entry.metadata.get("worthiness")
    if isinstance(stored, dict):
        overall = stored.get("overall")
        if isinstance(overall, int | float) and not isinstance(overall, bool) and math.isfinite(overall):
            return float(overall)
    return heuristics.worthiness(entry.content, memory_type, entry.confidence, personal_terms)["overall"]


def similar_pairs(
    sets: Sequence[frozenset[str]], threshold: float, budget: int = PAIR_BUDGET
) -> tuple[list[tuple[int, int, float]], int, bool]:
    """Index pairs (i < j) with Jaccard similarity ≥ `threshold`; also how many candidates were
    verified and whether every candidate was.

    Exact for 0 < threshold ≤ 1: two sets with Jaccard ≥ t share at least ⌈t·|x|⌉ tokens, so under
    one global token order they share a token within each one's first |x| − ⌈t·|x|⌉ + 1 tokens.
    Empty sets never pair. At most `budget` candidate pairs are verified.
    """
    freq = Counter(token for s in sets for token in s)
    index: dict[str, list[int]] = defaultdict(list)
    found: list[tuple[int, int, float]] = []
    checked = 0
    for j, tokens in enumerate(sets):
        if not tokens:
            continue
        ordered = sorted(tokens, key=lambda t: (freq[t], t))
        prefix = ordered[: len(ordered) - math.ceil(threshold * len(ordered)) + 1]
        candidates: set[int] = set()
        for token in prefix:
            candidates.update(index[token])
        for i in sorted(candidates):
            other = sets[i]
            # size filter: Jaccard ≤ min/max of the sizes
            if min(len(other), len(tokens)) < threshold * max(len(other), len(tokens)):
                continue
            if checked >= budget:
                return found, checked, False
            checked += 1
            score = len(other & tokens) / len(other | tokens)
            if score >= threshold:
                found.append((i, j, score))
        for token in prefix:
            index[token].append(j)
    return found, checked, True


def _buckets(entries: Sequence[MemoryEntry]) -> Iterable[list[MemoryEntry]]:
    """Entries grouped by namespace and project, in their given order."""
    groups: dict[tuple[str, str | None], list[MemoryEntry]] = defaultdict(list)
    for entry in entries:
        groups[(entry.namespace, entry.project_id)].append(entry)
    return groups.values()


def _ordered(a: MemoryEntry, b: MemoryEntry) -> tuple[MemoryEntry, MemoryEntry]:
    """(newer, older) by last update, then by id (ULIDs grow with time)."""
    return (a, b) if (a.updated_at, a.id) >= (b.updated_at, b.id) else (b, a)


def _pairs(entries: Sequence[MemoryEntry], budget: int) -> tuple[list[PairFinding], list[PairFinding], bool]:
    """Contradiction candidates and duplicate pairs (disjoint: a conflicting pair is not redundant)."""
    contradictions: list[PairFinding] = []
    duplicates: list[PairFinding] = []
    complete = True
    tests_left = CONTRADICTION_BUDGET
    for bucket in _buckets(entries):
        if len(bucket) < 2:
            continue
        tokens = [frozenset(content_tokens(e.content)) for e in bucket]
        words = [frozenset(t for t in s if not _HAS_DIGIT.search(t)) for s in tokens]
        conflicting: set[tuple[int, int]] = set()
        comparable, checked, done = similar_pairs(words, COMPARABLE_JACCARD, budget)
        budget -= checked
        complete = complete and done
        if len(comparable) > tests_left:
            comparable, complete = comparable[:tests_left], False
        tests_left -= len(comparable)
        for i, j, score in comparable:
            newer, older = _ordered(bucket[i], bucket[j])
            if heuristics.looks_contradictory(older.content, newer.content):
                conflicting.add((i, j))
                contradictions.append(PairFinding(newer, older, REASON_CONTRADICTION, round(score, 3)))
        overlapping, checked, done = similar_pairs(tokens, DUPLICATE_JACCARD, budget)
        budget -= checked
        complete = complete and done
        for i, j, score in overlapping:
            if (i, j) not in conflicting:
                newer, older = _ordered(bucket[i], bucket[j])
                duplicates.append(PairFinding(newer, older, REASON_DUPLICATE, round(score, 3)))
    contradictions.sort(key=lambda p: -p.score)
    duplicates.sort(key=lambda p: -p.score)
    return contradictions, duplicates, complete


def analyze(
    entries: Sequence[MemoryEntry],
    *,
    vectors_expected: bool,
    personal_terms: tuple[str, ...] = (),
    budget: int = PAIR_BUDGET,
) -> HygieneReport:
    """Review candidates among live entries (given most recently updated first).

    - low value: worthiness overall < 0.35 or fewer than 20 characters once trimmed (lowest first);
    - stale: current-state memory types (setup facts, deployment state), cold ones first, then least
      recently updated first;
    - duplicates: same namespace and project, token Jaccard ≥ 0.5 (highest first);
    - contradictions: same namespace and project, comparable wording, and capture's contradiction test;
    - orphans: entries whose vector is still owed (only when the deployment embeds at all).
    """
    report = HygieneReport(scanned=len(entries))
    for entry in entries:
        kind = memory_type_of(entry)
        score = worthiness_of(entry, kind, personal_terms)
        if score < LOW_WORTHINESS or len(entry.content.strip()) < MIN_USEFUL_CHARS:
            report.low_value.append(EntryFinding(entry, REASON_LOW_VALUE, kind, round(score, 3)))
        if kind in CURRENT_STATE_TYPES:
            report.stale.append(EntryFinding(entry, REASON_STALE, kind))
        if vectors_expected and not entry.embedded:
            report.orphans.append(EntryFinding(entry, REASON_ORPHAN, kind))
    report.low_value.sort(key=lambda f: f.score if f.score is not None else 0.0)
    # cold first: decay found them unused for longer than their lifespan, the likeliest to be out of date
    report.stale.sort(key=lambda f: (not f.entry.cold, f.entry.updated_at, f.entry.id))
    report.contradictions, report.duplicates, report.pair_scan_complete = _pairs(entries, budget)
    return report
