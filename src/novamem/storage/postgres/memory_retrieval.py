"""The memory store's retrieval queries: BM25 keyword hits, the vector tier and score completion
(`hydrate`), the nearest entries of a write partition (near-duplicates), and the graph walk.
"""

from __future__ import annotations

from psycopg import sql

from novamem.domain.entries import MemoryEntry
from novamem.domain.scope import ReadScope, WriteTarget
from novamem.storage.base import KeywordHits, Neighbor, VectorHits, VectorSpace
from novamem.storage.postgres.database import Database, FloatArray, TextArray, VectorParam
from novamem.storage.postgres.memory_table import (
    DEFAULT_DECAY_DAYS,
    ENTRY_COLUMNS,
    MemoryTable,
    entry_from_row,
    shelf_namespace,
)
from novamem.storage.postgres.scope_sizes import SCOPE_COUNT_CAP, ScopeSizes
from novamem.storage.postgres.scoping import owner_filter, read_filter, target_filter, visible_filter
from novamem.storage.postgres.statements import StatementCache

__all__ = ["MemoryRetrieval"]

# BM25 over the english tsvector with binary term frequency (`@@` tells presence, not counts) and no
# length normalisation: a row's score is the sum of the IDF of the query terms it carries. With counts
# gone, normalising by length (b = 0.4 before) only pushed down longer memories, which tend to carry the
# substance: b = 0 raised LoCoMo MRR from 0.543 to 0.557 and lowered the agent benchmark's stale-first
# share from 0.482 to 0.429 (docs/benchmarks.md, "Keyword scoring").
MAX_QUERY_TERMS = 32
# Most rows the keyword pool reads for the rows matching any term, and for those matching every term.
# Below it (the usual case) BM25 statistics are exact within the scope. A broad query over a very large
# scope is scored on a bounded share of its matches, plus up to KEYWORD_TERM_ROWS rows of each term on
# its own, so a rare term's rows (the ones BM25 weighs most) are never crowded out by a common one's;
# this keeps latency flat as the store grows.
KEYWORD_POOL = 1000
KEYWORD_TERM_ROWS = 100
# The bounds for a scope of SCOPE_COUNT_CAP rows or more. There the rows a term's read keeps are the first
# ones the index gives, not the best, and reading half as many lost nothing measurable: LoCoMo's questions
# over the whole 100,000-memory store (`bench/scale_recall.py`, 1,973 questions) found 0.560 of the
# evidence with 500 / 50 against 0.558 with 1000 / 100 (MRR 0.423 against 0.427, every category within
# 0.025), and the keyword phase took 13.91 ms instead of 17.50 (p50; the whole search 33.24 against 34.74).
LARGE_SCOPE_POOL = 500
LARGE_SCOPE_TERM_ROWS = 50
# A vector search's HNSW walk filtered to a scope of n rows in a table of t visits about t / n rows for each
# one it keeps: measured at 100,000 memories, 0.8 ms times t / n (9-11 ms in a namespace of 10,000 rows,
# 36-39 ms in one of 1,800), against 2.5 us a row for sorting the scope's own rows by distance (4.6 and
# 39 ms). So a scope with n * n < 320 * t is sorted exactly (`ScopeSizes.narrow`): up to about 5,600 rows
# at 100,000, none of a scope that is most of the table.
EXACT_VECTOR_FACTOR = 320.0
# The keyword phase matches the scope's owners in the GIN index with each term (`owner_filter`) when they
# hold at most this share of the table. Then a term's rows of other owners are never read; but each term
# read also walks the owners' entries of the index, which costs in proportion to the rows they own. At
# 100,000 memories, keyword phase p50 without -> with the owner test: an owner of 2% 10.9 -> 6.1 ms
# (bench/scoped_search.py), of 20% 7.4 -> 6.3, of 50% 9.3 -> 10.6, of 80% 6.9 -> 9.0, of nearly all
# 11.3 -> 14.5 (the 20-80% owners made by handing namespaces of a copy of the store to a second user).
OWNER_TEST_SHARE = 0.25


