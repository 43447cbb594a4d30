"""Graph reads from FalkorDB: the neighbour walk (`/v1/neighbors`), filtered by the caller's scope in
the Cypher query itself, then hydrated from PostgreSQL (which checks the scope and sensitivity again)."""

from __future__ import annotations

from novamem.domain.entries import MemoryEntry
from novamem.domain.scope import ReadScope
from novamem.storage.base import Neighbor
from novamem.storage.falkordb.graphs import FalkorGraphs, scope_clause
from novamem.storage.graph_index import GraphSource

__all__ = ["FalkorGraphReader"]

# Nodes one walk may return before hydration (PostgreSQL then drops what is above the sensitivity
# ceiling and keeps k): far above any k the API allows, so hydration never runs short.
WALK_LIMIT = 1000
# One walk per depth (the API allows 1 to 3): a variable-length bound cannot be a query parameter.
_WALKS = {
    depth: (
        f"MATCH p = (s:Memory {{id: $seed}})-[:RELATES*1..{depth}]-(n:Memory)"
        " WHERE n.id <> $seed AND {scope}"
        " WITH n, reduce(acc = 1.0, r IN relationships(p) | acc * r.strength) AS score"
        " RETURN n.id, max(score) AS best ORDER BY best DESC, n.id LIMIT $limit"
    )
    for depth in (1, 2, 3)
}


class FalkorGraphReader:
    """`GraphReader` over the tenant graphs in FalkorDB; raises `Unavailable` when FalkorDB cannot answer."""

    def __init__(self, graphs: FalkorGraphs, source: GraphSource) -> None:
        self._graphs = graphs
        self._source = source

    async def neighbor_scores(self, scope: ReadScope, seed_id: str, depth: int) -> dict[str, float]:
        """Best path score of every node the scope may read within `depth` hops of the seed (undirected)."""
        where, params = scope_clause("n", scope)
        query = _WALKS[min(max(depth, 1), 3)].replace("{scope}", where)
        rows = await self._graphs.run(
            scope.tenant_id, query, {**params, "seed": seed_id, "limit": WALK_LIMIT}, read_only=True
        )
        return {str(r[0]): float(r[1]) for r in rows}

    async def neighbors(self, scope: ReadScope, seed: MemoryEntry, depth: int, k: int) -> list[Neighbor]:
        scores = await self.neighbor_scores(scope, seed.id, depth)
        return await self._source.hydrate_neighbors(scope, scores, k)
