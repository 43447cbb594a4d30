"""The FalkorDB graph sink: applies `graph` outbox items to the tenant graphs from what PostgreSQL holds.

An upsert makes the entry's `Memory` node and its outgoing edges (`RELATES` to other memories, `MENTIONS`
to `Entity` nodes) exactly what PostgreSQL holds now; an entry gone from PostgreSQL is removed like a
delete. A delete is `DETACH DELETE`, which also removes the edges other memories had to it. Every step is
idempotent, so a batch cut short by an outage is simply applied again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from novamem.storage.falkordb.graphs import FalkorGraphs
from novamem.storage.graph_index import GraphEdge, GraphNode, GraphSource
from novamem.storage.index_outbox import OutboxItem, OutboxOp, OutboxTarget

__all__ = ["FalkorGraphSink"]

_UPSERT_NODES = (
    "UNWIND $nodes AS n MERGE (m:Memory {id: n.id})"
    " SET m.user_id = n.user_id, m.project_id = n.project_id, m.scope_key = n.scope_key,"
    " m.namespace = n.namespace, m.namespaces = n.namespaces, m.organization_id = n.organization_id,"
    " m.status = n.status"
)
_MENTIONED = "UNWIND $ids AS id MATCH (:Memory {id: id})-[:MENTIONS]->(e:Entity) RETURN DISTINCT e.name"
_DROP_OUTGOING = "UNWIND $ids AS id MATCH (:Memory {id: id})-[r]->() DELETE r"
_ADD_EDGES = (
    "UNWIND $edges AS x MATCH (a:Memory {id: x.from_id}), (b:Memory {id: x.to_id})"
    " CREATE (a)-[:RELATES {relation: x.relation, strength: x.strength}]->(b)"
)
_ADD_MENTIONS = (
    "UNWIND $mentions AS x MATCH (a:Memory {id: x.id}) MERGE (e:Entity {name: x.name}) CREATE (a)-[:MENTIONS]->(e)"
)
_DELETE_NODES = "UNWIND $ids AS id MATCH (m:Memory {id: id}) DETACH DELETE m"
_DROP_ORPHANS = "UNWIND $names AS name MATCH (e:Entity {name: name}) WHERE NOT (e)<-[:MENTIONS]-() DELETE e"


def _node_params(node: GraphNode) -> dict[str, Any]:
    return {
        "id": node.id,
        "user_id": node.user_id,
        "project_id": node.project_id,
        "scope_key": node.scope_key,
        "namespace": node.namespace,
        "namespaces": list(node.namespaces or (node.namespace,)),
        "organization_id": node.organization_id,
        "status": node.status,
    }


def _edge_params(edge: GraphEdge) -> dict[str, Any]:
    return {"from_id": edge.from_id, "to_id": edge.to_id, "relation": edge.relation, "strength": edge.strength}


class FalkorGraphSink:
    """`IndexSink` for target `graph`: keeps one FalkorDB graph per tenant in step with PostgreSQL."""

    target: str = OutboxTarget.GRAPH.value

    def __init__(self, graphs: FalkorGraphs, source: GraphSource) -> None:
        self._graphs = graphs
        self._source = source

    async def apply(self, items: Sequence[OutboxItem]) -> None:
        """Apply a batch, tenant by tenant: upserts first (read from PostgreSQL now), then deletes.

        Raises `Unavailable` when FalkorDB (or PostgreSQL) cannot answer; the batch is then retried whole.
        """
        by_tenant: dict[str, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
        for item in items:
            if item.target != self.target:
                continue
            upserts, deletes = by_tenant[item.tenant_id]
            (deletes if item.op == OutboxOp.DELETE.value else upserts).append(item.entry_id)
        for tenant_id, (upserts, deletes) in by_tenant.items():
            gone = await self.upsert(tenant_id, list(dict.fromkeys(upserts)))
            await self.delete(tenant_id, list(dict.fromkeys([*deletes, *gone])))

    async def upsert(self, tenant_id: str, ids: Sequence[str]) -> list[str]:
        """Make the entries' nodes and outgoing edges what PostgreSQL holds; returns the ids it no longer has."""
        if not ids:
            return []
        nodes = await self._source.graph_nodes(tenant_id, ids)
        present = [n.id for n in nodes]
        if not present:
            return list(ids)
        edges, targets = await self._source.graph_edges(tenant_id, present)
        merged = {n.id: n for n in [*targets, *nodes]}
        old = await self._graphs.run(tenant_id, _MENTIONED, {"ids": present})
        mentions = [{"id": n.id, "name": name} for n in nodes for name in n.entities]
        stale = sorted({str(row[0]) for row in old} - {m["name"] for m in mentions})
        await self._graphs.run_many(
            tenant_id,
            [
                (_UPSERT_NODES, {"nodes": [_node_params(n) for n in merged.values()]}),
                (_DROP_OUTGOING, {"ids": present}),
                (_ADD_EDGES, {"edges": [_edge_params(e) for e in edges]}),
                (_ADD_MENTIONS, {"mentions": mentions}),
                (_DROP_ORPHANS, {"names": stale}),
            ],
        )
        found = set(present)
        return [i for i in ids if i not in found]

    async def delete(self, tenant_id: str, ids: Sequence[str]) -> None:
        """Remove the entries' nodes with every edge touching them, and entities no memory mentions any more."""
        if not ids:
            return
        mentioned = await self._graphs.run(tenant_id, _MENTIONED, {"ids": list(ids)})
        await self._graphs.run_many(
            tenant_id,
            [
                (_DELETE_NODES, {"ids": list(ids)}),
                (_DROP_ORPHANS, {"names": sorted({str(row[0]) for row in mentioned})}),
            ],
        )

    async def drop(self, tenant_id: str) -> None:
        """Delete the tenant's whole graph (the start of a rebuild)."""
        await self._graphs.drop(tenant_id)

    async def drop_others(self, tenant_ids: Sequence[str]) -> list[str]:
        """Delete the graphs of every other tenant (the end of a rebuild of every tenant); returns their names."""
        return await self._graphs.drop_others(tenant_ids)

    async def healthy(self) -> bool:
        """Whether FalkorDB answers now."""
        return await self._graphs.healthy()
