"""The entity postings (`memory_entity_postings`, migration 0022): each memory filed under the entities of
its text (`domain.linking.posting_entities`), written in the transaction that writes the memory or its
new content, and filed at start-up for the memories stored before the table existed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from psycopg import AsyncConnection

from novamem.domain.linking import posting_entities
from novamem.storage.postgres.database import Database
from novamem.storage.postgres.scoping import owner_key

__all__ = ["FILING_BATCH", "file_entities", "file_unfiled", "postings_params", "refile_entities"]

log = logging.getLogger("novamem.storage")

# memories read and filed per transaction at start-up
FILING_BATCH = 2000
_STATE_KEY = "entity_postings"
_COMPLETE = "complete"
# one session lock for the start-up filing: a second replica starting at once waits, then finds it done
_FILING_LOCK = 0x6E6D_656E_7469  # "nm enti"

# postings carry their memory's owner (`owner_key`, migration 0025)
_FILE = (
    "INSERT INTO memory_entity_postings (tenant_id, entity, entry_id, owner)"
    " SELECT e.tenant_id, u.entity, u.entry_id, " + owner_key("e") + " FROM"
    " unnest(%(p_entities)s::text[], %(p_ids)s::text[]) AS u(entity, entry_id)"
    " JOIN memory_entries e ON e.id = u.entry_id AND e.tenant_id = %(p_tenant)s ON CONFLICT DO NOTHING"
)


def postings_params(tenant_id: str, entries: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Parameters `p_tenant`, `p_entities` and `p_ids`: every (entity, entry id) of the (id, content) pairs."""
    entities: list[str] = []
    ids: list[str] = []
    for entry_id, content in entries:
        for entity in posting_entities(content):
            entities.append(entity)
            ids.append(entry_id)
    return {"p_tenant": tenant_id, "p_entities": entities, "p_ids": ids}


async def file_entities(conn: AsyncConnection[Any], tenant_id: str, entries: Iterable[tuple[str, str]]) -> None:
    """File memories of one tenant, given as (id, content), in the caller's transaction (which wrote them,
    or holds them: each posting takes its owner from the memory's row)."""
    params = postings_params(tenant_id, entries)
    if params["p_ids"]:
        await conn.execute(_FILE, params)


async def refile_entities(conn: AsyncConnection[Any], tenant_id: str, entry_id: str, content: str) -> None:
    """Replace a memory's postings after its content changed, in the caller's transaction."""
    await conn.execute("DELETE FROM memory_entity_postings WHERE entry_id = %(id)s", {"id": entry_id})
    await file_entities(conn, tenant_id, [(entry_id, content)])


async def file_unfiled(db: Database, batch: int = FILING_BATCH) -> int:
    """File the memories stored before migration 0022, oldest id first, one batch per transaction; returns
    how many were read. Each batch locks its rows (`FOR SHARE`), so a content change waits for it and then
    replaces what it filed; memories written meanwhile are filed by their own writes."""
    filed = 0
    started = time.monotonic()
    async with db.connection() as conn:
        await conn.execute("SELECT pg_advisory_lock(%s)", (_FILING_LOCK,))
        try:
            while True:
                async with conn.transaction():
                    cur = await conn.execute("SELECT value FROM engine_state WHERE key = %s FOR UPDATE", (_STATE_KEY,))
                    row = await cur.fetchone()
                    if row is None or row["value"] == _COMPLETE:
                        break
                    after = str(row["value"]).removeprefix("after:")
                    cur = await conn.execute(
                        "SELECT id, tenant_id, content FROM memory_entries WHERE id > %s"
                        " ORDER BY id LIMIT %s FOR SHARE",
                        (after, batch),
                    )
                    rows = await cur.fetchall()
                    by_tenant: dict[str, list[tuple[str, str]]] = {}
                    for r in rows:
                        by_tenant.setdefault(r["tenant_id"], []).append((r["id"], r["content"]))
                    for tenant_id, entries in by_tenant.items():
                        await file_entities(conn, tenant_id, entries)
                    filed += len(rows)
                    value = f"after:{rows[-1]['id']}" if len(rows) == batch else _COMPLETE
                    await conn.execute(
                        "UPDATE engine_state SET value = %s, updated_at = now() WHERE key = %s", (value, _STATE_KEY)
                    )
            if filed:
                # statistics for the lookups' plans, and a visibility map for their index-only reads, now rather
                # than whenever autovacuum next looks
                await conn.execute("VACUUM (ANALYZE) memory_entity_postings")
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (_FILING_LOCK,))
    if filed:
        log.info(
            "filed the entities of %d memories stored before entity postings in %.1f s",
            filed,
            time.monotonic() - started,
        )
    return filed
