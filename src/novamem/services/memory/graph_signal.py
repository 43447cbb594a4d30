"""The graph signal of a search: expansion from the strongest first-stage hits along the links novamem
keeps (relations, neighbours in one source, shared entities), one hop (a second hop along relations
lowered LoCoMo recall@10 from 0.752 to 0.748 and cost a round trip), scored by `domain.linking`. It
reads PostgreSQL, the source of truth for every kind of link."""

from __future__ import annotations

import asyncio
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
    memory_entities,
)
from novamem.domain.scope import ReadScope
from novamem.storage.graph_index import GraphLinks

__all__ = ["Expansion", "GraphExpansion", "expansion_cut"]

# relations read per memory on each hop; co-occurrence writes three per memory, so this keeps every one
# a memory wrote plus the strongest that point at it
RELATION_FANOUT = 6
# members of a source read on each side of a seed (as many as `source_strength` scores)
SOURCE_REACH = len(SOURCE_NEIGHBOUR_STRENGTH)
# entities read from one seed's text, and from all seeds together (best seeds first): each is one
# lookup in the full-text index
ENTITIES_PER_SEED = 4
ENTITIES_PER_SEARCH = 8
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
        ids = list(dict.fromkeys([*seeds, *candidates[:VERSION_CANDIDATES]]))
        # the three kinds of link are read at once, each on its own connection
        relations, shared_sources, shared_entities = await asyncio.gather(
            self._links.relation_links(scope, ids, RELATION_FANOUT),
            self._links.source_links(scope, list(seeds), SOURCE_REACH),
            self._entity_links(scope, list(seeds), contents),
        )
        relations = [link for link in relations if link.strength >= RELATION_FLOOR]
        pool = set(ids)
        between = [link for link in relations if link.target in pool]
        indirect = [link for link in relations if link.source in seeds] + shared_entities
        first = shared_sources + [Link(i.source, i.target, i.strength * INDIRECT_LINK_SHARE) for i in indirect]
        return Expansion(best_paths(seeds, first), between)

    async def _entity_links(self, scope: ReadScope, ids: Sequence[str], contents: Mapping[str, str]) -> list[Link]:
        carried = {i: memory_entities(contents.get(i, ""))[:ENTITIES_PER_SEED] for i in ids}
        wanted = list(dict.fromkeys(e for ents in carried.values() for e in ents))[:ENTITIES_PER_SEARCH]
        postings = await self._links.entity_postings(scope, wanted, ENTITY_MAX_POSTINGS)
        links: list[Link] = []
        for source, ents in carried.items():
            for entity in ents:
                members = postings.get(entity, [])
                strength = entity_strength(len(members))
                if strength > 0:
                    links.extend(Link(source, m, strength) for m in members if m != source)
        return links


def expansion_cut(scores: Mapping[str, float], known: set[str]) -> list[str]:
    """The reached memories from outside the first stage worth scoring, best first."""
    fresh = [i for i in scores if i not in known]
    fresh.sort(key=lambda i: (-scores[i], i))
    return fresh[:EXPANSION_LIMIT]
