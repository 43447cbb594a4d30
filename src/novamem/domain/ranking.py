"""Score maths of retrieval: entity signal, fusion, rank prior, diversification and token budgets.

Pure functions over plain values; the clock is passed in.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from novamem.domain.text import content_tokens, jaccard, token_cost

__all__ = [
    "Candidate",
    "SignalWeights",
    "TITLE_RUN",
    "diversify",
    "fact_weight",
    "entity_score",
    "fit_budget",
    "fuse",
    "opens_sentence",
    "query_entities",
    "rank_prior",
    "recency",
]

SIGNALS = ("keyword", "vector", "graph", "recency", "entity", "time")

# a single quote opens or closes a quotation only where it does not join two words: the apostrophes of
# "it's ... I'm" enclose no quotation
_QUOTED = re.compile(r"\"([^\"]{2,})\"|(?<!\w)'([^'\n]{2,80})'(?!\w)")
# a run of capitalised words (a name, or a sentence opener before one)
TITLE_RUN = re.compile(r"\b[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*")
_NUMBER = re.compile(r"\b\d{3,}\b")
_AMOUNT = re.compile(r"\$\d[\d,.]*")


def opens_sentence(text: str, start: int) -> bool:
    """Whether `text[start:]` opens a sentence: nothing (or a lone line break) before it, or the end of a
    sentence (`.`, `!` or `?`) and whitespace. Looks back only over that whitespace, so a long text's
    names cost no more each than a short one's."""
    if start == 0 or (start == 1 and text[0] == "\n"):
        return True
    i = start
    while i > 0 and text[i - 1].isspace():
        i -= 1
    return 0 < i < start and text[i - 1] in ".!?"


def query_entities(query: str) -> list[str]:
    """Quoted strings, Title-Case runs not opening a sentence, numbers of 3+ digits, and $amounts."""
    found: list[str] = []
    for m in _QUOTED.finditer(query):
        found.append(m.group(1) or m.group(2))
    for m in TITLE_RUN.finditer(query):
        if opens_sentence(query, m.start()):
            continue
        found.append(m.group(0).rstrip("'-"))  # a closing quote or dash is not part of the name
    found.extend(m.group(0) for m in _NUMBER.finditer(query))
    found.extend(m.group(0) for m in _AMOUNT.finditer(query))
    seen: dict[str, None] = {}
    for item in found:
        item = item.strip().lower()
        if len(item) >= 2:
            seen.setdefault(item, None)
    return list(seen)


def entity_score(entities: Sequence[str], content: str) -> float:
    lowered = content.lower()
    return float(sum(1 for e in entities if e in lowered))


def recency(moment: datetime, now: datetime, half_life_days: float) -> float:
    """`exp(-age/half-life)` of a memory's age at `now` (a moment in the future counts as age 0)."""
    age_days = max((now - moment).total_seconds() / 86400.0, 0.0)
    return math.exp(-age_days / half_life_days)


class SignalWeights(Protocol):
    """How much each retrieval signal counts in the fused score (0 switches it off).

    `search.presets.SearchWeights` is the validated model that fits it; the maths needs only the numbers.
    """

    @property
    def keyword(self) -> float: ...
    @property
    def vector(self) -> float: ...
    @property
    def graph(self) -> float: ...
    @property
    def recency(self) -> float: ...
    @property
    def entity(self) -> float: ...
    @property
    def time(self) -> float: ...


@dataclass(slots=True)
class Candidate:
    """One candidate memory with its raw signals and, after fusion, its normalised signals (unrounded: the
    wire view rounds them) and its score."""

    id: str
    raw: dict[str, float] = field(default_factory=dict)
    signals: dict[str, float] = field(default_factory=dict)
    score: float = 0.0


