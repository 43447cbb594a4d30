"""The memory store's write side: inserts (with source refs, supersession and graph edges), hits,
updates and deletes, each logged to the change feed in the same statement or transaction; and the
reconciler's work: owed embeddings (stored, then linked) and the purge of expired entries.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg import sql

from novamem.domain.entries import EntryDraft, MemoryEntry, now_utc
from novamem.domain.facts import FACT_SOURCE_TYPE
from novamem.domain.scope import ReadScope, WriteTarget
from novamem.storage.base import OwedEmbedding
from novamem.storage.postgres.entity_postings import file_entities, refile_entities
from novamem.storage.postgres.lifecycle import idle_seconds, lifespan_seconds
from novamem.storage.postgres.memory_table import (
    ENTRY_COLUMNS,
    Conn,
    MemoryTable,
    entry_from_row,
    shelf_namespace,
    vector_text,
)
from novamem.storage.postgres.quotas import enforce_entry_cap
from novamem.storage.postgres.scoping import MEMBERSHIPS, read_filter, target_filter

__all__ = ["MemoryWrites"]


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


# hits: the entries' stats before them (`hit`), the counts added (a batch counts several hits on one entry),
# then the cold marks of the hits they promote, locked in id order (two batches promoting the same rows never
# deadlock) and deleted, and the promotions counted for the next decay pass. `hit` key-share locks the
# entries and skips those a transaction is deleting (their hit rows go with them; waiting for it while
# holding rows it deletes next was a deadlock that could abort the deletion) or giving a new content hash
# at that instant (one hit uncounted).
_TOUCH = sql.SQL(
    "WITH hit AS (SELECT e.id, e.tenant_id, u.n,"
    "  c.entry_id IS NOT NULL AND %(promote)s AND {life} > {idle} AS promote"
    "  FROM unnest(%(ids)s::text[], %(counts)s::int[]) AS u(id, n) JOIN memory_entries e ON e.id = u.id"
    "  LEFT JOIN memory_access a ON a.entry_id = e.id"
    "  LEFT JOIN memory_cold c ON c.entry_id = e.id"
    "  WHERE e.tenant_id = %(tenant)s FOR KEY SHARE OF e SKIP LOCKED),"
    " bumped AS (INSERT INTO memory_access AS a (entry_id, tenant_id, hits, last_accessed)"
    "  SELECT id, tenant_id, n, %(now)s FROM hit ORDER BY id"
    "  ON CONFLICT (entry_id) DO UPDATE SET hits = a.hits + excluded.hits,"
    "  last_accessed = greatest(a.last_accessed, excluded.last_accessed)),"
    " locked AS (SELECT c.entry_id FROM memory_cold c JOIN hit ON hit.id = c.entry_id WHERE hit.promote"
    "  ORDER BY c.entry_id FOR UPDATE OF c),"
    " promoted AS (DELETE FROM memory_cold c USING locked WHERE c.entry_id = locked.entry_id"
    "  RETURNING c.entry_id),"
    " counted AS (UPDATE decay_promotions SET pending = pending + (SELECT count(*) FROM promoted)"
    "  WHERE EXISTS (SELECT 1 FROM promoted))"
    " SELECT count(*) AS n FROM promoted"
).format(life=lifespan_seconds("e", "a", "base", extra_hits=sql.SQL("u.n")), idle=idle_seconds("e", "a", "now"))


class MemoryWrites(MemoryTable):
    """Writes to memory rows, their source refs and edges, and the change feed."""

    async def find_duplicate(self, target: WriteTarget, content_hash: str) -> MemoryEntry | None:
        where, params = target_filter(target)
        async with self._db.connection() as conn:
            cur = await conn.execute(
                sql.SQL("SELECT {c} FROM memory_entries e WHERE {w} AND e.content_hash = %(h)s").format(
                    c=ENTRY_COLUMNS, w=where
                ),
                {**params, "h": content_hash},
            )
            row = await cur.fetchone()
        return entry_from_row(row) if row else None

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
        The draft's `entry_cap` is checked last, in the transaction (`RateLimited`: nothing is stored).
        """
        embedded = draft.embedding is not None and self._space is not None
        params: dict[str, Any] = {
            "id": draft.id,
            "tenant": draft.tenant_id,
            "user": draft.user_id,
            "project": draft.project_id,
            "scope_key": draft.scope_key,
            "org": draft.organization_id,
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
            "occurred": draft.occurred_at,
            "qvec": vector_text(draft.embedding) if embedded and draft.embedding else None,
            "model": self._space.model if embedded and self._space else None,
            # an embedded entry is linked in this transaction; otherwise its edges are owed
            "graph_owed": fanout > 0 and not embedded,
            "facts_owed": self._extract_facts and draft.source_type != FACT_SOURCE_TYPE,
        }
        edges = 0
        async with self._db.connection() as conn, conn.transaction():
            if replace_id:
                await conn.execute(
                    _logged_delete(
                        sql.SQL(
                            "e.id = %(rid)s AND e.tenant_id = %(tenant)s"
                            " AND e.organization_id IS NOT DISTINCT FROM %(org)s"
                        ),
                        "expired",
                    ),
                    {"rid": replace_id, "tenant": draft.tenant_id, "org": draft.organization_id},
                )
            await conn.execute(
                "INSERT INTO memory_entries (id, tenant_id, user_id, project_id, scope_key, organization_id,"
                " namespace, content, content_hash, source, agent_name, metadata, source_type, captured_from,"
                " confidence, sensitivity, status, expires_at, embedding, embedding_model, embedded_at,"
                " graph_pending_at, occurred_at, facts_pending_at, facts_next_at)"
                " VALUES (%(id)s, %(tenant)s, %(user)s, %(project)s, %(scope_key)s, %(org)s, %(ns)s, %(content)s,"
                " %(hash)s, %(source)s, %(agent)s, %(meta)s::jsonb, %(stype)s, %(cfrom)s, %(conf)s,"
                " %(sens)s, %(status)s, %(expires)s, %(qvec)s::vector, %(model)s,"
                " CASE WHEN %(qvec)s::text IS NULL THEN NULL ELSE now() END,"
                " CASE WHEN %(graph_owed)s THEN now() END, %(occurred)s,"
                " CASE WHEN %(facts_owed)s THEN now() END, CASE WHEN %(facts_owed)s THEN now() END)",
                params,
            )
            await conn.execute(_LOG_CREATED, params)
            await file_entities(conn, draft.tenant_id, [(draft.id, draft.content)])
            if draft.source_refs:
                await self._add_refs(conn, draft.id, draft.tenant_id, draft.source_refs, draft.namespace)
            if supersede is not None:
                await conn.execute(
                    "WITH s AS (UPDATE memory_entries SET status = 'superseded', metadata = %(meta)s::jsonb,"
                    "  updated_at = now() WHERE id = %(old)s AND tenant_id = %(tenant)s"
                    "  AND organization_id IS NOT DISTINCT FROM %(org)s"
                    "  RETURNING id, tenant_id, user_id, project_id)"
                    " INSERT INTO memory_changes (tenant_id, user_id, project_id, entry_id, change, detail)"
                    " SELECT tenant_id, user_id, project_id, id, 'superseded',"
                    "  jsonb_build_object('supersededBy', %(new)s::text) FROM s",
                    {
                        "meta": json.dumps(supersede[1]),
                        "old": supersede[0],
                        "tenant": draft.tenant_id,
                        "org": draft.organization_id,
                        "new": draft.id,
                    },
                )
            if draft.embedding is not None and embedded and fanout > 0:
                target = WriteTarget(draft.tenant_id, draft.user_id, draft.project_id, draft.organization_id)
                edges = await self._link(conn, draft.id, target, draft.namespace, draft.embedding, fanout)
            if draft.entry_cap is not None:
                await enforce_entry_cap(conn, draft.tenant_id, [draft.user_id], draft.entry_cap)
        self._planner_stats.written(1)
        return edges

    async def find_duplicates(
        self, tenant_id: str, organization_id: str | None, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], MemoryEntry]:
        """Existing entries of one tenant and organization by (scope key, content hash), in one query."""
        if not keys:
            return {}
        async with self._db.connection() as conn:
            cur = await conn.execute(
                sql.SQL(
                    "SELECT {c}, e.scope_key FROM memory_entries e"
                    " JOIN unnest(%(scopes)s::text[], %(hashes)s::text[]) AS k(scope_key, content_hash)"
                    " ON e.scope_key = k.scope_key AND e.content_hash = k.content_hash"
                    " WHERE e.tenant_id = %(tenant)s AND e.organization_id IS NOT DISTINCT FROM %(org)s"
                ).format(c=ENTRY_COLUMNS),
                {
                    "scopes": [k[0] for k in keys],
                    "hashes": [k[1] for k in keys],
                    "tenant": tenant_id,
                    "org": organization_id,
                },
            )
            rows = await cur.fetchall()
        return {(r["scope_key"], r["content_hash"]): entry_from_row(r) for r in rows}

    async def insert_many(
        self, drafts: Sequence[EntryDraft], *, fanout: int, replace_ids: Sequence[str] = ()
    ) -> set[str]:
        """Insert many entries of one tenant and organization in one transaction; returns the ids inserted.

        One multi-row INSERT carries every row (with its vector when it has one) and logs `created` for
        each; then every embedded row is linked to its nearest neighbours in its shelf (an HNSW walk per
        row, rows of the same batch included, the statements pipelined). `replace_ids` are expired
        duplicates deleted first (logged `expired`). A row whose (scope, hash) appeared meanwhile is
        skipped, not an error: the caller reports it as a duplicate. The drafts' `entry_cap` is checked last,
        in the transaction (`RateLimited`: none of the rows is stored).
        """
        if not drafts:
            return set()
        tenant, org = drafts[0].tenant_id, drafts[0].organization_id
        assert all(d.tenant_id == tenant and d.organization_id == org for d in drafts), "one tenant per batch"
        space = self._space
        vectors = [vector_text(d.embedding) if d.embedding is not None and space else None for d in drafts]
        columns: dict[str, tuple[str, list[Any]]] = {
            "id": ("text", [d.id for d in drafts]),
            "user_id": ("text", [d.user_id for d in drafts]),
            "project_id": ("text", [d.project_id for d in drafts]),
            "scope_key": ("text", [d.scope_key for d in drafts]),
            "namespace": ("text", [d.namespace for d in drafts]),
            "content": ("text", [d.content for d in drafts]),
            "content_hash": ("text", [d.content_hash for d in drafts]),
            "source": ("text", [d.source for d in drafts]),
            "agent_name": ("text", [d.agent_name for d in drafts]),
            "metadata": ("text", [json.dumps(d.metadata) for d in drafts]),
            "source_type": ("text", [d.source_type for d in drafts]),
            "captured_from": ("text", [d.captured_from for d in drafts]),
            "confidence": ("float8", [d.confidence for d in drafts]),
            "sensitivity": ("int2", [int(d.sensitivity) for d in drafts]),
            "status": ("text", [d.status.value for d in drafts]),
            "expires_at": ("timestamptz", [d.expires_at for d in drafts]),
            "embedding": ("text", vectors),
            "occurred_at": ("timestamptz", [d.occurred_at for d in drafts]),
        }
        unnest = sql.SQL(", ").join(
            sql.SQL("%({p})s::{t}[]").format(p=sql.SQL(name), t=sql.SQL(kind)) for name, (kind, _) in columns.items()
        )
        names = sql.SQL(", ").join(sql.Identifier(name) for name in columns)
        params: dict[str, Any] = {name: values for name, (_, values) in columns.items()}
        params.update(tenant=tenant, org=org, model=space.model if space else None, owed=fanout > 0)
        params.update(facts=self._extract_facts, fact_type=FACT_SOURCE_TYPE)
        statement = sql.SQL(
            "WITH r AS (SELECT * FROM unnest({u}) AS r({n})),"
            " ins AS (INSERT INTO memory_entries (id, tenant_id, user_id, project_id, scope_key, organization_id,"
            "  namespace, content, content_hash, source, agent_name, metadata, source_type, captured_from,"
            "  confidence, sensitivity, status, expires_at, embedding, embedding_model, embedded_at,"
            "  graph_pending_at, occurred_at, facts_pending_at, facts_next_at)"
            "  SELECT r.id, %(tenant)s, r.user_id, r.project_id, r.scope_key, %(org)s, r.namespace, r.content,"
            "  r.content_hash, r.source, r.agent_name, r.metadata::jsonb, r.source_type, r.captured_from,"
            "  r.confidence, r.sensitivity, r.status, r.expires_at, r.embedding::vector,"
            "  CASE WHEN r.embedding IS NULL THEN NULL ELSE %(model)s END,"
            "  CASE WHEN r.embedding IS NULL THEN NULL ELSE now() END,"
            "  CASE WHEN %(owed)s AND r.embedding IS NULL THEN now() END, r.occurred_at,"
            "  CASE WHEN %(facts)s AND r.source_type IS DISTINCT FROM %(fact_type)s THEN now() END,"
            "  CASE WHEN %(facts)s AND r.source_type IS DISTINCT FROM %(fact_type)s THEN now() END"
            "  FROM r ORDER BY r.id"
            "  ON CONFLICT (tenant_id, scope_key, content_hash) DO NOTHING"
            "  RETURNING id, user_id, project_id, source),"
            " logged AS (INSERT INTO memory_changes (tenant_id, user_id, project_id, entry_id, change, detail)"
            "  SELECT %(tenant)s, user_id, project_id, id, 'created', jsonb_build_object('source', source) FROM ins)"
            " SELECT id FROM ins"
        ).format(u=unnest, n=names)
        async with self._db.connection() as conn, conn.transaction():
            if replace_ids:
                await conn.execute(
                    _logged_delete(
                        sql.SQL(
                            "e.id = ANY(%(rids)s) AND e.tenant_id = %(tenant)s"
                            " AND e.organization_id IS NOT DISTINCT FROM %(org)s"
                        ),
                        "expired",
                    ),
                    {"rids": list(replace_ids), "tenant": tenant, "org": org},
                )
            cur = await conn.execute(statement, params)
            inserted = {r["id"] for r in await cur.fetchall()}
            await file_entities(conn, tenant, [(d.id, d.content) for d in drafts if d.id in inserted])
            refs = [
                (d.id, tenant, ref, d.namespace)
                for d in drafts
                if d.id in inserted
                for ref in dict.fromkeys(d.source_refs)
            ]
            if refs:
                async with conn.cursor() as ref_cur:
                    await ref_cur.executemany(
                        "INSERT INTO memory_source_refs (entry_id, tenant_id, source_ref, namespace)"
                        " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                        refs,
                    )
            linked = [d for d, v in zip(drafts, vectors, strict=True) if v is not None and d.id in inserted]
            if space is not None and fanout > 0:
                await self._link_many(conn, linked, fanout)
            caps = [d.entry_cap for d in drafts if d.entry_cap is not None]
            if caps:
                await enforce_entry_cap(conn, tenant, [d.user_id for d in drafts if d.id in inserted], min(caps))
        self._planner_stats.written(len(inserted))
        return inserted

    async def _link_many(self, conn: Conn, drafts: Sequence[EntryDraft], fanout: int) -> None:
        """`co_occurs` edges from each embedded draft to its nearest neighbours in its shelf: `_link`'s
        statement once per row, sent together in one pipeline. Each row's vector is a parameter, so every
        search walks the HNSW index; one statement joining the rows laterally is planned as a scan of
        the whole shelf per row instead, which grows with the store."""
        if not drafts:
            return
        shelves: dict[tuple[WriteTarget, str], list[dict[str, Any]]] = {}
        for d in drafts:
            assert d.embedding is not None
            target = WriteTarget(d.tenant_id, d.user_id, d.project_id, d.organization_id)
            _, params = target_filter(target, "n")
            row = {**params, "id": d.id, "ns": d.namespace, "fanout": fanout, "qvec": vector_text(d.embedding)}
            shelves.setdefault((target, d.namespace), []).append(row)
        for (target, namespace), rows in shelves.items():
            exact = await self._shelf_plan(conn, target, namespace)
            async with conn.cursor() as cur:
                await cur.executemany(self._link_statement(target, exact=exact), rows)
            await self._shelf_plan_done(conn, exact)

    def _link_statement(self, target: WriteTarget, *, exact: bool) -> sql.Composed:
        """`co_occurs` edges from `%(id)s` to the `%(fanout)s` rows of its shelf nearest to `%(qvec)s`.

        The plan is chosen from the shelf's size (`_shelf_plan`), not by the planner: its statistics lag a
        namespace that is filling up, and even when fresh it rates sorting a few thousand rows by distance
        as cheaper than the HNSW walk, while each of those distances reads a row of 1.5 kB. A small shelf
        (`exact`) is read through the scope index and sorted by an expression the HNSW index cannot serve,
        its nearest rows exactly; a larger one is walked through the HNSW index.
        """
        where, _ = target_filter(target, "n")
        return sql.SQL(
            "INSERT INTO memory_relations (tenant_id, from_id, to_id, relation, strength)"
            " SELECT %(w_tenant)s, %(id)s, near.id, 'co_occurs', GREATEST(near.strength, 0) FROM"
            " (SELECT n.id, 1 - ({nv} <=> {qv}) AS strength FROM memory_entries n"
            "  WHERE {w} AND {ns} AND n.id <> %(id)s AND {nm}"
            "  ORDER BY {order} LIMIT %(fanout)s) near"
            " ON CONFLICT DO NOTHING"
        ).format(
            nv=self._vec("n"),
            qv=self._qvec(),
            w=where,
            nm=self._model_match("n"),
            ns=shelf_namespace("n", members=False),
            order=sql.SQL("({nv} <=> {qv}) + 0" if exact else "{nv} <=> {qv}").format(
                nv=self._vec("n"), qv=self._qvec()
            ),
        )

    async def _add_refs(self, conn: Conn, entry_id: str, tenant_id: str, refs: Sequence[str], namespace: str) -> None:
        """Source refs of an entry, each recorded with the namespace it was given under."""
        async with conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO memory_source_refs (entry_id, tenant_id, source_ref, namespace) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                [(entry_id, tenant_id, r, namespace) for r in dict.fromkeys(refs)],
            )

    async def _link(
        self, conn: Conn, entry_id: str, target: WriteTarget, namespace: str, vector: Sequence[float], fanout: int
    ) -> int:
        """Write `co_occurs` edges from an embedded entry to its nearest neighbours in its shelf
        (`_link_statement`). Returns the edges written."""
        _, params = target_filter(target, "n")
        params.update(id=entry_id, ns=namespace, fanout=fanout, qvec=vector_text(vector))
        exact = await self._shelf_plan(conn, target, namespace)
        cur = await conn.execute(self._link_statement(target, exact=exact), params)
        await self._shelf_plan_done(conn, exact)
        return cur.rowcount or 0

    async def add_source_refs(self, entry: MemoryEntry, refs: Sequence[str], namespace: str) -> None:
        """Record source refs given under `namespace` for an entry."""
        if not refs:
            return
        async with self._db.connection() as conn:
            await self._add_refs(conn, entry.id, entry.tenant_id, refs, namespace)

    async def join_namespaces(
        self, tenant_id: str, organization_id: str | None, joins: Sequence[tuple[str, str, Sequence[str]]]
    ) -> None:
        """Make entries members of the namespaces an exact duplicate was stored under, and record the source
        refs it carried there; `joins` is (entry id, namespace, source refs). One transaction.

        The rows are locked in id order first, so concurrent joins of the same entries neither deadlock nor
        lose a membership (each update appends to the row version the previous one committed).
        """
        if not joins:
            return
        ids = [j[0] for j in joins]
        params: dict[str, Any] = {
            "ids": ids,
            "nss": [j[1] for j in joins],
            "tenant": tenant_id,
            "org": organization_id,
        }
        refs = [(entry_id, tenant_id, ref, ns) for entry_id, ns, given in joins for ref in dict.fromkeys(given)]
        async with self._db.connection() as conn, conn.transaction():
            await conn.execute(
                "SELECT 1 FROM memory_entries WHERE id = ANY(%(ids)s) AND tenant_id = %(tenant)s"
                " AND organization_id IS NOT DISTINCT FROM %(org)s ORDER BY id FOR UPDATE",
                params,
            )
            await conn.execute(
                sql.SQL(
                    "UPDATE memory_entries e"
                    " SET namespaces = {m} || ARRAY(SELECT x FROM unnest(j.nss) AS x WHERE x <> ALL({m}))"
                    " FROM (SELECT id, array_agg(DISTINCT ns) AS nss"
                    "  FROM unnest(%(ids)s::text[], %(nss)s::text[]) AS u(id, ns) GROUP BY id) j"
                    " WHERE e.id = j.id AND e.tenant_id = %(tenant)s"
                    " AND e.organization_id IS NOT DISTINCT FROM %(org)s AND NOT (j.nss <@ {m})"
                ).format(m=MEMBERSHIPS),
                params,
            )
            if refs:
                async with conn.cursor() as cur:
                    await cur.executemany(
                        "INSERT INTO memory_source_refs (entry_id, tenant_id, source_ref, namespace)"
                        " SELECT e.id, %s, %s, %s FROM memory_entries e WHERE e.id = %s ON CONFLICT DO NOTHING",
                        [(tenant, ref, ns, entry_id) for entry_id, tenant, ref, ns in refs],
                    )

    async def touch(
        self,
        tenant_id: str,
        ids: Sequence[str],
        *,
        counts: Sequence[int] | None = None,
        promote: bool = True,
        now: datetime | None = None,
    ) -> int:
        """Count hits on the ids as of `now` (default: this moment): `counts[i]` on `ids[i]` (default: one
        each; an id listed twice counts both); with `promote`, bring cold hits back to warm when the lifespan
        these hits give them outlasts how long they had been idle. Returns the promotions.

        One statement: the stats before the hits decide the promotion (`_TOUCH`). Hits live in
        `memory_access` and the tier in `memory_cold`, so neither counting a hit nor promoting ever rewrites
        a memory row or its index entries. A hit count lost to a crash is harmless, so
        these commits do not wait for the WAL flush.
        """
        summed: dict[str, int] = {}
        for entry_id, n in zip(ids, counts if counts is not None else [1] * len(ids), strict=True):
            summed[entry_id] = summed.get(entry_id, 0) + n
        ordered = sorted(entry_id for entry_id, n in summed.items() if n > 0)
        if not ordered:
            return 0
        params = {
            "tenant": tenant_id,
            "ids": ordered,
            "counts": [summed[entry_id] for entry_id in ordered],
            "now": now or now_utc(),
            "base": self._decay_days,
            "promote": promote,
        }
        # one round trip: BEGIN, the setting, the statement and COMMIT go out together (pipeline mode)
        async with self._db.connection() as conn:
            async with conn.pipeline(), conn.transaction():
                await conn.execute("SET LOCAL synchronous_commit = off")
                cur = await conn.execute(_TOUCH, params)
            row = await cur.fetchone()
        return int(row["n"]) if row else 0

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
        params: dict[str, Any] = {"id": entry.id, "tenant": entry.tenant_id, "org": entry.organization_id}
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
            "occurred_at",
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
            # new content: migration 0017's triggers bump the revision and delete the old facts; re-owe them
            if self._extract_facts and fields.get("source_type", entry.source_type) != FACT_SOURCE_TYPE:
                sets.append(sql.SQL("facts_pending_at = now(), facts_next_at = now(), facts_attempts = 0"))
        if scope_key is not None:
            sets.append(sql.SQL("scope_key = %(scope_key)s"))
            params["scope_key"] = scope_key
        params["content_changed"] = content is not None
        async with self._db.connection() as conn, conn.transaction():
            cur = await conn.execute(
                sql.SQL(
                    "WITH u AS (UPDATE memory_entries SET {s} WHERE id = %(id)s AND tenant_id = %(tenant)s"
                    "  AND organization_id IS NOT DISTINCT FROM %(org)s RETURNING id, tenant_id, user_id, project_id)"
                    " INSERT INTO memory_changes (tenant_id, user_id, project_id, entry_id, change, detail)"
                    " SELECT tenant_id, user_id, project_id, id, 'updated',"
                    "  jsonb_build_object('contentChanged', %(content_changed)s::boolean) FROM u"
                ).format(s=sql.SQL(", ").join(sets)),
                params,
            )
            if content is not None and cur.rowcount:
                await refile_entities(conn, entry.tenant_id, entry.id, content)

    async def delete(self, tenant_id: str, ids: Sequence[str], *, organization_id: str | None = None) -> list[str]:
        """Delete entries of one tenant and organization (None: no organization; their refs and edges cascade),
        logging `deleted`; returns the ids deleted."""
        if not ids:
            return []
        where = sql.SQL(
            "e.tenant_id = %(tenant)s AND e.id = ANY(%(ids)s) AND e.organization_id IS NOT DISTINCT FROM %(org)s"
        )
        async with self._db.connection() as conn:
            cur = await conn.execute(
                _logged_delete(where, "deleted"), {"tenant": tenant_id, "ids": list(ids), "org": organization_id}
            )
            return [r["id"] for r in await cur.fetchall()]

    async def delete_by_source_ref(self, scope: ReadScope, source_ref: str, namespace: str | None = None) -> list[str]:
        """Forget what was stored with the exact source ref, in scope, in one transaction; returns the ids.

        Each matched entry leaves the namespaces the ref was given under (only `namespace`, when given); an
        entry left in no namespace is deleted (logging `deleted`). An entry stored in other namespaces
        without this ref stays a member of those.
        """
        where, params = read_filter(scope, with_namespaces=False)
        params.update(ref=source_ref, ns=namespace)
        async with self._db.connection() as conn, conn.transaction():
            cur = await conn.execute(
                sql.SQL(
                    "SELECT e.id, {m} AS namespaces FROM memory_entries e WHERE e.id IN (SELECT r.entry_id"
                    " FROM memory_source_refs r WHERE r.tenant_id = %(s_tenant)s AND r.source_ref = %(ref)s"
                    " AND (%(ns)s::text IS NULL OR r.namespace = %(ns)s)) AND {w} ORDER BY e.id FOR UPDATE"
                ).format(w=where, m=MEMBERSHIPS),
                params,
            )
            members = {r["id"]: list(r["namespaces"]) for r in await cur.fetchall()}
            cur = await conn.execute(
                "SELECT entry_id, namespace FROM memory_source_refs WHERE entry_id = ANY(%(ids)s)"
                " AND source_ref = %(ref)s AND (%(ns)s::text IS NULL OR namespace = %(ns)s)",
                {"ids": list(members), "ref": source_ref, "ns": namespace},
            )
            gone: dict[str, set[str]] = {}
            for r in await cur.fetchall():
                gone.setdefault(r["entry_id"], set()).add(r["namespace"])
            await self._leave(conn, scope.tenant_id, members, gone)
        return sorted(members)

    async def leave_namespace(self, scope: ReadScope, entry_id: str, namespace: str) -> bool:
        """Take an entry the scope may read out of one namespace (with the source refs given there), deleting
        it (logged `deleted`) when that was its last; False when it was not a member."""
        where, params = read_filter(scope, with_namespaces=False)
        async with self._db.connection() as conn, conn.transaction():
            cur = await conn.execute(
                sql.SQL(
                    "SELECT e.id, {m} AS namespaces FROM memory_entries e WHERE e.id = %(id)s AND {w}"
                    " AND %(ns)s = ANY({m}) FOR UPDATE"
                ).format(w=where, m=MEMBERSHIPS),
                {**params, "id": entry_id, "ns": namespace},
            )
            row = await cur.fetchone()
            if row is None:
                return False
            await self._leave(conn, scope.tenant_id, {entry_id: list(row["namespaces"])}, {entry_id: {namespace}})
        return True

    async def _leave(
        self, conn: Conn, tenant_id: str, members: dict[str, list[str]], gone: dict[str, set[str]]
    ) -> None:
        """Remove the `gone` namespaces from locked entries (`members`: their current namespaces) and the source
        refs given there; an entry left in none is deleted (logged `deleted`)."""
        kept = {i: [n for n in ns if n not in gone.get(i, set())] for i, ns in members.items()}
        emptied = [i for i, ns in kept.items() if not ns]
        if emptied:
            await conn.execute(
                _logged_delete(sql.SQL("e.id = ANY(%(ids)s) AND e.tenant_id = %(tenant)s"), "deleted"),
                {"ids": emptied, "tenant": tenant_id},
            )
        left = [(ns, i) for i, ns in kept.items() if ns and ns != members[i]]
        if left:
            async with conn.cursor() as cur:
                await cur.executemany("UPDATE memory_entries SET namespaces = %s WHERE id = %s", left)
            await conn.execute(
                sql.SQL(
                    "DELETE FROM memory_source_refs r USING memory_entries e WHERE r.entry_id = e.id"
                    " AND e.id = ANY(%(ids)s) AND r.namespace <> ALL({m})"
                ).format(m=MEMBERSHIPS),
                {"ids": [i for _, i in left]},
            )

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
                        " RETURNING tenant_id, user_id, project_id, organization_id, namespace",
                        (vector_text(vec), self._space.model, fanout > 0, owed.id, owed.content_hash),
                    )
                    row = await cur.fetchone()
                    if row is not None:
                        stored += 1
                        if fanout > 0:
                            target = WriteTarget(
                                row["tenant_id"], row["user_id"], row["project_id"], row["organization_id"]
                            )
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
