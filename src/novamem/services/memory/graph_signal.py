"""The graph signal of a search: expansion from the strongest first-stage hits along the links novamem
keeps (relations, neighbours in one source, shared entities), one hop (a second hop along relations
lowered LoCoMo recall@10 from 0.752 to 0.748 and cost a round trip), scored by `domain.linking`. It
reads PostgreSQL, the source of truth for every kind of link."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from novamem.domain.linking import (
    ENTITY_MAX_POSTINGS,
    EXPANSION_LIMIT,
    INDIRECT_LINK_SHARE,
    RELATION_FLOOR,
    SOURCE_NEIGHBOUR_STRENGTH,
    Link,
    best_paths,
    entity_strength,
    lookup_keys,
)
from novamem.domain.scope import ReadScope
from novamem.storage.graph_index import GraphLinks, LinkQuery

__all__ = ["Expansion", "GraphExpansion", "expansion_cut"]

# relations read per memory on each hop; co-occurrence writes three per memory, so this keeps every one
# a memory wrote plus the strongest that point at it
RELATION_FANOUT = 6
# members of a source read on each side of a seed (as many as `source_strength` scores)
SOURCE_REACH = len(SOURCE_NEIGHBOUR_STRENGTH)
# entities read from one seed's text, and from all seeds together (best seeds first): each is one
# lookup of the entity postings
ENTITIES_PER_SEED = 4
ENTITIES_PER_SEARCH = 8
# a reached memory from outside the first stage is scored only with at least this graph score: a place
# next to a seed in its source (0.8 or 0.4 times the seed's weight) reaches it, a relation or an entity
# (a quarter of their strength) never does
FRESH_MIN_SCORE = 0.3
# how long an entity found too common in a scope is skipped there, and how many such findings are kept
COMMON_ENTITY_TTL_S = 300.0
COMMON_ENTITIES_KEPT = 10_000
# candidates (best first) whose relations to each other are read to tell versions of one fact apart
VERSION_CANDIDATES = 20


@dataclass(frozen=True, slots=True)
class Expansion:
    """What the graph stage found: the graph score of every memory reached from the seeds, and the
    relations between candidates (from which versions of one fact are told apart)."""

    scores: dict[str, float]
    between: list[Link]


class GraphExpansion:
    """Scores memories reachable from a search's seeds."""

    def __init__(self, links: GraphLinks) -> None:
        self._links = links
        # entities found too common in a scope (a speaker's name, the year): a lookup of one links nothing,
        # so they are skipped there for a while
        self._common: dict[tuple[ReadScope, str], float] = {}

    async def expand(
        self,
        scope: ReadScope,
        seeds: Mapping[str, float],
        contents: Mapping[str, str],
        candidates: Sequence[str],
    ) -> Expansion:
        """Graph scores from `seeds` (weights in (0, 1], texts in `contents`) and the relations among
        `candidates` (the seeds are candidates too)."""
        if not seeds:
            return Expansion({}, [])
        pool = list(dict.fromkeys([*seeds, *candidates[:VERSION_CANDIDATES]]))
        now = time.monotonic()
        # the entities each seed carries, common ones (recently found in too many memories here) left out
        carried = {
            i: [e for e in lookup_keys(contents.get(i, "")) if self._common.get((scope, e), 0.0) < now][
                :ENTITIES_PER_SEED
            ]
            for i in seeds
        }
        wanted = list(dict.fromkeys(e for ents in carried.values() for e in ents))[:ENTITIES_PER_SEARCH]
        reads = await self._links.links(
            scope,
            LinkQuery(
                seeds=list(seeds),
                candidates=pool,
                relation_fanout=RELATION_FANOUT,
                source_reach=SOURCE_REACH,
                entities=wanted,
                entity_cap=ENTITY_MAX_POSTINGS,
            ),
        )
        relations = [link for link in reads.relations if link.strength >= RELATION_FLOOR]
        indirect = relations + self._entity_links(scope, carried, reads.postings, now)
        first = reads.sources + [Link(i.source, i.target, i.strength * INDIRECT_LINK_SHARE) for i in indirect]
        return Expansion(best_paths(seeds, first), reads.between)

    def _entity_links(
        self, scope: ReadScope, carried: Mapping[str, list[str]], postings: Mapping[str, list[str]], now: float
    ) -> list[Link]:
        """Links between memories sharing an entity, weaker the more memories share it; entities found in
        more than `ENTITY_MAX_POSTINGS` memories link nothing and are remembered as common here."""
        if len(self._common) > COMMON_ENTITIES_KEPT:
            self._common = {k: until for k, until in self._common.items() if until >= now}
            if len(self._common) > COMMON_ENTITIES_KEPT:
                self._common.clear()
        for entity, members in postings.items():
            if len(members) > ENTITY_MAX_POSTINGS:
                self._common[(scope, entity)] = now + COMMON_ENTITY_TTL_S
        links: list[Link] = []
        for source, ents in carried.items():
            for entity in ents:
                members = postings.get(entity, [])
                strength = entity_strength(len(members))
                if strength > 0:
                    links.extend(Link(source, m, strength) for m in members if m != source)
        return links


def expansion_cut(scores: Mapping[str, float], known: set[str]) -> list[str]:
    """The reached memories from outside the first stage worth scoring, best first: those linked strongly
    enough to have a chance at the top (scoring them is one more statement)."""
    fresh = [i for i in scores if i not in known and scores[i] >= FRESH_MIN_SCORE]
    fresh.sort(key=lambda i: (-scores[i], i))
    return fresh[:EXPANSION_LIMIT]