def fuse(
    candidates: Sequence[Candidate],
    weights: SignalWeights,
    *,
    min_vector_score: float,
) -> list[Candidate]:
    """Weighted fusion with per-query normalisation; returns candidates best first.

    Keyword and entity scores have no absolute scale, so they are divided by the query's maximum.
    Vector cosine is kept absolute so that a weak best match stays weak. Weights are renormalised over
    the signals that produced anything, so a missing tier does not cap scores. A candidate found only
    by a weak vector match (below the noise floor) is dropped. `time` (0 or 1 per candidate) is given
    only when the query names a time; it then appears in `signals` too. Raw signals are never negative
    (a missing one counts 0).
    """
    w = (weights.keyword, weights.vector, weights.graph, weights.recency, weights.entity, weights.time)
    # the highest raw value of each signal (0 when none is positive), in one pass over the candidates
    maxima = dict.fromkeys(SIGNALS, 0.0)
    for cand in candidates:
        for name, value in cand.raw.items():
            if name in maxima and value > maxima[name]:  # a signal fusion does not know is ignored
                maxima[name] = value
    active = [wi if wi > 0 and maxima[s] > 0 else 0.0 for wi, s in zip(w, SIGNALS, strict=True)]
    total = sum(active) or 1.0
    a_kw, a_vec, a_graph, a_rec, a_ent, a_time = active
    max_kw, max_ent = maxima["keyword"], maxima["entity"]
    fused: list[Candidate] = []
    for cand in candidates:
        raw = cand.raw
        kw, vec = raw.get("keyword", 0.0), raw.get("vector", 0.0)
        ent, graph = raw.get("entity", 0.0), raw.get("graph", 0.0)
        if kw <= 0 and graph <= 0 and ent <= 0 and vec < min_vector_score:
            continue
        # each signal clamped to [0, 1] (conditionals rather than min/max calls: this runs for every
        # candidate of every search)
        n_kw = kw / max_kw if max_kw else 0.0
        n_vec = 0.0 if vec < 0.0 else 1.0 if vec > 1.0 else vec
        n_graph = 0.0 if graph < 0.0 else 1.0 if graph > 1.0 else graph
        rec = raw.get("recency", 0.0)
        n_rec = 0.0 if rec < 0.0 else 1.0 if rec > 1.0 else rec
        n_ent = ent / max_ent if max_ent else 0.0
        signals = {"keyword": n_kw, "vector": n_vec, "graph": n_graph, "recency": n_rec, "entity": n_ent}
        score = a_kw * n_kw + a_vec * n_vec + a_graph * n_graph + a_rec * n_rec + a_ent * n_ent
        if "time" in raw:
            t = raw["time"]
            n_time = 0.0 if t < 0.0 else 1.0 if t > 1.0 else t
            signals["time"] = n_time
            score += a_time * n_time
        cand.signals = signals
        cand.score = score / total
        fused.append(cand)
    fused.sort(key=lambda c: c.score, reverse=True)
    return fused


def rank_prior(confidence: float, memory_type: str | None, created_at: datetime, now: datetime) -> float:
    """Multiplier in [0.7, 1.15]: trust in the memory, and a freshness edge for current-state facts."""
    prior = 0.7 + 0.3 * min(max(confidence, 0.0), 1.0)
    if memory_type in {"deployment_state", "setup_fact"}:
        age_days = max((now - created_at).total_seconds() / 86400.0, 0.0)
        prior *= 1 + 0.15 * math.exp(-age_days / 30)
    return prior


# a derived fact's importance (1-5, 3 when unknown) scales its score by importance / 3, but never above 1:
# a minor fact sinks, and no fact outranks the memory it came from on its importance alone
FACT_IMPORTANCE_NEUTRAL = 3


def fact_weight(metadata: Mapping[str, Any]) -> float:
    """Multiplier in [1/3, 1] for a derived fact (`metadata.fact.importance`); 1 for any other memory."""
    fact = metadata.get("fact")
    if not isinstance(fact, Mapping) or "source_chunk_id" not in metadata:
        return 1.0
    importance = fact.get("importance")
    if isinstance(importance, bool) or not isinstance(importance, int | float) or not math.isfinite(importance):
        return 1.0
    return min(max(float(importance), 1.0), FACT_IMPORTANCE_NEUTRAL) / FACT_IMPORTANCE_NEUTRAL


