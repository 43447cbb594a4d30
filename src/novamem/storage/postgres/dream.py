"""PostgreSQL side of the dream cycle: the walk cursor in `engine_state`, nearest-neighbour pairs through
the HNSW index, merges in one transaction, and `co_inferred` edge promotion in one statement.

Mergeable entries are active, have no expiry (a TTL is an explicit lifetime a merge must not change) and
carry a vector of the active model. Superseded and deprecated entries are kept for provenance and never
merged. Derived indexes follow through the index outbox: deleting a loser queues its `delete` (trigger,
as for a forget), a survivor whose memberships or tier change queues its `upsert` (trigger), and every
entry whose outgoing edges changed is queued for the graph target here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import AsyncConnection, sql

from novamem.domain.dream import (
    INFERRED_BASE,
    INFERRED_MAX,
    INFERRED_MIN_SHARED,
    INFERRED_NEIGHBOUR_CAP,
    INFERRED_PER_SHARED,
    DreamCandidate,
    Merge,
)
from novamem.domain.scope import WriteTarget
from novamem.errors import Unavailable
from novamem.storage.base import VectorSpace
from novamem.storage.dream import DREAM_CURSOR_KEY
from novamem.storage.postgres.database import Database, map_errors
from novamem.storage.postgres.memory_table import embedded_by, vector_column
from novamem.storage.postgres.scoping import MEMBERSHIPS, target_filter

__all__ = ["PostgresDreamStore", "claim_walk"]

Conn = AsyncConnection[dict[str, Any]]

# neighbour searches sent in one pipeline
_PIPELINE = 500
# nearest rows read per wanted neighbour, before the rest of the mergeable test is applied to them
_OVERFETCH = 4
# merges per transaction (few locks held at a time), and how often one that lost a deadlock is tried
_MERGE_CHUNK = 100
_DEADLOCK_ATTEMPTS = 3
_DEADLOCK_BACKOFF_S = 0.05

# relations that mean the same read either way: one edge per pair, whichever direction it was written
_SYMMETRIC = "('co_occurs', 'co_inferred')"

_MERGES = "m AS (SELECT * FROM unnest(%(survivors)s::text[], %(losers)s::text[]) AS m(survivor, loser))"

_GRAPH_QUEUE = (
    "INSERT INTO index_outbox (target, tenant_id, entry_id, op) SELECT DISTINCT 'graph', q.tenant_id, q.id, 'upsert'"
    " FROM {rows} q WHERE EXISTS (SELECT 1 FROM index_targets WHERE target = 'graph')"
)

_MOVE_HITS = (
    "WITH " + _MERGES + ","
    " agg AS (SELECT m.survivor, sum(a.hits) AS hits, max(a.last_accessed) AS last"
    "  FROM m JOIN memory_access a ON a.entry_id = m.loser GROUP BY m.survivor)"
    " INSERT INTO memory_access AS x (entry_id, tenant_id, hits, last_accessed)"
    " SELECT agg.survivor, e.tenant_id, agg.hits, agg.last FROM agg JOIN memory_entries e ON e.id = agg.survivor"
    " ON CONFLICT (entry_id) DO UPDATE SET hits = x.hits + EXCLUDED.hits,"
    "  last_accessed = GREATEST(x.last_accessed, EXCLUDED.last_accessed)"
)

# every live edge touching a loser, re-pointed at the survivor(s): self-loops dropped, one edge per key (per
# unordered pair for symmetric relations; the strongest), an existing edge kept with the stronger strength;
# a loser's closed (historical) edges go with it, as a forget's do
_MOVE_EDGES = (
    "WITH " + _MERGES + ","
    " moved AS (SELECT r.tenant_id, coalesce(mf.survivor, r.from_id) AS nf, coalesce(mt.survivor, r.to_id) AS nt,"
    "  r.relation, r.strength, r.created_at, r.valid_from, r.valid_to"
    "  FROM (SELECT * FROM memory_relations WHERE from_id IN (SELECT loser FROM m) AND valid_to IS NULL"
    "   UNION SELECT * FROM memory_relations WHERE to_id IN (SELECT loser FROM m) AND valid_to IS NULL) r"
    "  LEFT JOIN m mf ON mf.loser = r.from_id LEFT JOIN m mt ON mt.loser = r.to_id),"
    " keyed AS (SELECT DISTINCT ON (k1, k2, relation) * FROM (SELECT moved.*,"
    "   CASE WHEN relation IN " + _SYMMETRIC + " THEN LEAST(nf, nt) ELSE nf END AS k1,"
    "   CASE WHEN relation IN " + _SYMMETRIC + " THEN GREATEST(nf, nt) ELSE nt END AS k2"
    "  FROM moved WHERE nf <> nt) x ORDER BY k1, k2, relation, (valid_to IS NULL) DESC, strength DESC),"
    " ins AS (INSERT INTO memory_relations (tenant_id, from_id, to_id, relation, strength, created_at, valid_from,"
    "  valid_to) SELECT k.tenant_id, k.nf, k.nt, k.relation, k.strength, k.created_at, k.valid_from, k.valid_to"
    "  FROM keyed k WHERE NOT (k.relation IN " + _SYMMETRIC + " AND EXISTS (SELECT 1 FROM memory_relations y"
    "   WHERE y.from_id = k.nt AND y.to_id = k.nf AND y.relation = k.relation))"
    "  ON CONFLICT (from_id, to_id, relation) DO UPDATE"
    "  SET strength = GREATEST(memory_relations.strength, EXCLUDED.strength)"
    "  WHERE memory_relations.valid_to IS NULL AND EXCLUDED.valid_to IS NULL"
    "  RETURNING tenant_id, from_id AS id),"
    " touched AS (SELECT tenant_id, id FROM ins UNION SELECT e.tenant_id, e.id"
    "  FROM memory_entries e JOIN m ON e.id = m.survivor)"
    " " + _GRAPH_QUEUE.format(rows="touched")
)

# the survivor becomes a member of every namespace a loser was in
_JOIN_MEMBERSHIPS = (
    "WITH " + _MERGES + ","
    " j AS (SELECT m.survivor, array_agg(DISTINCT ns) AS nss"
    "  FROM m JOIN memory_entries l ON l.id = m.loser"
    "  CROSS JOIN LATERAL unnest(CASE WHEN cardinality(l.namespaces) = 0 THEN ARRAY[l.namespace]"
    "   ELSE l.namespaces END) AS ns GROUP BY m.survivor)"
    " UPDATE memory_entries e SET namespaces = {m} || ARRAY(SELECT x FROM unnest(j.nss) AS x WHERE x <> ALL({m}))"
    " FROM j WHERE e.id = j.survivor AND NOT (j.nss <@ {m})"
)

# a cold survivor turns warm when one of its losers was warm (no cold mark)
_WARM_SURVIVORS = (
    "WITH " + _MERGES + " DELETE FROM memory_cold c USING m WHERE c.entry_id = m.survivor"
    " AND NOT EXISTS (SELECT 1 FROM memory_cold l WHERE l.entry_id = m.loser)"
)

_MOVE_REFS = (
    "WITH " + _MERGES + " INSERT INTO memory_source_refs (entry_id, tenant_id, source_ref, namespace, created_at)"
    " SELECT m.survivor, r.tenant_id, r.source_ref, r.namespace, r.created_at"
    " FROM m JOIN memory_source_refs r ON r.entry_id = m.loser ON CONFLICT DO NOTHING"
)

# the loser's row goes (its access row, edges and refs cascade; the outbox trigger queues its index
# deletes), and the change feed says where it went
_DELETE_LOSERS = (
    "WITH " + _MERGES + ","
    " gone AS (DELETE FROM memory_entries e USING m WHERE e.id = m.loser"
    "  RETURNING e.id, e.tenant_id, e.user_id, e.project_id, m.survivor)"
    " INSERT INTO memory_changes (tenant_id, user_id, project_id, entry_id, change, detail)"
    " SELECT tenant_id, user_id, project_id, id, 'deleted',"
    "  jsonb_build_object('mergedInto', survivor, 'reason', 'dream_cycle_merge') FROM gone"
)

# pairs of one owner sharing `INFERRED_MIN_SHARED` or more live `co_occurs` neighbours (either direction);
# a node counts as a shared neighbour for its `INFERRED_NEIGHBOUR_CAP` strongest neighbours only, so a hub
# adds at most cap²/2 candidate pairs
_PROMOTE = (
    "WITH adj AS (SELECT a, b, max(strength) AS strength FROM ("
    "  SELECT from_id AS a, to_id AS b, strength FROM memory_relations"
    "   WHERE relation = 'co_occurs' AND valid_to IS NULL AND from_id <> to_id"
    "  UNION ALL SELECT to_id, from_id, strength FROM memory_relations"
    "   WHERE relation = 'co_occurs' AND valid_to IS NULL AND from_id <> to_id) u GROUP BY a, b),"
    " near AS (SELECT a, b FROM (SELECT a, b, row_number() OVER (PARTITION BY b ORDER BY strength DESC, a) AS rn"
    "  FROM adj) r WHERE rn <= %(cap)s),"
    " pairs AS (SELECT x.a AS p, y.a AS q, count(*) AS shared FROM near x JOIN near y ON y.b = x.b AND x.a < y.a"
    "  GROUP BY x.a, y.a HAVING count(*) >= %(min_shared)s),"
    " ins AS (INSERT INTO memory_relations (tenant_id, from_id, to_id, relation, strength)"
    "  SELECT pe.tenant_id, pairs.p, pairs.q, 'co_inferred',"
    "   LEAST(%(base)s + pairs.shared::float8 / %(per)s, %(max)s)"
    "  FROM pairs JOIN memory_entries pe ON pe.id = pairs.p JOIN memory_entries qe ON qe.id = pairs.q"
    "  WHERE qe.tenant_id = pe.tenant_id AND qe.scope_key = pe.scope_key"
    "   AND qe.organization_id IS NOT DISTINCT FROM pe.organization_id"
    "   AND NOT EXISTS (SELECT 1 FROM memory_relations r"
    "    WHERE r.from_id = pairs.q AND r.to_id = pairs.p AND r.relation = 'co_inferred')"
    "  ON CONFLICT DO NOTHING RETURNING tenant_id, from_id AS id),"
    " queued AS (" + _GRAPH_QUEUE.format(rows="ins") + ")"
    " SELECT count(*) AS n FROM ins"
)


async def claim_walk(db: Database, key: str, walkable: sql.Composable, params: dict[str, Any], limit: int) -> list[str]:
    """The next `limit` ids of rows `e` that are `walkable` after the cursor kept in `engine_state[key]`,
    and the cursor moved past them in the same transaction, before any work on them (a row that makes the
    work fail cannot pin it). A full walk stops at its last id; a short one reached the end, so the next
    starts over."""
    with map_errors():
        async with db.connection() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO engine_state (key, value) VALUES (%(k)s, '') ON CONFLICT (key) DO NOTHING", {"k": key}
            )
            cur = await conn.execute("SELECT value FROM engine_state WHERE key = %(k)s FOR UPDATE", {"k": key})
            row = await cur.fetchone()
            cur = await conn.execute(
                sql.SQL(
                    "SELECT e.id FROM memory_entries e WHERE e.id > %(after)s AND {ok} ORDER BY e.id LIMIT %(n)s"
                ).format(ok=walkable),
                {**params, "after": row["value"] if row else "", "n": limit},
            )
            ids = [str(r["id"]) for r in await cur.fetchall()]
            await conn.execute(
                "UPDATE engine_state SET value = %(v)s, updated_at = now() WHERE key = %(k)s",
                {"k": key, "v": ids[-1] if len(ids) == limit else ""},
            )
    return ids


class PostgresDreamStore:
    """The dream cycle's reads and writes over `memory_entries` and its satellite tables; `space` is the active
    embedding model's vector space (None without an embedder: nothing is walked or merged then)."""

    def __init__(self, db: Database, space: VectorSpace | None) -> None:
        self._db = db
        self._space = space

    def _vec(self, alias: str) -> sql.Composable:
        """Row `alias`'s vector at the active dimension (the HNSW index's expression)."""
        return vector_column(self._space, alias)

    def _model_match(self, alias: str) -> sql.Composable:
        """Row `alias` was embedded by the active model (the HNSW index's predicate)."""
        return embedded_by(self._space, alias)

    def _mergeable(self, alias: str) -> sql.Composable:
        """Active, without an expiry, embedded under the active model."""
        a = sql.Identifier(alias)
        return sql.SQL(
            "{a}.status = 'active' AND {a}.expires_at IS NULL AND {a}.embedded_at IS NOT NULL AND {m}"
        ).format(a=a, m=self._model_match(alias))

    async def take_walk(self, limit: int) -> list[str]:
        if self._space is None:
            return []
        return await claim_walk(self._db, DREAM_CURSOR_KEY, self._mergeable("e"), {}, limit)

    async def neighbour_pairs(self, ids: Sequence[str], k: int) -> list[tuple[DreamCandidate, DreamCandidate, float]]:
        if self._space is None or not ids:
            return []
        pairs: list[tuple[DreamCandidate, DreamCandidate, float]] = []
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    sql.SQL(
                        "SELECT e.id, e.tenant_id, e.user_id, e.project_id, e.organization_id, e.namespace,"
                        " e.sensitivity, e.agent_name, e.content, e.created_at, coalesce(a.hits, 0) AS hits"
                        " FROM memory_entries e LEFT JOIN memory_access a ON a.entry_id = e.id"
                        " WHERE e.id = ANY(%(ids)s) AND {ok} ORDER BY e.id"
                    ).format(ok=self._mergeable("e")),
                    {"ids": list(ids)},
                )
                seeds = await cur.fetchall()
                for start in range(0, len(seeds), _PIPELINE):
                    chunk = seeds[start : start + _PIPELINE]
                    for seed, near in zip(chunk, await self._nearest(conn, chunk, k), strict=True):
                        this = DreamCandidate(seed["id"], seed["content"], int(seed["hits"]), seed["created_at"])
                        pairs.extend(
                            (this, DreamCandidate(n["id"], n["content"], int(n["hits"]), n["created_at"]), n["cosine"])
                            for n in near
                        )
        return pairs

    async def _nearest(self, conn: Conn, seeds: Sequence[dict[str, Any]], k: int) -> list[list[dict[str, Any]]]:
        """Each seed's `k` nearest mergeable neighbours in its shelf: one statement per seed, pipelined.

        The seed's vector is a scalar subquery (a constant for the planner), and the index search filters on
        the shelf alone (as write-time linking does), so every search walks the HNSW index; with the other
        conditions inside it too, the planner misjudges them as selective and measures the distance to every
        row of the shelf instead (100 ms a search at 100,000 memories, against 4 ms). The nearest
        `k × _OVERFETCH` are read and the rest of the mergeable test (active, no expiry, same sensitivity
        and agent, not the seed itself) applied to them.
        """
        # the seed's own partition; the organization is compared with IS NOT DISTINCT FROM, so seeds with and
        # without one share the statement (target_filter's clause depends on whether there is one)
        where = sql.SQL(
            "n.tenant_id = %(w_tenant)s AND n.scope_key = %(w_scope)s"
            " AND n.organization_id IS NOT DISTINCT FROM %(w_org)s"
        )
        seed_vec = sql.SQL("(SELECT s.embedding FROM memory_entries s WHERE s.id = %(id)s)::vector({d})").format(
            d=sql.Literal(self._space.dim if self._space else 0)
        )
        statement = sql.SQL(
            "SELECT near.id, near.content, near.created_at, coalesce(a.hits, 0) AS hits, near.cosine FROM"
            " (SELECT n.id, n.content, n.created_at, n.status, n.expires_at, n.sensitivity, n.agent_name,"
            "  1 - ({nv} <=> {sv}) AS cosine FROM memory_entries n WHERE {w} AND n.namespace = %(ns)s AND {nm}"
            "  ORDER BY {nv} <=> {sv} LIMIT %(fetch)s) near"
            " LEFT JOIN memory_access a ON a.entry_id = near.id"
            " WHERE near.id <> %(id)s AND near.status = 'active' AND near.expires_at IS NULL"
            " AND near.sensitivity = %(sens)s AND near.agent_name IS NOT DISTINCT FROM %(agent)s"
            " ORDER BY near.cosine DESC, near.id LIMIT %(k)s"
        ).format(nv=self._vec("n"), sv=seed_vec, w=where, nm=self._model_match("n"))
        rows = []
        for s in seeds:
            _, params = target_filter(WriteTarget(s["tenant_id"], s["user_id"], s["project_id"], s["organization_id"]))
            rows.append(
                {
                    **params,
                    "w_org": s["organization_id"],
                    "id": s["id"],
                    "ns": s["namespace"],
                    "sens": s["sensitivity"],
                    "agent": s["agent_name"],
                    "k": k,
                    "fetch": k * _OVERFETCH,
                }
            )
        found: list[list[dict[str, Any]]] = []
        async with conn.cursor() as cur:
            await cur.executemany(statement, rows, returning=True)
            async for _ in cur.results():
                found.append(list(await cur.fetchall()))
        return found

    async def apply_merges(self, merges: Sequence[Merge]) -> int:
        applied = 0
        with map_errors():
            for start in range(0, len(merges), _MERGE_CHUNK):
                chunk = merges[start : start + _MERGE_CHUNK]
                for attempt in range(1, _DEADLOCK_ATTEMPTS + 1):
                    try:
                        applied += await self._merge(chunk)
                        break
                    except Unavailable as exc:
                        # a search counting a hit on the same entries at that moment: PostgreSQL rolled this
                        # transaction back (the pool reports it as unavailable), so it is simply tried again
                        if not isinstance(exc.__cause__, psycopg.errors.DeadlockDetected):
                            raise
                        if attempt == _DEADLOCK_ATTEMPTS:
                            raise
                        await asyncio.sleep(_DEADLOCK_BACKOFF_S * attempt)
        return applied

    async def _merge(self, merges: Sequence[Merge]) -> int:
        """One transaction of merges; returns how many were still valid and applied."""
        ids = sorted({m.survivor for m in merges} | {m.loser for m in merges})
        async with self._db.connection() as conn, conn.transaction():
            # hit rows, then cold marks, then memory rows, each in id order: the order a search's hit count
            # takes the first two in
            for table in ("memory_access", "memory_cold"):
                await conn.execute(
                    sql.SQL("SELECT 1 FROM {t} WHERE entry_id = ANY(%(ids)s) ORDER BY entry_id FOR UPDATE").format(
                        t=sql.Identifier(table)
                    ),
                    {"ids": ids},
                )
            # keep only the merges whose two entries are still mergeable and still share tenant, owner and
            # home namespace
            cur = await conn.execute(
                sql.SQL(
                    "SELECT e.id, e.tenant_id, e.scope_key, e.organization_id, e.namespace, e.sensitivity,"
                    " e.agent_name, {ok} AS ok FROM memory_entries e WHERE e.id = ANY(%(ids)s)"
                    " ORDER BY e.id FOR UPDATE"
                ).format(ok=self._mergeable("e")),
                {"ids": ids},
            )
            rows = {r["id"]: r for r in await cur.fetchall()}
            valid = [m for m in merges if _still_mergeable(rows.get(m.survivor), rows.get(m.loser))]
            if not valid:
                return 0
            params = {"survivors": [m.survivor for m in valid], "losers": [m.loser for m in valid]}
            await conn.execute(_MOVE_HITS, params)
            await conn.execute(_MOVE_EDGES, params)
            await conn.execute(sql.SQL(_JOIN_MEMBERSHIPS).format(m=MEMBERSHIPS), params)
            await conn.execute(_WARM_SURVIVORS, params)
            await conn.execute(_MOVE_REFS, params)
            await conn.execute(_DELETE_LOSERS, params)
        return len(valid)

    async def promote_edges(self) -> int:
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    _PROMOTE,
                    {
                        "cap": INFERRED_NEIGHBOUR_CAP,
                        "min_shared": INFERRED_MIN_SHARED,
                        "base": INFERRED_BASE,
                        "per": float(INFERRED_PER_SHARED),
                        "max": INFERRED_MAX,
                    },
                )
                row = await cur.fetchone()
        return int(row["n"]) if row else 0


_SAME = ("tenant_id", "scope_key", "organization_id", "namespace", "sensitivity", "agent_name")


def _still_mergeable(survivor: dict[str, Any] | None, loser: dict[str, Any] | None) -> bool:
    """Both rows still exist, are mergeable and share the shelf (and sensitivity and agent) they were
    paired in."""
    if survivor is None or loser is None or not (survivor["ok"] and loser["ok"]):
        return False
    return all(survivor[c] == loser[c] for c in _SAME)
