"""PostgreSQL side of fact consolidation: the fact walk cursor in `engine_state`, clusters of near facts through
the HNSW index, and retiring outdated facts in one transaction per judged batch.

A fact is a `memory_entries` row with `source_type = 'fact'` (LLM fact extraction). It takes part while it is
active (status `active`, no truthy `metadata.fact_inactive`, unexpired) and carries a vector of the active
model. Retiring one sets its status to `superseded` (so searches, recall and context no longer return it; the
outbox trigger queues its index upserts), merges the provenance keys into its metadata, writes the change
feed's `superseded` event and a `supersedes` edge from the fact that replaces it (queued for the graph target).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection, sql

from novamem.domain.entries import iso, now_utc
from novamem.domain.fact_consolidation import SUPERSEDED_VIA, FactMember, Supersession
from novamem.domain.facts import FACT_SOURCE_TYPE
from novamem.domain.scope import WriteTarget
from novamem.storage.base import VectorSpace
from novamem.storage.fact_consolidation import FACT_CURSOR_KEY
from novamem.storage.postgres.database import Database, map_errors
from novamem.storage.postgres.dream import claim_walk
from novamem.storage.postgres.memory_table import embedded_by, vector_column
from novamem.storage.postgres.scoping import target_filter

__all__ = ["PostgresFactConsolidationStore"]

Conn = AsyncConnection[dict[str, Any]]

# neighbour searches sent in one pipeline
_PIPELINE = 500
# nearest rows of the shelf read per search (HNSW's default `ef_search` returns at most 40), before the fact
# test is applied to them
_FETCH = 40

_ACTIVE_FACT = (
    "{a}.source_type = %(stype)s AND {a}.status = 'active' AND ({a}.expires_at IS NULL OR {a}.expires_at > now())"
    " AND ({a}.metadata -> 'fact_inactive') IS DISTINCT FROM 'true'::jsonb"
)

# the valid pairs, retired together: the superseded row and its replacement are joined again here, so a fact
# can never be retired in favour of one of another tenant, owner or organization whatever the caller passed
_SUPERSEDE = (
    "WITH p AS (SELECT * FROM unnest(%(old)s::text[], %(by)s::text[]) AS p(old, by)),"
    " s AS (UPDATE memory_entries e SET status = 'superseded', updated_at = now(),"
    "  metadata = e.metadata || jsonb_build_object('fact_inactive', true, 'superseded_at', %(at)s::text,"
    "   'superseded_by', p.by, 'superseded_via', %(via)s::text)"
    "  FROM p JOIN memory_entries b ON b.id = p.by"
    "  WHERE e.id = p.old AND b.tenant_id = e.tenant_id AND b.scope_key = e.scope_key"
    "   AND b.organization_id IS NOT DISTINCT FROM e.organization_id"
    "  RETURNING e.id, e.tenant_id, e.user_id, e.project_id, p.by),"
    " logged AS (INSERT INTO memory_changes (tenant_id, user_id, project_id, entry_id, change, detail)"
    "  SELECT tenant_id, user_id, project_id, id, 'superseded',"
    "   jsonb_build_object('supersededBy', by, 'reason', %(via)s::text) FROM s),"
    " edges AS (INSERT INTO memory_relations (tenant_id, from_id, to_id, relation, strength)"
    "  SELECT tenant_id, by, id, 'supersedes', 1.0 FROM s ON CONFLICT (from_id, to_id, relation) DO NOTHING"
    "  RETURNING tenant_id, from_id AS id),"
    " queued AS (INSERT INTO index_outbox (target, tenant_id, entry_id, op)"
    "  SELECT DISTINCT 'graph', q.tenant_id, q.id, 'upsert' FROM edges q"
    "  WHERE EXISTS (SELECT 1 FROM index_targets WHERE target = 'graph'))"
    " SELECT count(*) AS n FROM s"
)

_SAME = ("tenant_id", "scope_key", "organization_id", "sensitivity", "agent_name")


class PostgresFactConsolidationStore:
    """Fact consolidation's reads and writes over `memory_entries`; `space` is the active embedding model's
    vector space (None without an embedder: facts carry no vectors then, and nothing is walked)."""

    def __init__(self, db: Database, space: VectorSpace | None) -> None:
        self._db = db
        self._space = space

    def _vec(self, alias: str) -> sql.Composable:
        """Row `alias`'s vector at the active dimension (the HNSW index's expression)."""
        return vector_column(self._space, alias)

    def _model_match(self, alias: str) -> sql.Composable:
        """Row `alias` was embedded by the active model (the HNSW index's predicate)."""
        return embedded_by(self._space, alias)

    def _walkable(self, alias: str) -> sql.Composable:
        """An active fact embedded under the active model."""
        return sql.SQL(_ACTIVE_FACT + " AND {a}.embedded_at IS NOT NULL AND {m}").format(
            a=sql.Identifier(alias), m=self._model_match(alias)
        )

    async def take_fact_walk(self, limit: int) -> list[str]:
        if self._space is None:
            return []
        return await claim_walk(self._db, FACT_CURSOR_KEY, self._walkable("e"), {"stype": FACT_SOURCE_TYPE}, limit)

    async def fact_clusters(self, ids: Sequence[str], k: int, min_cosine: float) -> list[list[FactMember]]:
        if self._space is None or not ids:
            return []
        clusters: list[list[FactMember]] = []
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    sql.SQL(
                        "SELECT e.id, e.tenant_id, e.user_id, e.project_id, e.organization_id, e.sensitivity,"
                        " e.agent_name, e.content, e.created_at FROM memory_entries e"
                        " WHERE e.id = ANY(%(ids)s) AND {ok} ORDER BY e.id"
                    ).format(ok=self._walkable("e")),
                    {"ids": list(ids), "stype": FACT_SOURCE_TYPE},
                )
                seeds = await cur.fetchall()
                for start in range(0, len(seeds), _PIPELINE):
                    chunk = seeds[start : start + _PIPELINE]
                    for seed, near in zip(chunk, await self._nearest(conn, chunk, k, min_cosine), strict=True):
                        clusters.append(
                            [
                                FactMember(seed["id"], seed["content"], seed["created_at"]),
                                *(FactMember(n["id"], n["content"], n["created_at"]) for n in near),
                            ]
                        )
        return clusters

    async def _nearest(
        self, conn: Conn, seeds: Sequence[dict[str, Any]], k: int, min_cosine: float
    ) -> list[list[dict[str, Any]]]:
        """Each seed's `k` nearest active facts in its shelf at `min_cosine` or more, in seed order. Seeds of an
        organization and the others go in separate pipelines: their shelf clauses differ (`= org` / `IS NULL`)."""
        found: dict[str, list[dict[str, Any]]] = {}
        for in_org in (False, True):
            group = [s for s in seeds if (s["organization_id"] is not None) == in_org]
            if group:
                found.update(zip((s["id"] for s in group), await self._search(conn, group, k, min_cosine), strict=True))
        return [found[s["id"]] for s in seeds]

    async def _search(
        self, conn: Conn, seeds: Sequence[dict[str, Any]], k: int, min_cosine: float
    ) -> list[list[dict[str, Any]]]:
        """`_nearest` for seeds that all have an organization or all have none: one statement per seed,
        pipelined.

        As in the dedup walk, the index search filters on the shelf alone, with the seed's vector as a scalar
        subquery, so it walks the HNSW index instead of measuring every row of the shelf; the nearest `_FETCH`
        rows are read and the fact test (an active fact, same sensitivity and agent) applied to them.
        """
        first = seeds[0]
        where, _ = target_filter(
            WriteTarget(first["tenant_id"], first["user_id"], first["project_id"], first["organization_id"]), "n"
        )
        seed_vec = sql.SQL("(SELECT s.embedding FROM memory_entries s WHERE s.id = %(id)s)::vector({d})").format(
            d=sql.Literal(self._space.dim if self._space else 0)
        )
        statement = sql.SQL(
            "SELECT near.id, near.content, near.created_at FROM"
            " (SELECT n.id, n.content, n.created_at, n.status, n.expires_at, n.metadata, n.source_type,"
            "  n.sensitivity, n.agent_name, 1 - ({nv} <=> {sv}) AS cosine FROM memory_entries n WHERE {w} AND {nm}"
            "  ORDER BY {nv} <=> {sv} LIMIT %(fetch)s) near"
            " WHERE near.id <> %(id)s AND {fact} AND near.cosine >= %(min)s"
            " AND near.sensitivity = %(sens)s AND near.agent_name IS NOT DISTINCT FROM %(agent)s"
            " ORDER BY near.cosine DESC, near.id LIMIT %(k)s"
        ).format(
            nv=self._vec("n"),
            sv=seed_vec,
            w=where,
            nm=self._model_match("n"),
            fact=sql.SQL(_ACTIVE_FACT).format(a=sql.Identifier("near")),
        )
        rows = []
        for s in seeds:
            _, params = target_filter(WriteTarget(s["tenant_id"], s["user_id"], s["project_id"], s["organization_id"]))
            rows.append(
                {
                    **params,
                    "id": s["id"],
                    "stype": FACT_SOURCE_TYPE,
                    "sens": s["sensitivity"],
                    "agent": s["agent_name"],
                    "min": min_cosine,
                    "k": k,
                    "fetch": _FETCH,
                }
            )
        found: list[list[dict[str, Any]]] = []
        async with conn.cursor() as cur:
            await cur.executemany(statement, rows, returning=True)
            async for _ in cur.results():
                found.append(list(await cur.fetchall()))
        return found

    async def supersede(self, supersessions: Sequence[Supersession]) -> int:
        if not supersessions:
            return 0
        ids = sorted({s.superseded for s in supersessions} | {s.by for s in supersessions})
        with map_errors():
            async with self._db.connection() as conn, conn.transaction():
                # lock both sides of every pair, in id order, and read what they are now
                cur = await conn.execute(
                    sql.SQL(
                        "SELECT e.id, e.tenant_id, e.scope_key, e.organization_id, e.sensitivity, e.agent_name,"
                        " {ok} AS ok FROM memory_entries e WHERE e.id = ANY(%(ids)s) ORDER BY e.id FOR UPDATE"
                    ).format(ok=sql.SQL(_ACTIVE_FACT).format(a=sql.Identifier("e"))),
                    {"ids": ids, "stype": FACT_SOURCE_TYPE},
                )
                rows = {r["id"]: r for r in await cur.fetchall()}
                valid = _still_valid(supersessions, rows)
                if not valid:
                    return 0
                cur = await conn.execute(
                    _SUPERSEDE,
                    {
                        "old": [s.superseded for s in valid],
                        "by": [s.by for s in valid],
                        "at": iso(now_utc()),
                        "via": SUPERSEDED_VIA,
                    },
                )
                row = await cur.fetchone()
        return int(row["n"]) if row else 0


def _still_valid(supersessions: Sequence[Supersession], rows: dict[str, dict[str, Any]]) -> list[Supersession]:
    """The pairs to apply, in order: both still active facts of one shelf, and neither retired by an earlier
    pair of this call (so "a by b" and "b by a" never both apply)."""
    retired: set[str] = set()
    valid: list[Supersession] = []
    for s in supersessions:
        old, new = rows.get(s.superseded), rows.get(s.by)
        if old is None or new is None or not (old["ok"] and new["ok"]) or s.superseded == s.by:
            continue
        if s.superseded in retired or s.by in retired or any(old[c] != new[c] for c in _SAME):
            continue
        retired.add(s.superseded)
        valid.append(s)
    return valid