T = TypeVar("T")


# maximal marginal relevance looks this many times `k` down the ranking for the next pick
NOVELTY_POOL = 3


def diversify(
    items: Sequence[T],
    text_of: Callable[[T], str],
    k: int,
    threshold: float,
    *,
    score_of: Callable[[T], float] | None = None,
    novelty: float = 0.0,
    tokens_of: Callable[[T], set[str]] | None = None,
) -> list[T]:
    """Up to k items, skipping near-copies (token Jaccard >= `threshold`) of one already kept; backfilled
    with the skipped ones, in their order, when short.

    Without `novelty` the items keep their order. With `novelty` in (0, 1) and `score_of`, the first
    `NOVELTY_POOL * k` items are picked by maximal marginal relevance: each next pick maximises
    `(1 - novelty) * relevance - novelty * redundancy`, relevance being the item's score scaled to [0, 1]
    over those items and redundancy its highest token Jaccard with a pick already made. A memory that
    mostly repeats one already chosen gives way to one that adds something; picks keep the order made.
    `tokens_of` gives an item's tokens when the caller has them already (`content_tokens` of its text).
    """
    tokens_of = tokens_of or (lambda item: content_tokens(text_of(item)))
    if novelty <= 0 or score_of is None:
        return _in_order(items, tokens_of, k, threshold)
    pool = list(items[: NOVELTY_POOL * k])
    tokens = [tokens_of(item) for item in pool]
    scores = [score_of(item) for item in pool]
    low, high = min(scores, default=0.0), max(scores, default=0.0)
    span = high - low
    weight = 1 - novelty
    if low >= 0 and high > 0:
        merit = [weight * s / high for s in scores]
    else:
        merit = [weight * ((s - low) / span if span > 0 else 1.0) for s in scores]
    redundancy = [0.0] * len(pool)
    left = list(range(len(pool)))
    kept: list[int] = []
    skipped: list[int] = []
    while left and len(kept) < k:
        best = max(left, key=lambda i: merit[i] - novelty * redundancy[i])  # ties: the earlier item
        left.remove(best)
        if redundancy[best] >= threshold:
            skipped.append(best)
            continue
        kept.append(best)
        chosen = tokens[best]
        for i in left:
            overlap = jaccard(tokens[i], chosen)
            if overlap > redundancy[i]:
                redundancy[i] = overlap
    picked = [pool[i] for i in kept]
    if len(picked) < k:
        # the pool held too many near-copies: the items past it in order, then the near-copies skipped
        picked_tokens = [tokens[i] for i in kept]
        for item in items[len(pool) :]:
            if len(picked) >= k:
                break
            item_tokens = tokens_of(item)
            if all(jaccard(item_tokens, other) < threshold for other in picked_tokens):
                picked.append(item)
                picked_tokens.append(item_tokens)
        picked += [pool[i] for i in sorted(skipped)][: k - len(picked)]
    return picked


def _in_order(items: Sequence[T], tokens_of: Callable[[T], set[str]], k: int, threshold: float) -> list[T]:
    kept: list[T] = []
    kept_tokens: list[set[str]] = []
    skipped: list[T] = []
    for item in items:
        if len(kept) >= k:
            break
        tokens = tokens_of(item)
        if any(jaccard(tokens, other) >= threshold for other in kept_tokens):
            skipped.append(item)
            continue
        kept.append(item)
        kept_tokens.append(tokens)
    if len(kept) < k and skipped:
        order = {id(item): i for i, item in enumerate(items)}
        kept = sorted(kept + skipped[: k - len(kept)], key=lambda it: order[id(it)])
    return kept


def fit_budget(items: Sequence[T], text_of: Callable[[T], str], max_tokens: int | None) -> list[T]:
    """Admit items in order until the next would pass the token budget; the first always fits."""
    if max_tokens is None:
        return list(items)
    admitted: list[T] = []
    spent = 0
    for item in items:
        cost = token_cost(text_of(item))
        if admitted and spent + cost > max_tokens:
            break
        admitted.append(item)
        spent += cost
    return admitted
