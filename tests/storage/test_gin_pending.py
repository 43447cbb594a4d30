"""The GIN indexes of memory_entries keep short pending lists (migration 0023): new entries are merged into
the index after 64 kB instead of PostgreSQL's 4 MB, because every search through the index reads the whole
unsorted list."""

from __future__ import annotations

import random

from novamem.storage.postgres.database import Database
from novamem.storage.postgres.memories import PostgresMemoryStore
from tests.storage.drafts import user_draft

GIN_INDEXES = ("memory_entries_tsv", "memory_entries_namespaces")
LIMIT_PAGES = 64 * 1024 // 8192


async def write(store: PostgresMemoryStore, rows: int, rng: random.Random) -> None:
    vocabulary = [f"term{n}x" for n in range(3000)]
    for _ in range(rows // 200):
        drafts = [user_draft(" ".join(rng.sample(vocabulary, 14))) for _ in range(200)]
        await store.insert_many(drafts, fanout=0)


async def pending_pages(db: Database, index: str) -> int:
    """Pages of `index`'s pending list, merged into the index by the call that counts them."""
    async with db.connection() as conn:
        cur = await conn.execute("SELECT gin_clean_pending_list(%s::regclass) AS pages", (index,))
        row = await cur.fetchone()
    assert row is not None
    return int(row["pages"])


async def test_both_gin_indexes_merge_pending_entries_after_64_kb(db: Database) -> None:
    async with db.connection() as conn:
        cur = await conn.execute(
            "SELECT relname, reloptions FROM pg_class WHERE relname = ANY(%s::text[])", (list(GIN_INDEXES),)
        )
        options = {r["relname"]: r["reloptions"] for r in await cur.fetchall()}
    assert options == {index: ["gin_pending_list_limit=64"] for index in GIN_INDEXES}


async def test_writes_leave_at_most_the_limit_pending_where_the_default_would_leave_more(db: Database) -> None:
    store = PostgresMemoryStore(db, None)
    rng = random.Random(3)
    await write(store, 1200, rng)
    # the limit is checked after each entry is appended, so one page more at most
    assert await pending_pages(db, "memory_entries_tsv") <= LIMIT_PAGES + 1
    # the same writes under PostgreSQL's default: what every search would read until a vacuum
    async with db.connection() as conn:
        await conn.execute("ALTER INDEX memory_entries_tsv RESET (gin_pending_list_limit)")
    await write(store, 1200, rng)
    assert await pending_pages(db, "memory_entries_tsv") > 3 * LIMIT_PAGES
    await store.settle()  # the statistics refresh these writes started
