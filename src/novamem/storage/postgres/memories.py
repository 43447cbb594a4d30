"""PostgreSQL memory store: entries, keyword and vector candidates, source refs and graph edges."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, sql

from novamem.domain.entries import (
    EntryDraft,
    LifecycleStatus,
    MemoryEntry,
)
from novamem.domain.scope import ReadScope, WriteTarget
from novamem.storage.base import (
    AccessCount,
    BrowseFilter,
    KeywordHits,
    NamespaceCounts,
    Neighbor,
    OwedEmbedding,
    VectorSpace,
)
from novamem.storage.postgres.database import Database
from novamem.storage.postgres.scoping import read_filter, target_filter, visible_filter

__all__ = ["PostgresMemoryStore"]

log = logging.getLogger("novamem.storage")

_COLUMNS = sql.SQL(
    "e.id, e.tenant_id, e.user_id, e.project_id, e.namespace, e.content, e.source, e.agent_name,"
    " e.metadata, e.cold, e.source_type, e.captured_from, e.confidence, e.created_at, e.updated_at,"
    " e.embedded_at, e.status, e.expires_at, e.content_hash"
)

Conn = AsyncConnection[dict[str, Any]]


def _logged_delete(where: sql.Composable, change: str) -> sql.Composed:
    """Delete the rows matching `where` and write one change-feed row per deleted entry, in one statement.

    The change feed has no foreign key to the entries, so these rows outlive what they describe.
    """
    return sql.SQL(
        "WITH gone AS (DELETE FROM memory_entries e WHERE {w} RETURNING e.id, e.tenant_id, e.user_id, e.project_id),"
        " logged AS (INSERT INTO memory_changes (tenant_id, user_id, project_id, entry_id, change)"
        "  SELECT tenant_id, user_id, project_id, id, {c} FROM gone)"
        " SELECT id, tenant_id FROM gone"
    ).format(w=where, c=sql.Literal(change))


_LOG_CREATED = (
    "INSERT INTO memory_changes (tenant_id, user_id, project_id, entry_id, change, detail)"
    " VALUES (%(tenant)s, %(user)s, %(project)s, %(id)s, 'created', jsonb_build_object('source', %(source)s::text))"
)


def vector_text(vec: Sequence[float]) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in vec) + "]"


def _entry(row: dict[str, Any]) -> MemoryEntry:
    return MemoryEntry(
        id=row["id"],
        tenant_id=row["tenant_id"],
        user_id=row["user_id"],
        project_id=row["project_id"],
        namespace=row["namespace"],
        content=row["content"],
        source=row["source"],
        agent_name=row["agent_name"],
        metadata=row["metadata"] or {},
        cold=row["cold"],
        source_type=row["source_type"],
        captured_from=row["captured_from"],
        confidence=row["confidence"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        embedded=row["embedded_at"] is not None,
        status=LifecycleStatus(row["status"]),
        expires_at=row["expires_at"],
    )


# BM25 over the english tsvector; k1 and b are the Lucene/Anserini defaults, which suit short texts.
BM25_K1 = 0.9
BM25_B = 0.4
MAX_QUERY_TERMS = 32
# Most rows one keyword branch reads. Below it (the usual case) BM25 statistics are exact within the
# scope; a broad query over a very large scope is scored on a bounded share of its matches (plus the
# rows matching every term), which keeps latency flat as the store grows.
KEYWORD_POOL = 1000
# N, the scope size in IDF, is counted up to this many rows, and reused for a while per scope (IDF
# barely moves when a scope grows by a few rows).
SCOPE_COUNT_CAP = 10000
SCOPE_SIZE_TTL_S = 30.0
SCOPE_SIZE_CACHE_ENTRIES = 4096

# A lexeme as a one-term tsquery literal: quoted, with quotes and backslashes escaped.
_LEX_QUERY = sql.SQL(r"('''' || replace(replace(lex, '\', '\\'), '''', '''''') || '''')")


def _bm25_term(weight: str, length: str) -> sql.Composable:
    """One matching term's BM25 contribution with tf = 1 (`@@` tells presence, not counts).

    idf * (k1 + 1) / (1 + k1 * (1 - b + b * |d| / avgdl)), with |d| the row's distinct lexemes.
    """
    return sql.SQL("{w} * (%(k1)s + 1) / (1 + %(k1)s * (1 - %(b)s + %(b)s * {n} / greatest(stats.avgdl, 1)))").format(
        w=sql.SQL(weight), n=sql.SQL(length)
    )


def _bm25_ctes(where: sql.Composable, vis: sql.Composable, *, known_n: bool) -> sql.Composable:
    """CTEs `terms`, `tq`, `pool`, `hits`, `stats`, `idf` and `kw` (the top `%(lim)s` ids by BM25, with scores).

    Document frequencies are counted over the pool, which is every visible row of the scope matching
    any query term (up to KEYWORD_POOL), so IDF reflects the caller's own memories only. With
    `known_n` the scope size comes from `%(known_n)s` (a recent count) instead of being counted.
    """
    count = (
        sql.SQL("%(known_n)s::bigint")
        if known_n
        else sql.SQL("(SELECT count(*) FROM (SELECT 1 FROM memory_entries e WHERE {w} LIMIT %(ncap)s) n)").format(
            w=where
        )
    )
    return sql.SQL(
        "terms AS MATERIALIZED (SELECT lex, {lq}::tsquery AS tq"
        " FROM unnest(tsvector_to_array(to_tsvector('english', %(q)s))) AS lex LIMIT %(max_terms)s),"
        " tq AS (SELECT string_agg({lq}, ' | ')::tsquery AS any_term,"
        "  string_agg({lq}, ' & ')::tsquery AS all_terms FROM terms),"
        " pool AS MATERIALIZED (SELECT DISTINCT ON (id) id, tsv FROM ("
        "  (SELECT e.id, e.tsv FROM memory_entries e, tq WHERE e.tsv @@ tq.all_terms AND {w} AND {v}"
        "   LIMIT %(pool)s)"
        "  UNION ALL (SELECT e.id, e.tsv FROM memory_entries e, tq WHERE e.tsv @@ tq.any_term AND {w} AND {v}"
        "   LIMIT %(pool)s)) AS matched),"
        " hits AS MATERIALIZED (SELECT p.id, length(p.tsv) AS len, t.lex FROM pool p JOIN terms t ON p.tsv @@ t.tq),"
        # N counts the readable rows whatever their lifecycle state: an index-only count
        " stats AS MATERIALIZED (SELECT {count} AS n, (SELECT avg(length(tsv)) FROM pool) AS avgdl),"
        " idf AS MATERIALIZED (SELECT t.lex, t.tq, ln(1 + (greatest(stats.n, d.df) - d.df + 0.5) / (d.df + 0.5)) AS w"
        "  FROM (SELECT lex, count(*) AS df FROM hits GROUP BY lex) d JOIN terms t USING (lex), stats),"
        " kw AS (SELECT h.id, sum({t}) AS s FROM hits h JOIN idf USING (lex), stats"
        "  GROUP BY h.id ORDER BY s DESC, h.id LIMIT %(lim)s)"
    ).format(lq=_LEX_QUERY, w=where, v=vis, t=_bm25_term("idf.w", "h.len"), count=count)


class PostgresMemoryStore:
    """Memory rows in PostgreSQL; every method filters by the caller's scope via `scoping`."""

    def __init__(self, db: Database, space: VectorSpace | None) -> None:
        self._db = db
        self._space = space
        # scope sizes for IDF (N), by read filter: counting them costs more than the rest of BM25
        self._scope_sizes: dict[str, tuple[int, float]] = {}

    # -- vector space -----------------------------------------------------------------------------

    def _col(self, alias: str | None, column: str) -> sql.Composable:
        return sql.Identifier(alias, column) if alias else sql.Identifier(column)

    def _vec(self, alias: str | None = "e") -> sql.Composable:
        assert self._space is not None
        return sql.SQL("({c}::vector({d}))").format(c=self._col(alias, "embedding"), d=sql.Literal(self._space.dim))

    def _qvec(self, param: str = "qvec") -> sql.Composable:
        assert self._space is not None
        return sql.SQL("%({p})s::vector({d})").format(p=sql.SQL(param), d=sql.Literal(self._space.dim))

    def _model_match(self, alias: str | None = "e") -> sql.Composable:
        assert self._space is not None
        return sql.SQL("{c} = {m}").format(c=self._col(alias, "embedding_model"), m=sql.Literal(self._space.model))

    async def prepare_vector_space(self) -> int:
        """Ensure the HNSW index for the active model and queue re-embedding of other models' rows.

        Returns how many rows were queued because their vectors came from a different model.
        """
        if self._space is None:
            return 0
        digest = hashlib.sha1(f"{self._space.model}:{self._space.dim}".encode()).hexdigest()[:12]
        index = sql.Identifier(f"memory_entries_hnsw_{digest}")
        async with self._db.connection() as conn:
            await conn.execute(
                sql.SQL(
                    "CREATE INDEX IF NOT EXISTS {i} ON memory_entries USING hnsw ({v} vector_cosine_ops) WHERE {m}"
                ).format(i=index, v=self._vec(None), m=self._model_match(None))
            )
            cur = await conn.execute(
                sql.SQL(
                    "UPDATE memory_entries e SET embedded_at = NULL, embedding = NULL, embedding_model = NULL"
                    " WHERE e.embedding_model IS NOT NULL AND NOT ({m})"
                ).format(m=self._model_match())
            )
            return cur.rowcount or 0

    # -- writes -----------------------------------------------------------------------------------

    async def find_duplicate(self, target: WriteTarget, content_hash: str) -> MemoryEntry | None:
        where, params = target_filter(target)
        async with self._db.connection() as conn:
            cur = await conn.execute(
                sql.SQL("SELECT {c} FROM memory_entries e WHERE {w} AND e.content_hash = %(h)s").format(
                    c=_COLUMNS, w=where
                ),
                {**params, "h": content_hash},
            )
            row = await cur.fetchone()
        return _entry(row) if row else None

    async def insert(
        self,
        draft: EntryDraft,
        *,
        fanout: int,
        replace_id: str | None = None,
        supersede: tuple[str, dict[str, Any]] | None = None,
    ) -> int:
        """Insert one entry, its source refs and its nearest-neighbour edges in one transaction.

        `replace_id` names an expired duplicate that is deleted first; `supersede` (id, new metadata)
        marks an older entry superseded in the same transaction. The change feed gets `created` (and
        `expired` / `superseded` for those) in that transaction too. Returns the edges written.
        """
        embedded = draft.embedding is not None and self._space is not None
        params: dict[str, Any] = {
            "id": draft.id,
            "tenant": draft.tenant_id,
            "user": draft.user_id,
            "project": draft.project_id,
            "scope_key": draft.scope_key,
            "ns": draft.namespace,
            "content": draft.content,
            "hash": draft.content_hash,
            "source": draft.source,
            "agent": draft.agent_name,
            "meta": json.dumps(draft.metadata),
            "stype": draft.source_type,
            "cfrom": draft.captured_from,
            "conf": draft.confidence,
            "sens": int(draft.sensitivity),
            "status": draft.status.value,
            "expires": draft.expires_at,
            "qvec": vector_text(draft.embedding) if embedded and draft.embedding else None,
            "model": self._space.model if embedded and self._space else None,
            # an embedded entry is linked in this transaction; otherwise its edges are owed
            "graph_owed": fanout > 0 and not embedded,
        }
        edges = 0
        async with self._db.connection() as conn, conn.transaction():
            if replace_id:
                await conn.execute(
                    _logged_delete(sql.SQL("e.id = %(rid)s AND e.tenant_id = %(tenant)s"), "expired"),
                    {"rid": replace_id, "tenant": draft.tenant_id},
                )
            await conn.execute(
                "INSERT INTO memory_entries (id, tenant_id, user_id, project_id, scope_key, namespace,"
                " content, content_hash, source, agent_name, metadata, source_type, captured_from,"
                " confidence, sensitivity, status, expires_at, embedding, embedding_model, embedded_at,"
                " graph_pending_at)"
                " VALUES (%(id)s, %(tenant)s, %(user)s, %(project)s, %(scope_key)s, %(ns)s, %(content)s,"
                " %(hash)s, %(source)s, %(agent)s, %(meta)s::jsonb, %(stype)s, %(cfrom)s, %(conf)s,"
                " %(sens)s, %(status)s, %(expires)s, %(qvec)s::vector, %(model)s,"
                " CASE WHEN %(qvec)s::text IS NULL THEN NULL ELSE now() END,"
                " CASE WHEN %(graph_owed)s THEN now() END)",
                params,
            )
            await conn.execute(_LOG_CREATED, params)
            if draft.source_refs:
                await self._add_refs(conn, draft.id, draft.tenant_id, draft.source_refs)
            if supersede is not None:
                await conn.execute(
                    "WITH s AS (UPDATE memory_entries SET status = 'superseded', metadata = %(meta)s::jsonb,"
                    "  updated_at = now() WHERE id = %(old)s AND tenant_id = %(tenant)s"
                    "  RETURNING id, tenant_id, user_id, project_id)"
                    " INSERT INTO memory_changes (tenant_id, user_id, project_id, entry_id, change, detail)"
                    " SELECT tenant_id, user_id, project_id, id, 'superseded',"
                    "  jsonb_build_object('supersededBy', %(new)s::text) FROM s",
                    {"meta": json.dumps(supersede[1]), "old": supersede[0], "tenant": draft.tenant_id, "new": draft.id},
                )
            if draft.embedding is not None and embedded and fanout > 0:
                target = WriteTarget(draft.tenant_id, draft.user_id, draft.project_id)
                edges = await self._link(conn, draft.id, target, draft.namespace, draft.embedding, fanout)
        return edges

    async def _add_refs(self, conn: Conn, entry_id: str, tenant_id: str, refs: Sequence[str]) -> None:
        async with conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO memory_source_refs (entry_id, tenant_id, source_ref) VALUES (%s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                [(entry_id, tenant_id, r) for r in dict.fromkeys(refs)],
            )

    async def _link(
        self, conn: Conn, entry_id: str, target: WriteTarget, namespace: str, vector: Sequence[float], fanout: int
    ) -> int:
        """Write `co_occurs` edges from an embedded entry to its nearest neighbours in its shelf.

        The entry's vector is a query parameter, so the search walks the HNSW index rather than
        measuring the distance to every row of the shelf. Returns the edges written.
        """
        where, params = target_filter(target, "n")
        params.update(id=entry_id, ns=namespace, fanout=fanout, qvec=vector_text(vector))
        cur = await conn.execute(
            sql.SQL(
                "INSERT INTO memory_relations (tenant_id, from_id, to_id, relation, strength)"
                " SELECT %(w_tenant)s, %(id)s, near.id, 'co_occurs', GREATEST(near.strength, 0) FROM"
                " (SELECT n.id, 1 - ({nv} <=> {qv}) AS strength FROM memory_entries n"
                "  WHERE {w} AND n.namespace = %(ns)s AND n.id <> %(id)s AND {nm}"
                "  ORDER BY {nv} <=> {qv} LIMIT %(fanout)s) near"
                " ON CONFLICT DO NOTHING"
            ).format(nv=self._vec("n"), qv=self._qvec(), w=where, nm=self._model_match("n")),
            params,
        )
        return cur.rowcount or 0

    async def add_source_refs(self, entry: MemoryEntry, refs: Sequence[str]) -> None:
        if not refs:
            return
        async with self._db.connection() as conn:
            await self._add_refs(conn, entry.id, entry.tenant_id, refs)

    async def touch(self, tenant_id: str, ids: Sequence[str]) -> None:
        """Count a hit on each id and bring cold entries back to the warm tier.

        Hits live in `memory_access`, so counting one never rewrites a memory row or its index
        entries; a cold row is rewritten only when it actually moves back to warm. A hit count lost to
        a crash is harmless, so these commits do not wait for the WAL flush.
        """
        if not ids:
            return
        async with self._db.connection() as conn, conn.transaction():
            await conn.execute("SET LOCAL synchronous_commit = off")
            await conn.execute(
                "INSERT INTO memory_access AS a (entry_id, tenant_id)"
                " SELECT e.id, e.tenant_id FROM memory_entries e WHERE e.tenant_id = %(tenant)s"
                " AND e.id = ANY(%(ids)s) ORDER BY e.id"
                " ON CONFLICT (entry_id) DO UPDATE SET hits = a.hits + 1, last_accessed = now()",
                {"tenant": tenant_id, "ids": list(ids)},
            )
            await conn.execute(
                "UPDATE memory_entries SET cold = false WHERE tenant_id = %(tenant)s AND id = ANY(%(ids)s) AND cold",
                {"tenant": tenant_id, "ids": list(ids)},
            )

    async def update(
        self,
        entry: MemoryEntry,
        *,
        content: str | None,
        content_hash: str | None,
        fields: dict[str, Any],
        embedding: list[float] | None,
        scope_key: str | None = None,
    ) -> None:
        """Change an entry in place (and log `updated {contentChanged}` in the same statement).

        New content without a vector leaves the embedding owed.
        """
        sets: list[sql.Composable] = [sql.SQL("updated_at = now()")]
        params: dict[str, Any] = {"id": entry.id, "tenant": entry.tenant_id}
        columns = {
            "namespace",
            "metadata",
            "sensitivity",
            "source_type",
            "captured_from",
            "confidence",
            "status",
            "expires_at",
            "source",
            "agent_name",
        }
        for name, value in fields.items():
            assert name in columns, name
            if name == "metadata":
                value = json.dumps(value)
                sets.append(sql.SQL("metadata = %(metadata)s::jsonb"))
            else:
                sets.append(sql.SQL("{c} = %({p})s").format(c=sql.Identifier(name), p=sql.SQL(name)))
            params[name] = value
        if content is not None:
            sets.append(sql.SQL("content = %(content)s, content_hash = %(hash)s"))
            params.update(content=content, hash=content_hash)
            if embedding is not None and self._space is not None:
                sets.append(
                    sql.SQL(
                        "embedding = %(qvec)s::vector, embedding_model = %(model)s, embedded_at = now(),"
                        " embed_attempts = 0"
                    )
                )
                params.update(qvec=vector_text(embedding), model=self._space.model)
            else:
                sets.append(sql.SQL("embedding = NULL, embedding_model = NULL, embedded_at = NULL"))
        if scope_key is not None:
            sets.append(sql.SQL("scope_key = %(scope_key)s"))
            params["scope_key"] = scope_key
        params["content_changed"] = content is not None
        async with self._db.connection() as conn:
            await conn.execute(
                sql.SQL(
                    "WITH u AS (UPDATE memory_entries SET {s} WHERE id = %(id)s AND tenant_id = %(tenant)s"
                    "  RETURNING id, tenant_id, user_id, project_id)"
                    " INSERT INTO memory_changes (tenant_id, user_id, project_id, entry_id, change, detail)"
                    " SELECT tenant_id, user_id, project_id, id, 'updated',"
                    "  jsonb_build_object('contentChanged', %(content_changed)s::boolean) FROM u"
                ).format(s=sql.SQL(", ").join(sets)),
                params,
            )

    async def delete(self, tenant_id: str, ids: Sequence[str]) -> list[str]:
        """Delete entries (their refs and edges cascade), logging `deleted`; returns the ids deleted."""
        if not ids:
            return []
        async with self._db.connection() as conn:
            cur = await conn.execute(
                _logged_delete(sql.SQL("e.tenant_id = %(tenant)s AND e.id = ANY(%(ids)s)"), "deleted"),
                {"tenant": tenant_id, "ids": list(ids)},
            )
            return [r["id"] for r in await cur.fetchall()]

    async def delete_by_source_ref(self, scope: ReadScope, source_ref: str) -> list[str]:
        """Delete every entry in scope carrying the exact source ref (logging `deleted`), in one statement."""
        where, params = read_filter(scope, with_namespaces=False)
        matched = sql.SQL(
            "e.id IN (SELECT r.entry_id FROM memory_source_refs r"
            " WHERE r.tenant_id = %(s_tenant)s AND r.source_ref = %(ref)s) AND {w}"
        ).format(w=where)
        async with self._db.connection() as conn:
            cur = await conn.execute(_logged_delete(matched, "deleted"), {**params, "ref": source_ref})
            return sorted(r["id"] for r in await cur.fetchall())

    # -- reads ------------------------------------------------------------------------------------

    async def get(self, scope: ReadScope, entry_id: str) -> MemoryEntry | None:
        """One entry the scope may read (whatever its lifecycle state), or None."""
        where, params = read_filter(scope, with_namespaces=False)
        async with self._db.connection() as conn:
            cur = await conn.execute(
                sql.SQL("SELECT {c} FROM memory_entries e WHERE e.id = %(id)s AND {w}").format(c=_COLUMNS, w=where),
                {**params, "id": entry_id},
            )
            row = await cur.fetchone()
        return _entry(row) if row else None

    async def get_any(self, tenant_id: str, entry_id: str) -> MemoryEntry | None:
        """An entry of the tenant regardless of owner; used to tell 'absent' from 'not yours'."""
        async with self._db.connection() as conn:
            cur = await conn.execute(
                sql.SQL("SELECT {c} FROM memory_entries e WHERE e.id = %s AND e.tenant_id = %s").format(c=_COLUMNS),
                (entry_id, tenant_id),
            )
            row = await cur.fetchone()
        return _entry(row) if row else None

    async def export_page(self, scope: ReadScope, after_id: str | None, limit: int) -> list[MemoryEntry]:
        """Up to `limit` entries of the scope (any lifecycle state) with ids after `after_id`, oldest first.

        ULIDs sort by creation time, so the id is both the keyset and the age order.
        """
        where, params = read_filter(scope, with_namespaces=False)
        params.update(after=after_id, lim=limit)
        async with self._db.connection() as conn:
            cur = await conn.execute(
                sql.SQL(
                    "SELECT {c} FROM memory_entries e WHERE {w} AND (%(after)s::text IS NULL OR e.id > %(after)s)"
                    " ORDER BY e.id LIMIT %(lim)s"
                ).format(c=_COLUMNS, w=where),
                params,
            )
            return [_entry(r) for r in await cur.fetchall()]

    async def browse(self, scope: ReadScope, page: BrowseFilter, limit: int) -> list[MemoryEntry]:
        """Up to `limit` live entries of the scope matching the filter, newest first (by id: ULIDs sort by age).

        With `page.after`, the `limit` entries just newer than that id (still returned newest first).
        """
        where, params = read_filter(scope)
        vis, vparams = visible_filter(scope)
        params.update(
            vparams,
            source=page.source,
            cold=page.cold,
            sens=page.sensitivity,
            before=page.before,
            after=page.after,
            lim=limit,
        )
        order = sql.SQL("ASC" if page.after is not None else "DESC")
        async with self._db.connection() as conn:
            cur = await conn.execute(
                sql.SQL(
                    "SELECT {c} FROM memory_entries e WHERE {w} AND {v}"
                    " AND (%(source)s::text IS NULL OR e.source = %(source)s)"
                    " AND (%(cold)s::boolean IS NULL OR e.cold = %(cold)s)"
                    " AND (%(sens)s::smallint IS NULL OR e.sensitivity = %(sens)s)"
                    " AND (%(before)s::text IS NULL OR e.id < %(before)s)"
                    " AND (%(after)s::text IS NULL OR e.id > %(after)s)"
                    " ORDER BY e.id {o} LIMIT %(lim)s"
                ).format(c=_COLUMNS, w=where, v=vis, o=order),
                params,
            )
            rows = [_entry(r) for r in await cur.fetchall()]
        return rows[::-1] if page.after is not None else rows

    async def access_counts(self, tenant_id: str, ids: Sequence[str]) -> dict[str, AccessCount]:
        """Hit counts of the given entries of one tenant; an entry never retrieved has no row (0 hits)."""
        if not ids:
            return {}
        async with self._db.connection() as conn:
            cur = await conn.execute(
                "SELECT a.entry_id, a.hits, a.last_accessed FROM memory_access a"
                " WHERE a.tenant_id = %(tenant)s AND a.entry_id = ANY(%(ids)s)",
                {"tenant": tenant_id, "ids": list(ids)},
            )
            rows = await cur.fetchall()
        return {r["entry_id"]: AccessCount(int(r["hits"]), r["last_accessed"]) for r in rows}

    def _vector_cte(self, where: sql.Composable, vis: sql.Composable) -> sql.Composable:
        """CTE `vc`: ids and cosine distances `d` of the `%(lim)s` nearest visible rows of the scope to `%(qvec)s`.

        Pool connections scan HNSW iteratively (see `database.py`), so scope filters still leave `lim` rows.
        """
        return sql.SQL(
            "vc AS (SELECT e.id, {ev} <=> {qv} AS d FROM memory_entries e WHERE {m} AND {w} AND {v}"
            " ORDER BY d LIMIT %(lim)s)"
        ).format(ev=self._vec(), qv=self._qvec(), m=self._model_match(), w=where, v=vis)

    async def keyword_hits(self, scope: ReadScope, *, query: str, limit: int) -> KeywordHits:
        """The top `limit` visible rows of the scope by BM25, and the statistics that scored them.

        Needs no query vector, so callers run it while the query is being embedded.
        """
        where, params = read_filter(scope)
        vis, vparams = visible_filter(scope)
        cache_key = repr(params)
        cached = self._scope_sizes.get(cache_key)
        known = cached is not None and cached[1] > time.monotonic()
        params.update(vparams, q=query, lim=limit, max_terms=MAX_QUERY_TERMS, pool=KEYWORD_POOL)
        params.update(ncap=SCOPE_COUNT_CAP, k1=BM25_K1, b=BM25_B)
        if known:
            assert cached is not None
            params["known_n"] = cached[0]
        query_sql = sql.SQL(
            "WITH {ctes} SELECT"
            " (SELECT array_agg(id ORDER BY s DESC, id) FROM kw) AS ids,"
            " (SELECT array_agg(s ORDER BY s DESC, id) FROM kw) AS scores,"
            " (SELECT array_agg(tq::text ORDER BY lex) FROM idf) AS tqs,"
            " (SELECT array_agg(w ORDER BY lex) FROM idf) AS weights,"
            " stats.avgdl, stats.n FROM stats"
        ).format(ctes=_bm25_ctes(where, vis, known_n=known))
        async with self._db.connection() as conn:
            cur = await conn.execute(query_sql, params)
            row = await cur.fetchone()
        if row is None:
            return KeywordHits()
        if not known and row["n"] is not None:
            if len(self._scope_sizes) > SCOPE_SIZE_CACHE_ENTRIES:
                self._scope_sizes.clear()
            self._scope_sizes[cache_key] = (int(row["n"]), time.monotonic() + SCOPE_SIZE_TTL_S)
        return KeywordHits(
            scores=dict(zip(row["ids"] or [], (float(v) for v in row["scores"] or []), strict=True)),
            term_queries=list(row["tqs"] or []),
            term_weights=[float(w) for w in row["weights"] or []],
            avgdl=float(row["avgdl"] or 1.0),
        )

    async def hydrate(
        self, scope: ReadScope, *, keyword: KeywordHits | None, query_vector: list[float] | None, limit: int
    ) -> tuple[list[MemoryEntry], dict[str, float], dict[str, float]]:
        """The keyword hits plus the `limit` nearest rows, each with both scores (score completion).

        A row found by one tier is not scored 0 by the other merely for missing that tier's cut: vector
        hits get their BM25 score from the keyword phase's statistics, keyword hits their cosine.
        Returns the entries, the BM25 scores (only those > 0) and the cosine similarities by id.
        """
        where, params = read_filter(scope)
        vis, vparams = visible_filter(scope)
        params.update(vparams, lim=limit)
        tiers: list[sql.Composable] = []
        ctes: list[sql.Composable] = []
        kscore: sql.Composable = sql.SQL("NULL::float8")
        vscore: sql.Composable = sql.SQL("NULL::float8")
        join_vc: sql.Composable = sql.SQL("")
        known = dict(keyword.scores) if keyword is not None else {}
        params["kw_ids"] = list(known)
        if known:
            tiers.append(sql.SQL("SELECT unnest(%(kw_ids)s::text[])"))
        if keyword is not None and keyword.term_queries:
            params.update(tqs=keyword.term_queries, tws=keyword.term_weights, avgdl=keyword.avgdl)
            params.update(k1=BM25_K1, b=BM25_B)
            # the terms are parsed once, then matched against the rows the keyword phase did not score
            ctes.append(
                sql.SQL("tt AS MATERIALIZED (SELECT * FROM unnest(%(tqs)s::tsquery[], %(tws)s::float8[]) AS t(tq, w))")
            )
            kscore = sql.SQL(
                "CASE WHEN e.id = ANY(%(kw_ids)s) THEN NULL ELSE"
                " (SELECT sum(tt.w * (%(k1)s + 1) / (1 + %(k1)s * (1 - %(b)s + %(b)s * length(e.tsv)"
                " / greatest(%(avgdl)s, 1)))) FROM tt WHERE e.tsv @@ tt.tq) END"
            )
        if query_vector is not None and self._space is not None:
            params["qvec"] = vector_text(query_vector)
            ctes.append(self._vector_cte(where, vis))
            tiers.append(sql.SQL("SELECT id FROM vc"))
            # the vector tier's own distances are reused; only keyword-only rows are compared here
            vscore = sql.SQL("CASE WHEN vc.d IS NOT NULL THEN 1 - vc.d WHEN {m} THEN 1 - ({ev} <=> {qv}) END").format(
                m=self._model_match(), ev=self._vec(), qv=self._qvec()
            )
            join_vc = sql.SQL(" LEFT JOIN vc ON vc.id = e.id")
        if not tiers:
            return [], {}, {}
        with_ctes = sql.SQL("WITH {c}, ").format(c=sql.SQL(", ").join(ctes)) if ctes else sql.SQL("WITH ")
        # the scope filter again on the final rows: ids passed back in never widen what a caller reads
        query_sql = sql.SQL(
            "{w_ctes}ids AS ({u}) SELECT {c}, {k} AS kscore, {vs} AS vscore"
            " FROM (SELECT DISTINCT * FROM ids) AS ids(id) JOIN memory_entries e ON e.id = ids.id{j}"
            " WHERE {w} AND {v}"
        ).format(
            w_ctes=with_ctes,
            u=sql.SQL(" UNION ALL ").join(tiers),
            c=_COLUMNS,
            k=kscore,
            vs=vscore,
            j=join_vc,
            w=where,
            v=vis,
        )
        async with self._db.connection() as conn:
            cur = await conn.execute(query_sql, params)
            rows = await cur.fetchall()
        entries = [_entry(r) for r in rows]
        kscores = {r["id"]: float(r["kscore"]) for r in rows if r["kscore"] is not None and r["kscore"] > 0}
        kscores.update((r["id"], known[r["id"]]) for r in rows if r["id"] in known and known[r["id"]] > 0)
        vscores = {r["id"]: max(float(r["vscore"]), 0.0) for r in rows if r["vscore"] is not None}
        return entries, kscores, vscores

    async def candidates(
        self,
        scope: ReadScope,
        *,
        query: str,
        query_vector: list[float] | None,
        limit: int,
        keyword: bool,
    ) -> tuple[list[MemoryEntry], dict[str, float], dict[str, float]]:
        """Both phases one after the other (`keyword_hits`, then `hydrate`)."""
        hits = await self.keyword_hits(scope, query=query, limit=limit) if keyword else None
        return await self.hydrate(scope, keyword=hits, query_vector=query_vector, limit=limit)

    async def nearest_active(
        self, target: WriteTarget, namespace: str, vector: list[float], limit: int
    ) -> list[tuple[MemoryEntry, float]]:
        """Nearest active, unexpired entries in one write partition and namespace, with cosine."""
        if self._space is None:
            return []
        where, params = target_filter(target)
        params.update(ns=namespace, lim=limit, qvec=vector_text(vector))
        async with self._db.connection() as conn:
            cur = await conn.execute(
                sql.SQL(
                    "SELECT {c}, 1 - ({ev} <=> {qv}) AS cos FROM memory_entries e WHERE {w} AND {m}"
                    " AND e.namespace = %(ns)s AND e.status = 'active'"
                    " AND (e.expires_at IS NULL OR e.expires_at > now())"
                    " ORDER BY {ev} <=> {qv} LIMIT %(lim)s"
                ).format(c=_COLUMNS, ev=self._vec(), qv=self._qvec(), w=where, m=self._model_match()),
                params,
            )
            rows = await cur.fetchall()
        return [(_entry(r), float(r["cos"])) for r in rows]

    async def recent(self, scope: ReadScope, k: int, since: datetime | None) -> list[MemoryEntry]:
        where, params = read_filter(scope)
        vis, vparams = visible_filter(scope)
        params.update(vparams, k=k, since=since)
        async with self._db.connection() as conn:
            cur = await conn.execute(
                sql.SQL(
                    "SELECT {c} FROM memory_entries e WHERE {w} AND {v}"
                    " AND (%(since)s::timestamptz IS NULL OR e.created_at >= %(since)s)"
                    " ORDER BY e.created_at DESC, e.id DESC LIMIT %(k)s"
                ).format(c=_COLUMNS, w=where, v=vis),
                params,
            )
            return [_entry(r) for r in await cur.fetchall()]

    async def neighbors(self, scope: ReadScope, seed: MemoryEntry, depth: int, k: int) -> list[Neighbor]:
        """Walk live edges from the seed (undirected, acyclic) up to `depth`; best path score per node."""
        where, params = read_filter(scope, with_namespaces=False)
        sens = {"s_sensitivity": scope.max_sensitivity}
        params.update(sens, seed=seed.id, depth=depth, k=k)
        async with self._db.connection() as conn:
            cur = await conn.execute(
                sql.SQL(
                    "WITH RECURSIVE walk(node, score, path, d) AS ("
                    "  SELECT %(seed)s::text, 1.0::float8, ARRAY[%(seed)s::text], 0"
                    "  UNION ALL SELECT n.other, w.score * n.strength, w.path || n.other, w.d + 1"
                    "   FROM walk w, LATERAL ("
                    "    SELECT r.to_id AS other, r.strength FROM memory_relations r"
                    "     WHERE r.from_id = w.node AND r.tenant_id = %(s_tenant)s AND r.valid_to IS NULL"
                    "    UNION ALL SELECT r.from_id, r.strength FROM memory_relations r"
                    "     WHERE r.to_id = w.node AND r.tenant_id = %(s_tenant)s AND r.valid_to IS NULL) n"
                    "   WHERE w.d < %(depth)s AND NOT n.other = ANY(w.path)),"
                    " best AS (SELECT node, max(score) AS score FROM walk WHERE d > 0 GROUP BY node)"
                    " SELECT {c}, best.score AS gscore FROM best JOIN memory_entries e ON e.id = best.node"
                    " WHERE {w} AND e.sensitivity <= %(s_sensitivity)s"
                    " ORDER BY best.score DESC, e.id LIMIT %(k)s"
                ).format(c=_COLUMNS, w=where),
                params,
            )
            rows = await cur.fetchall()
        return [Neighbor(entry=_entry(r), score=float(r["gscore"])) for r in rows]

    async def namespace_counts(self, scope: ReadScope) -> NamespaceCounts:
        """Warm and cold counts per namespace over the scope's live (unexpired, active) entries."""
        where, params = read_filter(scope)
        async with self._db.connection() as conn:
            cur = await conn.execute(
                sql.SQL(
                    "SELECT e.namespace, count(*) FILTER (WHERE NOT e.cold) AS warm,"
                    " count(*) FILTER (WHERE e.cold) AS cold FROM memory_entries e WHERE {w}"
                    " AND e.status = 'active' AND (e.expires_at IS NULL OR e.expires_at > now())"
                    " GROUP BY e.namespace ORDER BY e.namespace"
                ).format(w=where),
                params,
            )
            rows = await cur.fetchall()
            last = await (await conn.execute("SELECT max(finished_at) AS at FROM decay_runs")).fetchone()
        return NamespaceCounts(
            by_namespace={r["namespace"]: (int(r["warm"]), int(r["cold"])) for r in rows},
            last_decay_at=last["at"] if last else None,
        )

    async def recently_updated(self, scope: ReadScope, limit: int) -> list[MemoryEntry]:
        """The scope's live (active, unexpired, visible) entries, most recently updated first."""
        where, params = read_filter(scope)
        vis, vparams = visible_filter(scope)
        params.update(vparams, lim=limit)
        async with self._db.connection() as conn:
            cur = await conn.execute(
                sql.SQL(
                    "SELECT {c} FROM memory_entries e WHERE {w} AND {v} ORDER BY e.updated_at DESC, e.id DESC"
                    " LIMIT %(lim)s"
                ).format(c=_COLUMNS, w=where, v=vis),
                params,
            )
            return [_entry(r) for r in await cur.fetchall()]

    # -- reconciliation ---------------------------------------------------------------------------

    async def owed_embeddings(self, limit: int) -> list[OwedEmbedding]:
        """Oldest rows whose vector is owed (across tenants: this is server work, not a read)."""
        async with self._db.connection() as conn:
            cur = await conn.execute(
                "SELECT id, content, content_hash FROM memory_entries WHERE embedded_at IS NULL"
                " ORDER BY created_at LIMIT %s",
                (limit,),
            )
            rows = await cur.fetchall()
        return [OwedEmbedding(r["id"], r["content"], r["content_hash"]) for r in rows]

    async def owed_embeddings_for(self, ids: Sequence[str]) -> list[OwedEmbedding]:
        async with self._db.connection() as conn:
            cur = await conn.execute(
                "SELECT id, content, content_hash FROM memory_entries WHERE embedded_at IS NULL AND id = ANY(%s)",
                (list(ids),),
            )
            rows = await cur.fetchall()
        return [OwedEmbedding(r["id"], r["content"], r["content_hash"]) for r in rows]

    async def store_embeddings(self, items: Sequence[tuple[OwedEmbedding, list[float]]], fanout: int) -> int:
        """Store vectors for owed rows whose content is unchanged since they were read; then link."""
        if self._space is None or not items:
            return 0
        stored = 0
        async with self._db.connection() as conn:
            for owed, vec in items:
                async with conn.transaction():
                    # the edges owed are written in this same transaction, so the debt is cleared here too
                    cur = await conn.execute(
                        "UPDATE memory_entries SET embedding = %s::vector, embedding_model = %s,"
                        " embedded_at = now(), embed_attempts = 0,"
                        " graph_pending_at = CASE WHEN %s THEN NULL ELSE graph_pending_at END"
                        " WHERE id = %s AND content_hash = %s AND embedded_at IS NULL"
                        " RETURNING tenant_id, user_id, project_id, namespace",
                        (vector_text(vec), self._space.model, fanout > 0, owed.id, owed.content_hash),
                    )
                    row = await cur.fetchone()
                    if row is not None:
                        stored += 1
                        if fanout > 0:
                            target = WriteTarget(row["tenant_id"], row["user_id"], row["project_id"])
                            await self._link(conn, owed.id, target, row["namespace"], vec, fanout)
        return stored

    async def count_owed(self) -> int:
        async with self._db.connection() as conn:
            row = await (
                await conn.execute("SELECT count(*) AS n FROM memory_entries WHERE embedded_at IS NULL")
            ).fetchone()
        return int(row["n"]) if row else 0

    async def purge_expired(self) -> int:
        """Hard-delete expired entries (every tenant: server work), logging `expired` for each."""
        async with self._db.connection() as conn:
            cur = await conn.execute(_logged_delete(sql.SQL("e.expires_at <= now()"), "expired"))
            return len(await cur.fetchall())