def _lexeme_query(lexeme: str) -> str:
    """A lexeme as a one-term tsquery literal: quoted, with quotes and backslashes escaped."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def _bm25_ctes(
    where: sql.Composable, vis: sql.Composable, terms: int, *, known_n: bool, any_term: bool
) -> sql.Composable:
    """CTEs `terms`, `pool`, `hits`, `stats`, `idf` and `kw` (the top `%(lim)s` ids by BM25, with scores).

    The pool holds the visible rows of the scope matching all of the `terms` terms and (unless `any_term` is
    false) those matching any of them, up to `%(pool)s` each, and for each term `%(tq<i>)s` up to
    `%(per_term)s` rows matching it.
    The terms reach the planner as literals, so it sees how common each is: rare ones are read through
    the GIN index, a common one stops after its share of rows instead of first collecting every match in
    the store. Document frequencies are counted over the pool, so IDF reflects the caller's own memories.
    With `known_n` the scope size comes from `%(known_n)s` (a recent count).
    """
    count = (
        sql.SQL("%(known_n)s::bigint")
        if known_n
        else sql.SQL("(SELECT count(*) FROM (SELECT 1 FROM memory_entries e WHERE {w} LIMIT %(ncap)s) n)").format(
            w=where
        )
    )
    branch = sql.SQL("(SELECT e.id, e.tsv FROM memory_entries e WHERE e.tsv @@ {q}::tsquery AND {w} AND {v} LIMIT {n})")
    branches = [
        branch.format(q=sql.Placeholder(f"tq{i}"), w=where, v=vis, n=sql.Placeholder("per_term")) for i in range(terms)
    ]
    if terms > 1:
        for combined in ("all_terms", "any_term") if any_term else ("all_terms",):
            branches.insert(0, branch.format(q=sql.Placeholder(combined), w=where, v=vis, n=sql.Placeholder("pool")))
    return sql.SQL(
        "terms AS MATERIALIZED (SELECT lex, tq::tsquery AS tq"
        " FROM unnest(%(lexes)s::text[], %(tqs)s::text[]) AS t(lex, tq)),"
        " pool AS MATERIALIZED (SELECT DISTINCT ON (id) id, tsv FROM ({branches}) AS matched),"
        " hits AS MATERIALIZED (SELECT p.id, t.lex FROM pool p JOIN terms t ON p.tsv @@ t.tq),"
        # N counts the readable rows whatever their lifecycle state: an index-only count
        " stats AS MATERIALIZED (SELECT {count} AS n),"
        " idf AS MATERIALIZED (SELECT t.lex, t.tq, ln(1 + (greatest(stats.n, d.df) - d.df + 0.5) / (d.df + 0.5)) AS w"
        "  FROM (SELECT lex, count(*) AS df FROM hits GROUP BY lex) d JOIN terms t USING (lex), stats),"
        " kw AS (SELECT h.id, sum(idf.w) AS s FROM hits h JOIN idf USING (lex)"
        "  GROUP BY h.id ORDER BY s DESC, h.id LIMIT %(lim)s)"
    ).format(branches=sql.SQL(" UNION ALL ").join(branches), count=count)


class MemoryRetrieval(MemoryTable):
    """Ranked candidates for recall, and the reads that rank by vector or by graph."""

    def __init__(
        self,
        db: Database,
        space: VectorSpace | None,
        *,
        decay_days: float = DEFAULT_DECAY_DAYS,
        extract_facts: bool = False,
    ) -> None:
        super().__init__(db, space, decay_days=decay_days, extract_facts=extract_facts)
        # scope sizes (N in IDF, and the plans of narrow scopes): counting them costs more than the rest of BM25
        self.scope_sizes = ScopeSizes()
        # the search path's statements, rendered once per shape (see `statements.py`)
        self._statements = StatementCache()

    def _vector_cte(
        self,
        where: sql.Composable,
        vis: sql.Composable,
        *,
        from_ids: bool = False,
        measured: bool = False,
        exact: bool = False,
    ) -> sql.Composable:
        """CTE `vc`: ids and cosine distances `d` of the `%(lim)s` nearest visible rows of the scope to `%(qvec)s`.

        Pool connections scan HNSW iteratively (see `database.py`), so scope filters still leave `lim` rows.
        `from_ids`: the candidates are `%(vec_ids)s` (found by the vector index), measured and scope-checked here;
        with `measured` their distances `%(vec_d)s` come along (pgvector's own read measured them), and the
        statement using the CTE checks the scope.
        `exact`: the scope's rows sorted by distance (an order the HNSW index cannot give), for a narrow scope.
        """
        if measured:
            return sql.SQL("vc AS (SELECT * FROM unnest(%(vec_ids)s::text[], %(vec_d)s::float8[]) AS v(id, d))")
        if from_ids:
            return sql.SQL(
                "vc AS (SELECT e.id, {ev} <=> {qv} AS d FROM memory_entries e"
                " WHERE e.id = ANY(%(vec_ids)s::text[]) AND {m} AND {w} AND {v})"
            ).format(ev=self._vec(), qv=self._qvec(), m=self._model_match(), w=where, v=vis)
        order = sql.SQL("({ev} <=> {qv}) + 0" if exact else "d").format(ev=self._vec(), qv=self._qvec())
        return sql.SQL(
            "vc AS (SELECT e.id, {ev} <=> {qv} AS d FROM memory_entries e WHERE {m} AND {w} AND {v}"
            " ORDER BY {o} LIMIT %(lim)s)"
        ).format(ev=self._vec(), qv=self._qvec(), m=self._model_match(), w=where, v=vis, o=order)

    async def vector_nearest(self, scope: ReadScope, vector: list[float], limit: int) -> VectorHits:
        """The `limit` visible rows of the scope nearest to `vector` (pgvector's HNSW index), with their distances.

        A statement of its own, so it runs on its own connection while the keyword phase runs on another;
        `hydrate(vector_hits=...)` then reads the rows and scores them, reusing the distances measured here.
        A narrow scope (EXACT_VECTOR_FACTOR) is sorted by distance; any other walks the HNSW index. Within
        namespaces sorting is ruled out for that walk, so that the planner takes it whatever its estimate of
        the namespaces' rows: that estimate comes from the statistics of the memberships expression, which
        only full analyses refresh (a background refresh names columns), so it lags a namespace that is
        filling up. Without a namespace the planner's column statistics are kept fresh, and a transaction for
        the setting would cost the most common search two round trips.
        """
        if self._space is None:
            return VectorHits()
        vis, vparams = visible_filter(scope)
        async with self._db.connection() as conn:
            exact = await self.scope_sizes.narrow(conn, scope, EXACT_VECTOR_FACTOR)
            # the exact read finds the scope's rows through its indexes; the walk tests each row it visits
            where, params = read_filter(scope, members_indexed=exact)
            params.update(vparams, lim=limit, qvec=VectorParam(vector))
            statement = self._nearest_statement(where, vis, exact=exact)
            if exact or scope.namespaces is None:
                cur = await conn.execute(statement, params)
                rows = await cur.fetchall()
            else:
                async with conn.transaction():
                    await conn.execute("SET LOCAL enable_sort = off")
                    cur = await conn.execute(statement, params)
                    rows = await cur.fetchall()
        return VectorHits(ids=[r["id"] for r in rows], distances=[float(r["d"]) for r in rows])

    def _nearest_statement(self, where: sql.Composable, vis: sql.Composable, *, exact: bool) -> bytes:
        """`vector_nearest`'s statement: sorted by distance when `exact`, else ordered as the HNSW index is."""
        return self._statements.get(
            ("nearest", where.as_string(), vis.as_string(), exact),
            lambda: sql.SQL("WITH {vc} SELECT id, d FROM vc").format(vc=self._vector_cte(where, vis, exact=exact)),
        )

    async def keyword_hits(self, scope: ReadScope, *, query: str, limit: int) -> KeywordHits:
        """The top `limit` visible rows of the scope by BM25, and the statistics that scored them.

        Needs no query vector, so callers run it while the query is being embedded. When the scope's owners
        hold a small share of the table (OWNER_TEST_SHARE), they are matched in the GIN index with each term
        (`owner_filter`), so other users' rows of a term are never read.
        """
        where, params = read_filter(scope)
        vis, vparams = visible_filter(scope)
        size = self.scope_sizes.known(scope)
        known = size is not None
        async with self._db.connection() as conn:
            if await self.scope_sizes.owner_share(conn, scope) <= OWNER_TEST_SHARE:
                owned, oparams = owner_filter(scope)
                where = sql.SQL(f"{where.as_string()} AND {owned.as_string()}")
                params.update(oparams)
            # the query's lexemes first: each term then reaches the planner as a literal of its own
            cur = await conn.execute("SELECT tsvector_to_array(to_tsvector('english', %(q)s)) AS lexes", {"q": query})
            found = await cur.fetchone()
            lexes: list[str] = list(found["lexes"] or [])[:MAX_QUERY_TERMS] if found is not None else []
            if not lexes:
                return KeywordHits()
            tqs = [_lexeme_query(lex) for lex in lexes]
            params.update(vparams, lexes=TextArray(lexes), tqs=TextArray(tqs), lim=limit)
            params.update(
                {f"tq{i}": tq for i, tq in enumerate(tqs)}, all_terms=" & ".join(tqs), any_term=" | ".join(tqs)
            )
            # a large scope (its size counted up to the cap) skips the any-term read, the costliest branch
            # there, and shares its rows out among the terms instead
            large = size is not None and size >= SCOPE_COUNT_CAP
            if large:
                pool, per_term = LARGE_SCOPE_POOL, max(LARGE_SCOPE_TERM_ROWS, LARGE_SCOPE_POOL // len(tqs))
            else:
                pool, per_term = KEYWORD_POOL, KEYWORD_TERM_ROWS
            params.update(pool=pool, per_term=pool if len(tqs) == 1 else per_term)
            params.update(ncap=SCOPE_COUNT_CAP)
            if size is not None:
                params["known_n"] = size
            terms = len(tqs)
            query_sql = self._statements.get(
                ("keyword", where.as_string(), vis.as_string(), terms, known, large),
                lambda: sql.SQL(
                    "WITH {ctes} SELECT"
                    " (SELECT array_agg(id ORDER BY s DESC, id) FROM kw) AS ids,"
                    " (SELECT array_agg(s ORDER BY s DESC, id) FROM kw) AS scores,"
                    " (SELECT array_agg(tq::text ORDER BY lex) FROM idf) AS tqs,"
                    " (SELECT array_agg(w ORDER BY lex) FROM idf) AS weights,"
                    " stats.n FROM stats"
                ).format(ctes=_bm25_ctes(where, vis, terms, known_n=known, any_term=not large)),
            )
            cur = await conn.execute(query_sql, params)
            row = await cur.fetchone()
        if row is None:
            return KeywordHits()
        if not known and row["n"] is not None:
            self.scope_sizes.remember(scope, int(row["n"]))
        return KeywordHits(
            scores=dict(zip(row["ids"] or [], (float(v) for v in row["scores"] or []), strict=True)),
            term_queries=list(row["tqs"] or []),
            term_weights=[float(w) for w in row["weights"] or []],
        )

    async def hydrate(
        self,
        scope: ReadScope,
        *,
        keyword: KeywordHits | None,
        query_vector: list[float] | None,
        limit: int,
        vector_hits: VectorHits | None = None,
    ) -> tuple[list[MemoryEntry], dict[str, float], dict[str, float]]:
        """The keyword hits plus the `limit` nearest rows, each with both scores (score completion).

        A row found by one tier is not scored 0 by the other merely for missing that tier's cut: vector
        hits get their BM25 score from the keyword phase's statistics, keyword hits their cosine.
        `vector_hits` are the vector tier's candidates when its own read found them (pgvector's search here is
        skipped): their distances are reused when that read measured them (`vector_nearest`), else measured
        here (a vector index's ids); either way they are scope-checked like any other row.
        Returns the entries, the BM25 scores (only those > 0) and the cosine similarities by id.
        """
        # rows are read by id (or along the HNSW walk) and each is tested
        where, params = read_filter(scope, members_indexed=False)
        vis, vparams = visible_filter(scope)
        params.update(vparams, lim=limit)
        known = dict(keyword.scores) if keyword is not None else {}
        params["kw_ids"] = TextArray(list(known))
        by_terms = keyword is not None and bool(keyword.term_queries)
        if by_terms:
            assert keyword is not None
            params.update(tqs=TextArray(keyword.term_queries), tws=FloatArray(keyword.term_weights))
        by_vector = query_vector is not None and self._space is not None
        if by_vector:
            assert query_vector is not None
            params["qvec"] = VectorParam(query_vector)
            if vector_hits is not None:
                params["vec_ids"] = TextArray(vector_hits.ids)
                if vector_hits.distances is not None:
                    params["vec_d"] = FloatArray(vector_hits.distances)
        if not known and not by_vector:
            return [], {}, {}
        from_ids = vector_hits is not None
        measured = vector_hits is not None and vector_hits.distances is not None
        query_sql = self._statements.get(
            ("hydrate", where.as_string(), vis.as_string(), bool(known), by_terms, by_vector, from_ids, measured),
            lambda: self._hydrate_statement(
                where,
                vis,
                by_keyword=bool(known),
                by_terms=by_terms,
                by_vector=by_vector,
                from_ids=from_ids,
                measured=measured,
            ),
        )
        async with self._db.connection() as conn:
            # prepared when its plan follows only the ids it is given (primary-key reads), not the scope's size:
            # the connection's generic plan is then as good as a fresh one, and planning it each time cost
            # 0.5-1 ms. Without `vector_hits` it walks the HNSW index itself, whose plan depends on the scope.
            by_ids = query_vector is None or vector_hits is not None
            cur = await conn.execute(query_sql, params, prepare=by_ids)
            rows = await cur.fetchall()
        entries = [entry_from_row(r) for r in rows]
        kscores = {r["id"]: float(r["kscore"]) for r in rows if r["kscore"] is not None and r["kscore"] > 0}
        kscores.update((r["id"], known[r["id"]]) for r in rows if r["id"] in known and known[r["id"]] > 0)
        vscores = {r["id"]: max(float(r["vscore"]), 0.0) for r in rows if r["vscore"] is not None}
        return entries, kscores, vscores

    def _hydrate_statement(
        self,
        where: sql.Composable,
        vis: sql.Composable,
        *,
        by_keyword: bool,
        by_terms: bool,
        by_vector: bool,
        from_ids: bool,
        measured: bool = False,
    ) -> sql.Composable:
        """`hydrate`'s statement: the keyword hits (`by_keyword`), BM25 by the keyword phase's terms for the
        rows it did not score (`by_terms`), and the vector tier and cosines (`by_vector`; its candidates
        are `%(vec_ids)s` when `from_ids`, with their distances `%(vec_d)s` when `measured`)."""
        tiers: list[sql.Composable] = []
        ctes: list[sql.Composable] = []
        kscore: sql.Composable = sql.SQL("NULL::float8")
        vscore: sql.Composable = sql.SQL("NULL::float8")
        join_vc: sql.Composable = sql.SQL("")
        if by_keyword:
            tiers.append(sql.SQL("SELECT unnest(%(kw_ids)s::text[])"))
        if by_terms:
            # the terms are parsed once, then matched against the rows the keyword phase did not score
            ctes.append(
                sql.SQL("tt AS MATERIALIZED (SELECT * FROM unnest(%(tqs)s::tsquery[], %(tws)s::float8[]) AS t(tq, w))")
            )
            kscore = sql.SQL(
                "CASE WHEN e.id = ANY(%(kw_ids)s) THEN NULL ELSE (SELECT sum(tt.w) FROM tt WHERE e.tsv @@ tt.tq) END"
            )
        if by_vector:
            ctes.append(self._vector_cte(where, vis, from_ids=from_ids, measured=measured))
            tiers.append(sql.SQL("SELECT id FROM vc"))
            # the vector tier's own distances are reused; only keyword-only rows are compared here
            vscore = sql.SQL("CASE WHEN vc.d IS NOT NULL THEN 1 - vc.d WHEN {m} THEN 1 - ({ev} <=> {qv}) END").format(
                m=self._model_match(), ev=self._vec(), qv=self._qvec()
            )
            join_vc = sql.SQL(" LEFT JOIN vc ON vc.id = e.id")
        with_ctes = sql.SQL("WITH {c}, ").format(c=sql.SQL(", ").join(ctes)) if ctes else sql.SQL("WITH ")
        # the scope filter again on the final rows: ids passed back in never widen what a caller reads
        return sql.SQL(
            "{w_ctes}ids AS ({u}) SELECT {c}, {k} AS kscore, {vs} AS vscore"
            " FROM (SELECT DISTINCT * FROM ids) AS ids(id) JOIN memory_entries e ON e.id = ids.id{j}"
            " WHERE {w} AND {v}"
        ).format(
            w_ctes=with_ctes,
            u=sql.SQL(" UNION ALL ").join(tiers),
            c=ENTRY_COLUMNS,
            k=kscore,
            vs=vscore,
            j=join_vc,
            w=where,
            v=vis,
        )

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
        params.update(ns=namespace, lim=limit, qvec=VectorParam(vector))
        async with self._db.connection() as conn, conn.transaction():
            # a small or new namespace is sorted exactly, a larger one walks the HNSW index (`_shelf_plan`)
            exact = await self._shelf_plan(conn, target, namespace)
            order = sql.SQL("({ev} <=> {qv}) + 0" if exact else "{ev} <=> {qv}").format(ev=self._vec(), qv=self._qvec())
            cur = await conn.execute(
                sql.SQL(
                    "SELECT {c}, 1 - ({ev} <=> {qv}) AS cos FROM memory_entries e WHERE {w} AND {m}"
                    " AND {ns} AND e.status = 'active' AND (e.expires_at IS NULL OR e.expires_at > now())"
                    " ORDER BY {o} LIMIT %(lim)s"
                ).format(
                    c=ENTRY_COLUMNS,
                    ev=self._vec(),
                    qv=self._qvec(),
                    w=where,
                    m=self._model_match(),
                    ns=shelf_namespace("e", members=True, indexed=exact),
                    o=order,
                ),
                params,
            )
            rows = await cur.fetchall()
        return [(entry_from_row(r), float(r["cos"])) for r in rows]

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
                ).format(c=ENTRY_COLUMNS, w=where),
                params,
            )
            rows = await cur.fetchall()
        return [Neighbor(entry=entry_from_row(r), score=float(r["gscore"])) for r in rows]
