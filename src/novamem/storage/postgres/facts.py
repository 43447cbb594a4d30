"""PostgreSQL side of fact extraction: the `facts_*` debt columns of `memory_entries` (migration 0017) and
the fact rows, linked to their source by `fact_source_id` (ON DELETE CASCADE) and `metadata.source_chunk_id`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from novamem.domain.entries import Sensitivity
from novamem.domain.facts import FACT_SOURCE_TYPE
from novamem.storage.base import VectorSpace
from novamem.storage.facts import FactDraft, OwedExtraction
from novamem.storage.postgres.database import Database
from novamem.storage.postgres.entity_postings import postings_params
from novamem.storage.postgres.memory_table import vector_text
from novamem.storage.postgres.scoping import owner_key

__all__ = ["PostgresFactStore"]

# due debts, claimed with a lease; rows another drain is claiming right now are skipped, not waited for.
# NO KEY UPDATE is what the claim's own UPDATE takes: it does not clash with the KEY SHARE locks that
# foreign-key inserts (hits, edges) take on the row, so a search touching an entry never hides it here
_CLAIM = (
    "WITH due AS (SELECT id FROM memory_entries WHERE facts_pending_at IS NOT NULL AND facts_next_at <= now()"
    "  ORDER BY facts_next_at, id LIMIT %(limit)s FOR NO KEY UPDATE SKIP LOCKED)"
    " UPDATE memory_entries e SET facts_next_at = now() + make_interval(secs => %(lease)s)"
    " FROM due WHERE e.id = due.id"
    " RETURNING e.id, e.facts_revision, e.content, coalesce(e.occurred_at, e.created_at) AS written_at,"
    " e.sensitivity, e.facts_attempts"
)

# the source, locked, only while it exists at the revision the extraction read and still owes: an update that
# committed meanwhile changed the revision, one still running waits for this transaction and then deletes
# what it landed (migration 0017's trigger), and a delete takes the facts with it (the foreign key).
# NO KEY UPDATE conflicts with every update and delete of the row (so it orders the landing against them)
# but not with the KEY SHARE locks of hits and edges being recorded for it
_LOCK_SOURCE = (
    "SELECT id FROM memory_entries WHERE id = %(id)s AND facts_revision = %(rev)s"
    " AND facts_pending_at IS NOT NULL FOR NO KEY UPDATE"
)

# the facts, each logged `created` in the same statement (with `fact` and its source's id, as migration 0020's
# `deleted` rows are); a fact whose content the scope already holds is skipped, not logged
_INSERT_FACTS = (
    "WITH f AS (SELECT * FROM unnest(%(ids)s::text[], %(contents)s::text[], %(hashes)s::text[], %(metas)s::text[],"
    "  %(occurred)s::timestamptz[], %(vectors)s::text[]) AS f(id, content, content_hash, metadata, occurred_at,"
    "  embedding)),"
    " ins AS (INSERT INTO memory_entries (id, tenant_id, user_id, project_id, scope_key, organization_id,"
    "  namespace, content, content_hash, source, agent_name, metadata, source_type, captured_from, confidence,"
    "  sensitivity, status, expires_at, embedding, embedding_model, embedded_at, occurred_at, fact_source_id)"
    "  SELECT f.id, s.tenant_id, s.user_id, s.project_id, s.scope_key, s.organization_id, s.namespace,"
    "  f.content, f.content_hash, s.source, s.agent_name, f.metadata::jsonb, %(stype)s, s.captured_from,"
    "  s.confidence, s.sensitivity, s.status, s.expires_at, f.embedding::vector,"
    "  CASE WHEN f.embedding IS NULL THEN NULL ELSE %(model)s END,"
    "  CASE WHEN f.embedding IS NULL THEN NULL ELSE now() END,"
    "  coalesce(f.occurred_at, s.occurred_at), s.id"
    "  FROM f CROSS JOIN memory_entries s WHERE s.id = %(source)s ORDER BY f.id"
    "  ON CONFLICT (tenant_id, scope_key, content_hash) DO NOTHING"
    "  RETURNING id, tenant_id, user_id, project_id, source, fact_source_id),"
    " logged AS (INSERT INTO memory_changes (tenant_id, user_id, project_id, entry_id, change, detail)"
    "  SELECT tenant_id, user_id, project_id, id, 'created',"
    "   jsonb_build_object('source', source, 'fact', true, 'sourceId', fact_source_id) FROM ins)"
    # each fact filed under its entities (migration 0022), the skipped ones not
    ", filed AS (INSERT INTO memory_entity_postings (tenant_id, entity, entry_id, owner)"
    "  SELECT ins.tenant_id, u.entity, u.entry_id, " + owner_key("ins") + " FROM"
    "  unnest(%(p_entities)s::text[], %(p_ids)s::text[]) AS u(entity, entry_id) JOIN ins ON ins.id = u.entry_id"
    "  ON CONFLICT DO NOTHING)"
    " SELECT count(*) AS n FROM ins"
)

_CLEAR = "UPDATE memory_entries SET facts_pending_at = NULL, facts_next_at = NULL, facts_attempts = 0 WHERE id = %(id)s"

_DEFER = (
    "UPDATE memory_entries SET facts_attempts = facts_attempts + 1,"
    " facts_next_at = now() + make_interval(secs => %(delay)s)"
    " WHERE id = %(id)s AND facts_revision = %(rev)s AND facts_pending_at IS NOT NULL"
)


class PostgresFactStore:
    """Extraction debts and fact rows in `memory_entries`."""

    def __init__(self, db: Database, space: VectorSpace | None) -> None:
        self._db = db
        self._space = space

    async def claim_owed(self, limit: int, lease_s: float) -> list[OwedExtraction]:
        async with self._db.connection() as conn:
            cur = await conn.execute(_CLAIM, {"limit": limit, "lease": lease_s})
            rows = await cur.fetchall()
        return [
            OwedExtraction(
                id=r["id"],
                revision=int(r["facts_revision"]),
                content=r["content"],
                written_at=r["written_at"],
                sensitivity=Sensitivity(r["sensitivity"]).label,
                attempts=int(r["facts_attempts"]),
            )
            for r in rows
        ]

    async def land(self, owed: OwedExtraction, facts: Sequence[FactDraft]) -> int | None:
        space = self._space
        params: dict[str, Any] = {
            "ids": [f.id for f in facts],
            "contents": [f.content for f in facts],
            "hashes": [f.content_hash for f in facts],
            "metas": [json.dumps(f.metadata) for f in facts],
            "occurred": [f.occurred_at for f in facts],
            "vectors": [vector_text(f.embedding) if f.embedding is not None and space else None for f in facts],
            "model": space.model if space else None,
            "stype": FACT_SOURCE_TYPE,
            "source": owed.id,
            # the tenant is the source's, which the statement reads
            **postings_params("", ((f.id, f.content) for f in facts)),
        }
        async with self._db.connection() as conn, conn.transaction():
            cur = await conn.execute(_LOCK_SOURCE, {"id": owed.id, "rev": owed.revision})
            if await cur.fetchone() is None:
                return None
            inserted = 0
            if facts:
                cur = await conn.execute(_INSERT_FACTS, params)
                row = await cur.fetchone()
                inserted = int(row["n"]) if row else 0
            await conn.execute(_CLEAR, {"id": owed.id})
        return inserted

    async def defer(self, owed: OwedExtraction, delay_s: float) -> None:
        async with self._db.connection() as conn:
            await conn.execute(_DEFER, {"id": owed.id, "rev": owed.revision, "delay": delay_s})

    async def count_owed(self) -> int:
        async with self._db.connection() as conn:
            cur = await conn.execute("SELECT count(*) AS n FROM memory_entries WHERE facts_pending_at IS NOT NULL")
            row = await cur.fetchone()
        return int(row["n"]) if row else 0
