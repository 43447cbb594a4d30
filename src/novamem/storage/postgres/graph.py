"""The graph in PostgreSQL: `memory_relations` read as the source of a derived graph (FalkorDB), the
PostgreSQL graph reads (neighbour walk, graph signal), hydration of a derived graph's answers, and the
checkpoints of `novamem reindex --graph` (`index_rebuilds`).
"""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import sql

from novamem.domain.entries import MemoryEntry
from novamem.domain.ranking import query_entities
from novamem.domain.scope import ReadScope
from novamem.storage.base import MemoryStore, Neighbor
from novamem.storage.graph_index import GraphEdge, GraphNode
from novamem.storage.postgres.database import Database, map_errors
from novamem.storage.postgres.memory_table import ENTRY_COLUMNS, entry_from_row
from novamem.storage.postgres.scoping import MEMBERSHIPS, read_filter, tenant_filter

__all__ = ["PostgresGraph"]

_NODE_COLUMNS = sql.SQL(
    "e.id, e.user_id, e.project_id, e.scope_key, e.namespace, e.organization_id, e.cold, e.status, e.content,"
    " {m} AS namespaces"
).format(m=MEMBERSHIPS)
_REBUILD_TARGET = "graph"


def _node(row: dict[str, object]) -> GraphNode:
    content = str(row["content"])
    members = row["namespaces"]
    return GraphNode(
        id=str(row["id"]),
        user_id=str(row["user_id"]),
        project_id=None if row["project_id"] is None else str(row["project_id"]),
        scope_key=str(row["scope_key"]),
        namespace=str(row["namespace"]),
        organization_id=None if row["organization_id"] is None else str(row["organization_id"]),
        cold=bool(row["cold"]),
        status=str(row["status"]),
        entities=tuple(query_entities(content)),
        namespaces=tuple(str(n) for n in members) if isinstance(members, list) else (),
    )


