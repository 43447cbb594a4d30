"""The graph contracts: the reads that walk memory relations, what a derived graph index reads from the
source of truth, and the plain values that cross between them.

PostgreSQL (`memory_relations`) is the source of truth for edges. A derived graph engine (FalkorDB) is fed
from it through the index outbox (`storage/index_outbox.py`, target `graph`) and rebuilt from it by
`novamem reindex --graph`; its reads are hydrated from PostgreSQL, which checks the scope again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from novamem.domain.entries import MemoryEntry
from novamem.domain.linking import Link
from novamem.domain.scope import ReadScope
from novamem.storage.base import Neighbor

__all__ = [
    "DEFAULT_GRAPH_BATCH",
    "GraphEdge",
    "GraphLinks",
    "GraphNode",
    "GraphReader",
    "GraphSource",
    "GraphWriter",
    "LinkQuery",
    "LinkReads",
]

# entries per rebuild page (one PostgreSQL read and a few graph queries each)
DEFAULT_GRAPH_BATCH = 500


@dataclass(frozen=True, slots=True)
class GraphNode:
    """A memory as the graph holds it: its owner and state, and the entities named in its text."""

    id: str
    user_id: str
    project_id: str | None
    scope_key: str
    namespace: str
    organization_id: str | None
    status: str
    entities: tuple[str, ...]
    namespaces: tuple[str, ...] = ()  # every namespace the entry is a member of (its home one included)


@dataclass(frozen=True, slots=True)
class GraphEdge:
    """A live relation between two memories of one tenant (`co_occurs`, `co_inferred`, `supersedes`)."""

    from_id: str
    to_id: str
    relation: str
    strength: float


class GraphReader(Protocol):
    """Graph reads of recall: neighbour walks within a read scope."""

    async def neighbors(self, scope: ReadScope, seed: MemoryEntry, depth: int, k: int) -> list[Neighbor]:
        """Memories linked to `seed` (undirected, acyclic, up to `depth` hops), best path score each, best
        first; each is resolved in `scope` and below its sensitivity ceiling (inactive ones included)."""
        ...


class GraphWriter(Protocol):
    """The write side of a derived graph index (what a rebuild drives; the outbox uses `IndexSink.apply`)."""

    async def upsert(self, tenant_id: str, ids: Sequence[str]) -> list[str]:
        """Make the entries' nodes and outgoing edges what the source holds; returns the ids it no longer has."""
        ...

    async def delete(self, tenant_id: str, ids: Sequence[str]) -> None:
        """Remove the entries and every edge touching them (absent ones are no error)."""
        ...

    async def drop(self, tenant_id: str) -> None:
        """Delete the tenant's whole graph."""
        ...

    async def drop_others(self, tenant_ids: Sequence[str]) -> list[str]:
        """Delete this deployment's graphs of every tenant not in `tenant_ids` (the engine's other graphs
        are never touched); returns the names of the graphs dropped."""
        ...


@dataclass(frozen=True, slots=True)
class LinkQuery:
    """What the graph signal reads around a search's seeds, all in one statement.

    `seeds`: the strongest first-stage hits; `candidates`: the memories whose relations to each other are
    read (versions of one fact); `relation_fanout`: relations read per seed; `source_reach`: members of a
    source read on each side of a seed; `entities`: texts whose posting lists are read, up to
    `entity_cap + 1` memories each (`entity_cap + 1` ids mean "more than the cap").
    """

    seeds: Sequence[str]
    candidates: Sequence[str]
    relation_fanout: int
    source_reach: int
    entities: Sequence[str] = ()
    entity_cap: int = 0


@dataclass(frozen=True, slots=True)
class LinkReads:
    """The links a `LinkQuery` found.

    `relations`: each seed's strongest live `co_occurs` relations (either direction); `between`: the live
    `co_occurs` relations from one candidate to another, as written (their strength is the two texts'
    cosine when written, which tells versions of one fact apart); `sources`: for each seed and each of its source
    references, the members written just before and just after it, scored by the domain's
    `source_strength` of their distance; `postings`: the memories containing each entity as a phrase.
    """

    relations: list[Link]
    between: list[Link]
    sources: list[Link]
    postings: dict[str, list[str]]


class GraphLinks(Protocol):
    """The links the graph signal expands along, read from the source of truth within a read scope.

    Every memory a link reaches is readable by the scope and visible (active, unexpired, within the
    sensitivity ceiling); links never pass through a memory the scope cannot read.
    """

    async def links(self, scope: ReadScope, query: LinkQuery) -> LinkReads:
        """Every kind of link around the query's seeds, read in one round trip."""
        ...


class GraphSource(Protocol):
    """What a derived graph reads from the source of truth, and where its rebuilds resume."""

    async def graph_nodes(self, tenant_id: str, ids: Sequence[str]) -> list[GraphNode]:
        """The nodes of the entries of `ids` that exist in the tenant (absent ids are simply missing)."""
        ...

    async def graph_edges(self, tenant_id: str, ids: Sequence[str]) -> tuple[list[GraphEdge], list[GraphNode]]:
        """The live edges leaving the entries of `ids`, and the nodes at their other ends."""
        ...

    async def graph_entry_ids(self, tenant_id: str, after_id: str | None, limit: int) -> list[str]:
        """The tenant's entry ids after `after_id` (None: from the start), in id order."""
        ...

    async def graph_tenants(self) -> list[str]:
        """Every tenant that has memories."""
        ...

    async def hydrate_neighbors(self, scope: ReadScope, scores: dict[str, float], k: int) -> list[Neighbor]:
        """The entries of `scores` the scope may read (sensitivity ceiling applied; any state), best first
        (score, then id), at most `k`."""
        ...

    async def rebuild_checkpoint(self, index_name: str) -> tuple[bool, str | None]:
        """Whether a rebuild of `index_name` is under way, and the last entry id it finished."""
        ...

    async def save_checkpoint(self, index_name: str, last_id: str | None) -> None:
        """Record that a rebuild of `index_name` finished every entry up to `last_id` (None: just started)."""
        ...

    async def clear_checkpoint(self, index_name: str) -> None:
        """Forget the checkpoint of a finished rebuild."""
        ...
