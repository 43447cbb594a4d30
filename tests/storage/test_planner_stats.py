"""The planner's statistics of memory_entries are refreshed while memories are written in bulk, so a
namespace that is filling up stops counting as empty long before autovacuum would look at the table."""

from __future__ import annotations

from dataclasses import replace
from uuid import uuid4

from novamem.storage.postgres.database import Database
from novamem.storage.postgres.memories import PostgresMemoryStore
from novamem.storage.postgres.planner_stats import ANALYZE_EVERY_ROWS
from tests.storage.drafts import user_draft


async def namespace_statistics(db: Database) -> list[str] | None:
    """The most common namespaces the planner knows of (None: the column has no statistics yet)."""
    async with db.connection() as conn:
        cur = await conn.execute(
            "SELECT most_common_vals::text::text[] AS vals FROM pg_stats"
            " WHERE tablename = 'memory_entries' AND attname = 'namespace'"
        )
        row = await cur.fetchone()
    return None if row is None else list(row["vals"] or [])


async def write(store: PostgresMemoryStore, rows: int, namespace: str) -> None:
    for start in range(0, rows, 200):
        drafts = [replace(user_draft(f"note {uuid4()} of {namespace}"), namespace=namespace) for _ in range(200)]
        await store.insert_many(drafts[: rows - start], fanout=0)


async def quiet_autovacuum(db: Database) -> None:
    async with db.connection() as conn:
        await conn.execute("ALTER TABLE memory_entries SET (autovacuum_enabled = false)")


async def test_statistics_are_refreshed_after_every_batch_of_rows_written(db: Database) -> None:
    await quiet_autovacuum(db)
    store = PostgresMemoryStore(db, None)
    await write(store, ANALYZE_EVERY_ROWS - 200, "transcript")
    await store.settle()
    assert await namespace_statistics(db) is None
    await write(store, 200, "transcript")
    await store.settle()
    assert await namespace_statistics(db) == ["transcript"]
    # the next refresh sees the next namespace filling up
    await write(store, ANALYZE_EVERY_ROWS, "import")
    await store.settle()
    assert set(await namespace_statistics(db) or []) == {"transcript", "import"}


async def test_a_refresh_that_cannot_get_the_table_gives_up_and_writes_go_on(db: Database) -> None:
    await quiet_autovacuum(db)
    store = PostgresMemoryStore(db, None)
    async with db.connection() as holder, holder.transaction():
        # what a vacuum or another ANALYZE holds: the refresh waits a second, then lets the next batch try
        await holder.execute("LOCK TABLE memory_entries IN SHARE UPDATE EXCLUSIVE MODE")
        await write(store, ANALYZE_EVERY_ROWS, "transcript")
        await store.settle()
    assert await namespace_statistics(db) is None
    async with db.connection() as conn:
        cur = await conn.execute("SELECT count(*) AS n FROM memory_entries")
        row = await cur.fetchone()
    assert row is not None and row["n"] == ANALYZE_EVERY_ROWS