class PostgresGraph:
    """`GraphSource` and the PostgreSQL `GraphReader` (the walk itself is the memory store's)."""

    def __init__(self, db: Database, store: MemoryStore) -> None:
        self._db = db
        self._store = store

    # ---- GraphReader -------------------------------------------------------------------------------------
    async def neighbors(self, scope: ReadScope, seed: MemoryEntry, depth: int, k: int) -> list[Neighbor]:
        """The recursive walk over `memory_relations` (see `MemoryRetrieval.neighbors`)."""
        return await self._store.neighbors(scope, seed, depth, k)

    async def links(self, scope: ReadScope, ids: Sequence[str]) -> dict[str, float]:
        """Strongest live edge from each id to another of `ids`, both ends readable by the scope."""
        if not ids:
            return {}
        where_a, params = read_filter(scope, "a")
        where_b, _ = read_filter(scope, "b")
        params["ids"] = list(ids)
        query = sql.SQL(
            "SELECT x.id, max(x.strength) AS strength FROM ("
            "  SELECT r.from_id AS id, r.to_id AS other, r.strength FROM memory_relations r"
            "   WHERE r.tenant_id = %(s_tenant)s AND r.valid_to IS NULL"
            "   AND r.from_id = ANY(%(ids)s) AND r.to_id = ANY(%(ids)s)"
            "  UNION ALL SELECT r.to_id, r.from_id, r.strength FROM memory_relations r"
            "   WHERE r.tenant_id = %(s_tenant)s AND r.valid_to IS NULL"
            "   AND r.from_id = ANY(%(ids)s) AND r.to_id = ANY(%(ids)s)) x"
            " JOIN memory_entries a ON a.id = x.id JOIN memory_entries b ON b.id = x.other"
            " WHERE x.id <> x.other AND {wa} AND {wb} GROUP BY x.id"
        ).format(wa=where_a, wb=where_b)
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(query, params)
                rows = await cur.fetchall()
        return {str(r["id"]): float(r["strength"]) for r in rows}

    # ---- GraphSource -------------------------------------------------------------------------------------
    async def graph_nodes(self, tenant_id: str, ids: Sequence[str]) -> list[GraphNode]:
        if not ids:
            return []
        where, params = tenant_filter(tenant_id)
        params["ids"] = list(ids)
        query = sql.SQL("SELECT {c} FROM memory_entries e WHERE {w} AND e.id = ANY(%(ids)s)").format(
            c=_NODE_COLUMNS, w=where
        )
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(query, params)
                rows = await cur.fetchall()
        return [_node(r) for r in rows]

    async def graph_edges(self, tenant_id: str, ids: Sequence[str]) -> tuple[list[GraphEdge], list[GraphNode]]:
        if not ids:
            return [], []
        where, params = tenant_filter(tenant_id)
        params["ids"] = list(ids)
        edges_sql = sql.SQL(
            "SELECT r.from_id, r.to_id, r.relation, r.strength FROM memory_relations r"
            " JOIN memory_entries e ON e.id = r.to_id"
            " WHERE r.from_id = ANY(%(ids)s) AND r.tenant_id = %(t_tenant)s AND r.valid_to IS NULL AND {w}"
            " ORDER BY r.from_id, r.to_id, r.relation"
        ).format(w=where)
        nodes_sql = sql.SQL(
            "SELECT {c} FROM memory_entries e WHERE {w} AND e.id IN (SELECT r.to_id FROM memory_relations r"
            " WHERE r.from_id = ANY(%(ids)s) AND r.tenant_id = %(t_tenant)s AND r.valid_to IS NULL)"
        ).format(c=_NODE_COLUMNS, w=where)
        with map_errors():
            async with self._db.connection() as conn, conn.transaction():
                await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cur = await conn.execute(edges_sql, params)
                edge_rows = await cur.fetchall()
                cur = await conn.execute(nodes_sql, params)
                node_rows = await cur.fetchall()
        edges = [
            GraphEdge(str(r["from_id"]), str(r["to_id"]), str(r["relation"]), float(r["strength"])) for r in edge_rows
        ]
        return edges, [_node(r) for r in node_rows]

    async def graph_entry_ids(self, tenant_id: str, after_id: str | None, limit: int) -> list[str]:
        where, params = tenant_filter(tenant_id)
        params.update(after=after_id, lim=limit)
        query = sql.SQL(
            "SELECT e.id FROM memory_entries e WHERE {w} AND (%(after)s::text IS NULL OR e.id > %(after)s::text)"
            " ORDER BY e.id LIMIT %(lim)s"
        ).format(w=where)
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(query, params)
                rows = await cur.fetchall()
        return [str(r["id"]) for r in rows]

    async def graph_tenants(self) -> list[str]:
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute("SELECT DISTINCT tenant_id FROM memory_entries ORDER BY tenant_id")
                rows = await cur.fetchall()
        return [str(r["tenant_id"]) for r in rows]

    async def hydrate_neighbors(self, scope: ReadScope, scores: dict[str, float], k: int) -> list[Neighbor]:
        if not scores:
            return []
        where, params = read_filter(scope, with_namespaces=False)
        params.update(ids=list(scores), s_sensitivity=scope.max_sensitivity)
        query = sql.SQL(
            "SELECT {c} FROM memory_entries e WHERE e.id = ANY(%(ids)s) AND {w} AND e.sensitivity <= %(s_sensitivity)s"
        ).format(c=ENTRY_COLUMNS, w=where)
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(query, params)
                rows = await cur.fetchall()
        found = [Neighbor(entry=entry_from_row(r), score=scores[str(r["id"])]) for r in rows]
        found.sort(key=lambda n: (-n.score, n.entry.id))
        return found[:k]

    async def rebuild_checkpoint(self, index_name: str) -> tuple[bool, str | None]:
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    "SELECT last_id FROM index_rebuilds WHERE target = %s AND index_name = %s",
                    (_REBUILD_TARGET, index_name),
                )
                row = await cur.fetchone()
        return (False, None) if row is None else (True, None if row["last_id"] is None else str(row["last_id"]))

    async def save_checkpoint(self, index_name: str, last_id: str | None) -> None:
        with map_errors():
            async with self._db.connection() as conn:
                await conn.execute(
                    "INSERT INTO index_rebuilds (target, index_name, last_id) VALUES (%s, %s, %s)"
                    " ON CONFLICT (target, index_name) DO UPDATE SET last_id = EXCLUDED.last_id, updated_at = now()",
                    (_REBUILD_TARGET, index_name, last_id),
                )

    async def clear_checkpoint(self, index_name: str) -> None:
        with map_errors():
            async with self._db.connection() as conn:
                await conn.execute(
                    "DELETE FROM index_rebuilds WHERE target = %s AND index_name = %s", (_REBUILD_TARGET, index_name)
                )
