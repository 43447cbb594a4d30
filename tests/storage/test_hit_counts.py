"""Counting hits never waits for a transaction that is deleting one of the memories hit.

A batch of hit counts is written shortly after a search; a forget, a forget by source or an erasure can be
deleting some of the same memories at that moment. Deleting a memory deletes its hit row too, so a batch
that waited for the deletion while holding other rows the deletion needs next made PostgreSQL abort one
of them as a deadlock, and the abort could land on the forget. A batch now skips memories whose deletion
is in progress (they are going away) and counts the rest.
"""

from __future__ import annotations

import asyncio

from novamem.storage.postgres.database import Database
from novamem.storage.postgres.memories import PostgresMemoryStore
from tests.storage.drafts import user_draft


async def hits(db: Database) -> dict[str, int]:
    async with db.connection() as conn:
        cur = await conn.execute("SELECT entry_id, hits FROM memory_access")
        return {r["entry_id"]: int(r["hits"]) for r in await cur.fetchall()}


async def test_hits_skip_a_memory_being_deleted_and_count_the_others(db: Database) -> None:
    store = PostgresMemoryStore(db, None)
    going, staying, counted = (user_draft(text) for text in ("going away", "staying", "counted before"))
    await store.insert_many([going, staying, counted], fanout=0)
    await store.touch("acme", [counted.id])
    async with db.connection() as deleter, deleter.transaction():
        await deleter.execute("DELETE FROM memory_entries WHERE id = %s", (going.id,))
        # the deletion holds its row until it commits: the batch must not wait for it
        await asyncio.wait_for(store.touch("acme", [going.id, staying.id, counted.id]), timeout=10)
    assert await hits(db) == {staying.id: 1, counted.id: 2}


async def test_hits_count_memories_whose_other_columns_are_being_updated(db: Database) -> None:
    # storing a vector, a lifecycle change: only deletion and a new content hash (a key) make a batch skip
    store = PostgresMemoryStore(db, None)
    edited = user_draft("updated while hit")
    await store.insert_many([edited], fanout=0)
    async with db.connection() as editor, editor.transaction():
        await editor.execute(
            "UPDATE memory_entries SET embedded_at = now(), status = 'active' WHERE id = %s", (edited.id,)
        )
        await asyncio.wait_for(store.touch("acme", [edited.id]), timeout=10)
    assert await hits(db) == {edited.id: 1}
