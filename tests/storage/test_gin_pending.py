"""The GIN index of memory_entries (memberships and words, migration 0024) keeps a short pending list
(migration 0023 set it on the two indexes it replaced): new entries are merged into the index after 64 kB
instead of PostgreSQL's 4 MB, because every search through the index reads the whole unsorted list."""

from __future__ import annotations

import random

from novamem.storage.postgres.database import Database
from novamem.storage.postgres.memories import PostgresMemoryStore
from tests.storage.drafts import user_draft

GIN_INDEX = "memory_entries_terms"
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


async def test_the_gin_index_merges_pending_entries_after_64_kb_and_is_the_only_one(db: Database) -> None:
    async with db.connection() as conn:
        cur = await conn.execute(
            "SELECT i.relname, i.reloptions FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
            " JOIN pg_am a ON a.oid = i.relam WHERE x.indrelid = 'memory_entries'::regclass AND a.amname = 'gin'"
        )
        options = {r["relname"]: r["reloptions"] for r in await cur.fetchall()}
    assert options == {GIN_INDEX: ["gin_pending_list_limit=64"]}


async def test_writes_leave_at_most_the_limit_pending_where_the_default_would_leave_more(db: Database) -> None:
    store = PostgresMemoryStore(db, None)
    rng = random.Random(3)
    await write(store, 1200, rng)
    # the limit is checked after each entry is appended, so one page more at most
    assert await pending_pages(db, GIN_INDEX) <= LIMIT_PAGES + 1
    # the same writes under PostgreSQL's default: what every search would read until a vacuum
    async with db.connection() as conn:
        await conn.execute(f"ALTER INDEX {GIN_INDEX} RESET (gin_pending_list_limit)")
    await write(store, 1200, rng)
    assert await pending_pages(db, GIN_INDEX) > 3 * LIMIT_PAGES
    await store.settle()  # the statistics refresh these writes started
