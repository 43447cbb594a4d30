"""The graph in PostgreSQL: `memory_relations` read as the source of a derived graph (FalkorDB), the
PostgreSQL graph reads (neighbour walk, graph signal), hydration of a derived graph's answers, and the
checkpoints of `novamem reindex --graph` (`index_rebuilds`).
"""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import sql

from novamem.domain.entries import MemoryEntry
from novamem.domain.linking import Link, source_strength
from novamem.domain.ranking import query_entities
from novamem.domain.scope import ReadScope
from novamem.storage.base import MemoryStore, Neighbor
from novamem.storage.graph_index import GraphEdge, GraphNode
from novamem.storage.postgres.database import Database, map_errors
from novamem.storage.postgres.memory_table import ENTRY_COLUMNS, entry_from_row
from novamem.storage.postgres.scoping import MEMBERSHIPS, read_filter, tenant_filter, visible_filter

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
    """`GraphSource`, `GraphLinks` and the PostgreSQL `GraphReader` (the walk itself is the memory store's)."""

    def __init__(self, db: Database, store: MemoryStore) -> None:
        self._db = db
        self._store = store

    # ---- GraphReader -------------------------------------------------------------------------------------
    async def neighbors(self, scope: ReadScope, seed: MemoryEntry, depth: int, k: int) -> list[Neighbor]:
        """The recursive walk over `memory_relations` (see `MemoryRetrieval.neighbors`)."""
        return await self._store.neighbors(scope, seed, depth, k)

    # ---- GraphLinks --------------------------------------------------------------------------------------
    def _reachable(self, scope: ReadScope, alias: str = "e") -> tuple[sql.Composed, dict[str, object]]:
        where, params = read_filter(scope, alias)
        vis, vparams = visible_filter(scope, alias)
        params.update(vparams)
        return sql.SQL("{w} AND {v}").format(w=where, v=vis), params

    async def relation_links(self, scope: ReadScope, ids: Sequence[str], fanout: int) -> list[Link]:
        if not ids:
            return []
        where, params = self._reachable(scope)
        params.update(ids=list(ids), fanout=fanout, each_way=2 * fanout)
        # per seed, its strongest relations whose other end the scope may read. Each direction is cut to
        # its strongest few before the rows are read, so a memory that many others point at costs no more
        # than any other (relations join memories of one shelf, so the cut rarely drops a readable one)
        edges = (
            "SELECT r.{far} AS other, r.strength FROM memory_relations r WHERE r.{near} = s.id"
            " AND r.tenant_id = %(s_tenant)s AND r.valid_to IS NULL ORDER BY r.strength DESC LIMIT %(each_way)s"
        )
        query = sql.SQL(
            "SELECT s.id AS source, n.other AS target, n.strength FROM unnest(%(ids)s::text[]) AS s(id),"
            " LATERAL (SELECT x.other, max(x.strength) AS strength FROM (({out}) UNION ALL ({inc})) x"
            "  JOIN memory_entries e ON e.id = x.other WHERE x.other <> s.id AND {w}"
            "  GROUP BY x.other ORDER BY strength DESC, x.other LIMIT %(fanout)s) n"
        ).format(
            out=sql.SQL(edges.format(far="to_id", near="from_id")),
            inc=sql.SQL(edges.format(far="from_id", near="to_id")),
            w=where,
        )
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(query, params)
                rows = await cur.fetchall()
        return [Link(str(r["source"]), str(r["target"]), float(r["strength"])) for r in rows]

    async def relations_between(self, scope: ReadScope, ids: Sequence[str]) -> list[Link]:
        if len(ids) < 2:
            return []
        where_a, params = self._reachable(scope)
        params["ids"] = list(ids)
        query = sql.SQL(
            "SELECT r.from_id, r.to_id, r.strength FROM memory_relations r JOIN memory_entries e ON e.id = r.from_id"
            " JOIN memory_entries b ON b.id = r.to_id"
            " WHERE r.tenant_id = %(s_tenant)s AND r.valid_to IS NULL AND r.from_id = ANY(%(ids)s)"
            " AND r.to_id = ANY(%(ids)s) AND {w} AND {wb}"
        ).format(w=where_a, wb=self._reachable(scope, "b")[0])
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(query, params)
                rows = await cur.fetchall()
        return [Link(str(r["from_id"]), str(r["to_id"]), float(r["strength"])) for r in rows]

    async def source_links(self, scope: ReadScope, ids: Sequence[str], reach: int) -> list[Link]:
        if not ids:
            return []
        where, params = self._reachable(scope)
        params.update(ids=list(ids), reach=reach)
        # per seed and source: the `reach` readable members written just before it and just after it, each
        # two short reads of the (tenant, source, entry id) index
        side = (
            "SELECT o.entry_id, {before} AS before FROM memory_source_refs o JOIN memory_entries e ON e.id = o.entry_id"
            " WHERE o.tenant_id = r.tenant_id AND o.source_ref = r.source_ref AND o.entry_id {op} s.id AND {{w}}"
            " ORDER BY o.entry_id {order} LIMIT %(reach)s"
        )
        query = sql.SQL(
            "SELECT s.id AS source, r.source_ref, n.entry_id AS target, n.before FROM unnest(%(ids)s::text[]) AS s(id)"
            " JOIN memory_source_refs r ON r.entry_id = s.id AND r.tenant_id = %(s_tenant)s,"
            " LATERAL (({b}) UNION ALL ({a})) n"
        ).format(
            b=sql.SQL(side.format(before="true", op="<", order="DESC")).format(w=where),
            a=sql.SQL(side.format(before="false", op=">", order="ASC")).format(w=where),
        )
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(query, params)
                rows = await cur.fetchall()
        sides: dict[tuple[str, str, bool], list[str]] = {}
        for r in rows:
            sides.setdefault((str(r["source"]), str(r["source_ref"]), bool(r["before"])), []).append(str(r["target"]))
        links: list[Link] = []
        for (source, _ref, before), targets in sides.items():
            targets.sort(reverse=before)  # nearest first on either side
            links.extend(Link(source, t, source_strength(d)) for d, t in enumerate(targets, 1))
        return links

    async def entity_postings(self, scope: ReadScope, entities: Sequence[str], cap: int) -> dict[str, list[str]]:
        if not entities:
            return {}
        where, params = self._reachable(scope)
        params.update(ents=list(entities), cap=cap + 1)
        query = sql.SQL(
            "SELECT q.ent, x.id FROM unnest(%(ents)s::text[]) AS q(ent),"
            " LATERAL (SELECT e.id FROM memory_entries e"
            "  WHERE e.tsv @@ phraseto_tsquery('english', q.ent) AND {w} LIMIT %(cap)s) x"
        ).format(w=where)
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(query, params)
                rows = await cur.fetchall()
        postings: dict[str, list[str]] = {}
        for r in rows:
            postings.setdefault(str(r["ent"]), []).append(str(r["id"]))
        return postings

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
