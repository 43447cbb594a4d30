"""The graph in PostgreSQL: `memory_relations` read as the source of a derived graph (FalkorDB), the
PostgreSQL graph reads (neighbour walk, graph signal), hydration of a derived graph's answers, and the
checkpoints of `novamem reindex --graph` (`index_rebuilds`).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from psycopg import sql

from novamem.domain.entries import MemoryEntry
from novamem.domain.linking import Link, source_strength
from novamem.domain.ranking import query_entities
from novamem.domain.scope import ReadScope
from novamem.storage.base import MemoryStore, Neighbor
from novamem.storage.graph_index import GraphEdge, GraphNode, LinkQuery, LinkReads
from novamem.storage.postgres.database import Database, TextArray, map_errors
from novamem.storage.postgres.memory_table import ENTRY_COLUMNS, entry_from_row
from novamem.storage.postgres.scope_sizes import ScopeSizes
from novamem.storage.postgres.scoping import MEMBERSHIPS, owner_keys, read_filter, tenant_filter, visible_filter
from novamem.storage.postgres.statements import StatementCache

__all__ = ["PostgresGraph"]

_NODE_COLUMNS = sql.SQL(
    "e.id, e.user_id, e.project_id, e.scope_key, e.namespace, e.organization_id, e.status, e.content, {m} AS namespaces"
).format(m=MEMBERSHIPS)
_REBUILD_TARGET = "graph"
# Reading an entity's postings of the scope's owners and checking each against the scope reads, in a scope
# of n rows of owners holding t, up to t / n postings for each of the cap it keeps, for each entity looked
# up (8 a search, cap 13); reading the postings of the scope's own rows reads n rows. So a scope with
# n * n < 100 * t reads them from its rows (`ScopeSizes.narrow` within the owners). Measured at 100,000
# memories of one owner in a namespace of 200: 8 entities read 21,532 rows, 95 ms, the first way. A
# user's whole scope is never narrow within its owner (n = t): its postings are read entity by entity.
NARROW_POSTINGS_FACTOR = 100.0
# A narrow scope reads the postings of its own rows one row at a time (a short read of the entry index, about
# 3.5 us a row) up to this many rows. A larger one collects its rows once and reads each entity's postings of
# the scope's owners in entry order, keeping those of its rows up to the cap: that costs a read of the rows
# and, for an entity common among the owners' memories and rare in the scope, up to all its postings. At
# 100,000 memories of one owner, p50 of that part alone over 40 searches' entities, rows one by one against
# entity by entity: a namespace of 200 1.09 against 1.93 ms, of 1,800 6.37 against 2.56, of 3,000 13.86
# against 4.24 (the same postings each time).
ROW_POSTINGS_MAX = 500


class PostingsRead(StrEnum):
    """How the graph stage reads entity postings of a scope (see NARROW_POSTINGS_FACTOR, ROW_POSTINGS_MAX)."""

    #: each entity's postings of the scope's owners, each checked against the scope (a broad scope)
    ENTITIES = "entities"
    #: the postings of each of the scope's rows (a narrow scope of a few hundred rows)
    ROWS = "rows"
    #: each entity's postings of the scope's owners kept when they are among the scope's rows, collected once
    SCOPE_ROWS = "scope_rows"


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
        status=str(row["status"]),
        entities=tuple(query_entities(content)),
        namespaces=tuple(str(n) for n in members) if isinstance(members, list) else (),
    )


def _links_statement(
    where: sql.Composable,
    where_b: sql.Composable,
    where_all: sql.Composable,
    *,
    between: bool,
    entities: bool,
    postings_read: PostingsRead,
) -> sql.Composable:
    """`PostgresGraph.links`' statement: relations and source neighbours of the seeds, relations among the
    candidates (`between`) and entity postings (`entities`, read as `postings_read` says), over rows `e`
    (and `b`) the scope reaches: `where` and `where_b` test rows read by id, `where_all` finds the scope's
    rows (the same rows)."""
    # per seed, its strongest relations whose other end the scope may read. Each direction is cut to
    # its strongest few before the rows are read, so a memory that many others point at costs no more
    # than any other (relations join memories of one shelf, so the cut rarely drops a readable one)
    # (co-occurrence only: the dream cycle's `co_inferred` edges stand for a second hop, which was measured
    # to lower recall here; the neighbour walk follows them)
    edges = (
        "SELECT r.{far} AS other, r.strength FROM memory_relations r WHERE r.{near} = s.id"
        " AND r.tenant_id = %(s_tenant)s AND r.valid_to IS NULL AND r.relation = 'co_occurs'"
        " ORDER BY r.strength DESC LIMIT %(each_way)s"
    )
    relations = sql.SQL(
        "SELECT 'r' AS kind, s.id AS a, n.other AS b, n.strength, NULL::text AS ref, NULL::boolean AS flag"
        " FROM unnest(%(seeds)s::text[]) AS s(id),"
        " LATERAL (SELECT x.other, max(x.strength) AS strength FROM (({out}) UNION ALL ({inc})) x"
        "  JOIN memory_entries e ON e.id = x.other WHERE x.other <> s.id AND {w}"
        "  GROUP BY x.other ORDER BY strength DESC, x.other LIMIT %(fanout)s) n"
    ).format(
        out=sql.SQL(edges.format(far="to_id", near="from_id")),
        inc=sql.SQL(edges.format(far="from_id", near="to_id")),
        w=where,
    )
    between_part = sql.SQL(
        "SELECT 'b', r.from_id, r.to_id, r.strength, NULL, NULL FROM memory_relations r"
        " JOIN memory_entries e ON e.id = r.from_id JOIN memory_entries b ON b.id = r.to_id"
        " WHERE r.tenant_id = %(s_tenant)s AND r.valid_to IS NULL AND r.relation = 'co_occurs'"
        " AND r.from_id = ANY(%(pool)s::text[])"
        " AND r.to_id = ANY(%(pool)s::text[]) AND {w} AND {wb}"
    ).format(w=where, wb=where_b)
    # per seed and source: the `reach` readable members written just before it and just after it, each
    # two short reads of the (tenant, source, entry id) index
    side = (
        "SELECT o.entry_id, {before} AS before FROM memory_source_refs o JOIN memory_entries e ON e.id = o.entry_id"
        " WHERE o.tenant_id = r.tenant_id AND o.source_ref = r.source_ref AND o.entry_id {op} s.id AND {{w}}"
        " ORDER BY o.entry_id {order} LIMIT %(reach)s"
    )
    sources = sql.SQL(
        "SELECT 's', s.id, n.entry_id, NULL, r.source_ref, n.before FROM unnest(%(seeds)s::text[]) AS s(id)"
        " JOIN memory_source_refs r ON r.entry_id = s.id AND r.tenant_id = %(s_tenant)s,"
        " LATERAL (({b}) UNION ALL ({a})) n"
    ).format(
        b=sql.SQL(side.format(before="true", op="<", order="DESC")).format(w=where),
        a=sql.SQL(side.format(before="false", op=">", order="ASC")).format(w=where),
    )
    # each entity's postings (migration 0022), up to the cap of those the scope reaches: read entity by entity
    # and checked against the scope, or in a narrow scope from the scope's own rows (the first way reads
    # every posting of an entity common in the tenant and rare in the scope; see NARROW_POSTINGS_FACTOR)
    head: sql.Composable = sql.SQL("")
    postings: sql.Composable
    if postings_read is PostingsRead.SCOPE_ROWS:
        # the scope's rows once, then each entity's postings of the owners in entry order (the primary key's),
        # kept when their row is one of them, until the cap
        head = sql.SQL("WITH scope_rows AS MATERIALIZED (SELECT e.id FROM memory_entries e WHERE {w}) ").format(
            w=where_all
        )
        postings = sql.SQL(
            "SELECT 'e', q.ent, x.entry_id, NULL, NULL, NULL FROM unnest(%(ents)s::text[]) AS q(ent),"
            " LATERAL (SELECT p.entry_id FROM memory_entity_postings p WHERE p.tenant_id = %(s_tenant)s"
            "  AND p.entity = q.ent AND p.owner = ANY(%(owners)s::text[])"
            "  AND p.entry_id IN (SELECT id FROM scope_rows) ORDER BY p.entry_id LIMIT %(cap)s) x"
        )
    elif postings_read is PostingsRead.ROWS:
        postings = sql.SQL(
            "SELECT 'e', x.entity, x.entry_id, NULL, NULL, NULL FROM (SELECT p.entity, e.id AS entry_id,"
            "  row_number() OVER (PARTITION BY p.entity ORDER BY e.id) AS nth FROM memory_entries e,"
            # OFFSET 0 keeps the lookup per row (a short read of the entry index); joined, the planner read every
            # posting of the entities instead
            "  LATERAL (SELECT p.entity FROM memory_entity_postings p WHERE p.entry_id = e.id"
            "   AND p.tenant_id = %(s_tenant)s AND p.entity = ANY(%(ents)s::text[]) OFFSET 0) p WHERE {w}) x"
            " WHERE x.nth <= %(cap)s"
        ).format(w=where_all)
    else:
        # only the postings of the owners the scope reads (migration 0025): other users' memories naming the
        # entity are never read
        postings = sql.SQL(
            "SELECT 'e', q.ent, x.id, NULL, NULL, NULL FROM unnest(%(ents)s::text[]) AS q(ent),"
            " LATERAL (SELECT e.id FROM memory_entity_postings p JOIN memory_entries e ON e.id = p.entry_id"
            "  WHERE p.tenant_id = %(s_tenant)s AND p.entity = q.ent AND p.owner = ANY(%(owners)s::text[])"
            "  AND {w} LIMIT %(cap)s) x"
        ).format(w=where)
    parts: list[sql.Composable] = [relations, sources]
    if between:
        parts.append(between_part)
    if entities:
        parts.append(postings)
    return head + sql.SQL(" UNION ALL ").join(sql.SQL("({})").format(p) for p in parts)


class PostgresGraph:
    """`GraphSource`, `GraphLinks` and the PostgreSQL `GraphReader` (the walk itself is the memory store's)."""

    def __init__(self, db: Database, store: MemoryStore, scope_sizes: ScopeSizes | None = None) -> None:
        self._db = db
        self._store = store
        self._statements = StatementCache()
        # shared with the memory store's searches, which count the same scopes
        self._scope_sizes = scope_sizes or ScopeSizes()

    # ---- GraphReader -------------------------------------------------------------------------------------
    async def neighbors(self, scope: ReadScope, seed: MemoryEntry, depth: int, k: int) -> list[Neighbor]:
        """The recursive walk over `memory_relations` (see `MemoryRetrieval.neighbors`)."""
        return await self._store.neighbors(scope, seed, depth, k)

    # ---- GraphLinks --------------------------------------------------------------------------------------
    def _reachable(
        self, scope: ReadScope, alias: str = "e", *, by_id: bool = True
    ) -> tuple[sql.SQL, dict[str, object]]:
        """The scope's visible rows: tested row by row for parts that read rows by id (`by_id`), else in the
        form the indexes serve (the narrow postings read finds the scope's rows)."""
        where, params = read_filter(scope, alias, members_indexed=not by_id)
        vis, vparams = visible_filter(scope, alias)
        params.update(vparams)
        return sql.SQL(f"{where.as_string()} AND {vis.as_string()}"), params

    async def links(self, scope: ReadScope, query: LinkQuery) -> LinkReads:
        """The four kinds of link in one statement: one round trip, one connection and one plan.

        Each part reads one kind; every row says which (`kind`) in a shared shape
        (`a`, `b`, `strength`, `ref`, `flag`).
        """
        if not query.seeds:
            return LinkReads([], [], [], {})
        where, params = self._reachable(scope)
        params.update(
            seeds=TextArray(query.seeds),
            pool=TextArray(query.candidates),
            fanout=query.relation_fanout,
            each_way=2 * query.relation_fanout,
            reach=query.source_reach,
            ents=TextArray(query.entities),
            cap=query.entity_cap + 1,
            owners=TextArray(owner_keys(scope)),
        )
        where_b = self._reachable(scope, "b")[0]
        where_all = self._reachable(scope, by_id=False)[0]
        between, entities = len(query.candidates) > 1, bool(query.entities)
        with map_errors():
            async with self._db.connection() as conn:
                postings_read = PostingsRead.ENTITIES
                if entities and await self._scope_sizes.narrow(conn, scope, NARROW_POSTINGS_FACTOR, within_owners=True):
                    rows_in_scope = await self._scope_sizes.scope_rows(conn, scope)
                    postings_read = PostingsRead.ROWS if rows_in_scope < ROW_POSTINGS_MAX else PostingsRead.SCOPE_ROWS
                statement = self._statements.get(
                    ("links", where.as_string(), where_b.as_string(), between, entities, postings_read),
                    lambda: _links_statement(
                        where, where_b, where_all, between=between, entities=entities, postings_read=postings_read
                    ),
                )
                # prepared once per pooled connection, whose generic plan is kept (`PREPARED_PLANS`; planning
                # it cost about a millisecond a search): every part reads by ids or arrays, and the entities
                # arrive in an array too, so no custom plan could see a value that a generic plan misses
                cur = await conn.execute(statement, params, prepare=True)
                rows = await cur.fetchall()
        reads = LinkReads([], [], [], {})
        sides: dict[tuple[str, str, bool], list[str]] = {}
        for r in rows:
            kind, a, b = r["kind"], str(r["a"]), str(r["b"])
            if kind == "r":
                reads.relations.append(Link(a, b, float(r["strength"])))
            elif kind == "b":
                reads.between.append(Link(a, b, float(r["strength"])))
            elif kind == "s":
                sides.setdefault((a, str(r["ref"]), bool(r["flag"])), []).append(b)
            else:
                reads.postings.setdefault(a, []).append(b)
        for (source, _ref, before), targets in sides.items():
            targets.sort(reverse=before)  # nearest first on either side
            reads.sources.extend(Link(source, t, source_strength(d)) for d, t in enumerate(targets, 1))
        return reads

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
