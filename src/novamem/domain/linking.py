"""The graph signal's maths: which first-stage hits seed the expansion, which words of a memory are
entities that link it to others, and how a reached memory is scored.

Memories are linked without a language model in three ways: the live relations novamem keeps
(`co_occurs` nearest neighbours written at remember time, supersede chains), a place next to each other
in one source reference (the turn before or after in a transcript, session or document), and a shared
entity: a name, a quoted string, a number or
a date that appears in both texts. An entity that many memories mention links nothing in particular, so
its link weakens with how many memories of the scope carry it, and past `ENTITY_MAX_POSTINGS` it is
dropped.

A reached memory's graph score is the best of `seed weight x link strength` over its paths, where a
seed's weight is its first-stage score relative to the best hit's.
Relations and shared entities count `INDIRECT_LINK_SHARE` of their strength as links.

Versions: two candidates joined by a relation at least `VERSION_SIMILARITY` strong say nearly the same
thing, and when they differ in time the later one is the current state ("the qa database moved to port
5432" after "the qa database runs on port 5473"). The earlier one then ranks just below the later one,
unless it matches the question clearly better; it stays in the answer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from novamem.domain.ranking import TITLE_RUN, query_entities

__all__ = [
    "ENTITY_MAX_POSTINGS",
    "INDIRECT_LINK_SHARE",
    "EXPANSION_LIMIT",
    "RELATION_FLOOR",
    "SEED_COUNT",
    "SOURCE_NEIGHBOUR_STRENGTH",
    "VERSION_SIMILARITY",
    "Link",
    "best_paths",
    "entity_strength",
    "memory_entities",
    "newest_first",
    "lookup_keys",
    "posting_entities",
    "posting_key",
    "seed_weights",
    "source_strength",
]

# first-stage hits that seed the expansion, and how many memories from outside the first stage it may add
SEED_COUNT = 5
EXPANSION_LIMIT = 20
# an entity carried by more memories of the scope than this links nothing in particular
ENTITY_MAX_POSTINGS = 12
# a relation weaker than this (co-occurrence links every memory to its three nearest, however far) links
# nothing in particular; 0.3 already cut useful links on the agent benchmark's paraphrase questions
RELATION_FLOOR = 0.15
# strength of a link to the memory written next to another in one source (a transcript, a meeting, a
# split document), by distance: the turn before or after, then the one beyond it. On LoCoMo most missed
# evidence sits right next to a strong hit (a question and its answer are two turns)
SOURCE_NEIGHBOUR_STRENGTH = (0.8, 0.4)
# a relation (a cosine) or a shared entity counts this share of its strength: weaker evidence of
# relatedness than a place next to each other in one source, and at full strength it lowered recall on
# the agent benchmark at the graph weight LoCoMo's source neighbours want
INDIRECT_LINK_SHARE = 0.25
# cosine of the built-in model between two wordings of one fact's versions is 0.79-0.87 on the agent
# benchmark; unrelated chat turns rarely reach it
VERSION_SIMILARITY = 0.78
# an earlier version that scores this much above the later one is what the question is about (a rule that
# always put the later first lowered LoCoMo's open-domain recall by 0.02)
VERSION_MARGIN = 1.15
# a seed below this share of the best hit's score does not seed anything
_SEED_FLOOR = 0.5

_DATE = re.compile(
    r"\b(?:\d{4}-\d{2}-\d{2}"
    r"|(?:\d{1,2}\s+)?(?:January|February|March|April|May|June|July|August|September|October|November|December)"
    r"(?:\s+\d{1,2})?,?\s+\d{4})\b"
)
# Title-Case words that open clauses, greetings and replies in chat text: never names on their own
_NOT_NAMES = frozenset(
    "i i'm i've i'll i'd im hey hi hello thanks thank yes yeah yep no nope oh wow ok okay sure great"
    " the a an and but or so if it it's that this these those there they we you he she my our your"
    " what when where why how who which did do does is are was were will would can could should".split()
)


@dataclass(frozen=True, slots=True)
class Link:
    """One undirected link from a seed (or a first-hop memory) to another memory, with its strength in [0, 1]."""

    source: str
    target: str
    strength: float


def memory_entities(content: str) -> list[str]:
    """The entities of a memory's text, lower-cased: quoted strings, names (Title-Case runs not opening a
    sentence), numbers of three or more digits, amounts and dates; a lone stop word is never a name."""
    found = [e for e in query_entities(content) if e not in _NOT_NAMES]
    found.extend(m.group(0).lower() for m in _DATE.finditer(content))
    return list(dict.fromkeys(found))


# entities one memory is filed under for the graph stage's lookups (a long text is cut there)
MAX_POSTINGS_PER_MEMORY = 64
# the longest run of capitalised words filed by its stretches (longer ones: by their words)
MAX_NAME_WORDS = 5
_POSSESSIVE = re.compile(r"(?:'s|’s)$")


def posting_key(entity: str) -> str | None:
    """An entity as the lookups file and find it: lower-cased, without a possessive ("Tim's" is Tim); None
    for a stop word or a single character, which name nothing."""
    key = _POSSESSIVE.sub("", entity.lower())
    return key if len(key) >= 2 and key not in _NOT_NAMES else None


def lookup_keys(content: str) -> list[str]:
    """The keys a memory's entities are looked up by when it seeds the graph stage (`posting_key` of its
    `memory_entities`, stop words left out)."""
    keys = (posting_key(e) for e in memory_entities(content))
    return list(dict.fromkeys(k for k in keys if k is not None))


def posting_entities(content: str) -> list[str]:
    """The keys a memory is filed under for entity lookups (`posting_key`): its own entities
    (`memory_entities`), and every stretch of every run of capitalised words, those opening a sentence
    included (each word of a name of several words, the name without the word that opens the sentence).
    A lookup uses a seed's `lookup_keys`, so these keys find a memory wherever its text names the entity,
    as a phrase search of the text would. At most `MAX_POSTINGS_PER_MEMORY`."""
    found = memory_entities(content)
    for m in TITLE_RUN.finditer(content):
        words = m.group(0).rstrip("'-").lower().split()
        # every stretch of the run: "Ask Quinn Ortega" (a sentence opener before a name) is found as
        # "quinn ortega" too; a run longer than a name gives its words only
        spans = len(words) if len(words) <= MAX_NAME_WORDS else 1
        found.extend(" ".join(words[i : i + n]) for n in range(1, spans + 1) for i in range(len(words) - n + 1))
    keys = (posting_key(e) for e in found)
    return list(dict.fromkeys(k for k in keys if k is not None))[:MAX_POSTINGS_PER_MEMORY]


def entity_strength(postings: int) -> float:
    """Link strength through an entity that `postings` memories of the scope carry (0 when too common)."""
    if postings < 2 or postings > ENTITY_MAX_POSTINGS:
        return 0.0
    return 1.0 / (1.0 + math.log2(postings))


def source_strength(distance: int) -> float:
    """Link strength to the memory `distance` places away in one source (0 beyond the last listed)."""
    if distance < 1 or distance > len(SOURCE_NEIGHBOUR_STRENGTH):
        return 0.0
    return SOURCE_NEIGHBOUR_STRENGTH[distance - 1]


def seed_weights(ranked: Sequence[tuple[str, float]], count: int = SEED_COUNT) -> dict[str, float]:
    """The expansion's seeds: the best `count` first-stage hits scoring at least half the best one, each
    weighted by its score relative to the best."""
    if not ranked or ranked[0][1] <= 0:
        return {}
    top = ranked[0][1]
    return {mid: score / top for mid, score in ranked[:count] if score / top >= _SEED_FLOOR}


def best_paths(seeds: Mapping[str, float], links: Iterable[Link]) -> dict[str, float]:
    """Best `seed weight x strength` per memory one link from a seed, seeds included when another seed
    reaches them; scores in [0, 1]."""
    reached: dict[str, float] = {}
    for link in links:
        weight = seeds.get(link.source)
        if weight is None or link.target == link.source:
            continue
        score = weight * min(max(link.strength, 0.0), 1.0)
        if score > reached.get(link.target, 0.0):
            reached[link.target] = score
    return reached


def newest_first(
    scores: Mapping[str, float], versions: Iterable[Link], moments: Mapping[str, datetime]
) -> dict[str, float]:
    """`scores` with an earlier version placed just below its later version among the candidates, unless
    it scores `VERSION_MARGIN` times the later one or more.

    `versions` are links between candidates; those below `VERSION_SIMILARITY` or between memories of
    the same moment are ignored. A chain (v1, v2, v3) ends with v3 first, then v2, then v1.
    """
    out = dict(scores)
    pairs = []
    for link in versions:
        a, b = link.source, link.target
        if link.strength < VERSION_SIMILARITY or a not in out or b not in out or a == b:
            continue
        if moments[a] == moments[b]:
            continue
        pairs.append((a, b) if moments[a] < moments[b] else (b, a))
    # newest pairs first, so a demoted middle version passes its new place on to the older one
    pairs.sort(key=lambda p: moments[p[1]], reverse=True)
    for _ in range(3):
        changed = False
        for older, newer in pairs:
            if out[newer] <= out[older] < out[newer] * VERSION_MARGIN:
                out[older] = out[newer] * 0.999
                changed = True
        if not changed:
            break
    return out
