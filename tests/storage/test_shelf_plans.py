"""Nearest rows in a shelf (one owner's namespace): a new memory's `co_occurs` edges and the near-duplicate
read of a write. Read exactly in a small shelf and through the HNSW index in a large one, chosen by
counting the shelf, not by the planner's statistics, which still call a namespace empty while it fills up."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest

from novamem.domain.entries import EntryDraft
from novamem.domain.scope import WriteTarget
from novamem.storage.base import VectorSpace
from novamem.storage.postgres.database import Database
from novamem.storage.postgres.memories import PostgresMemoryStore
from novamem.storage.postgres.memory_table import EXACT_SHELF_ROWS
from tests.storage.drafts import user_draft

SPACE = VectorSpace("test:3d", 3)
ALICE = WriteTarget("acme", "alice", None, None)


def drafts(rng: random.Random, namespace: str, rows: int) -> list[EntryDraft]:
    return [
        replace(user_draft(f"{namespace} note {rng.random()}", embedding=vector(rng)), namespace=namespace)
        for _ in range(rows)
    ]


def vector(rng: random.Random) -> list[float]:
    return [rng.uniform(-1, 1) for _ in range(3)]


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.hypot(*a) / math.hypot(*b)


@pytest.fixture
async def store(db: Database) -> PostgresMemoryStore:
    built = PostgresMemoryStore(db, SPACE)
    await built.prepare_vector_space()
    async with db.connection() as conn:
        # statistics taken while the table is empty, and kept: what a namespace filling up looks like
        await conn.execute("ALTER TABLE memory_entries SET (autovacuum_enabled = false)")
        await conn.execute("ANALYZE memory_entries")
    return built


async def large_shelf(store: PostgresMemoryStore, rng: random.Random) -> list[EntryDraft]:
    """More than EXACT_SHELF_ROWS rows in namespace `big`, stored unlinked, 200 a batch."""
    big = drafts(rng, "big", EXACT_SHELF_ROWS + 100)
    for start in range(0, len(big), 200):
        await store.insert_many(big[start : start + 200], fanout=0)
    return big


async def edges(db: Database, entry_id: str) -> set[str]:
    async with db.connection() as conn:
        cur = await conn.execute("SELECT to_id FROM memory_relations WHERE from_id = %s", (entry_id,))
        return {r["to_id"] for r in await cur.fetchall()}


async def plan(store: PostgresMemoryStore, db: Database, namespace: str) -> str:
    async with db.connection() as conn, conn.transaction():
        exact = await store._shelf_plan(conn, ALICE, namespace)
        statement = store._link_statement(ALICE, exact=exact)
        cur = await conn.execute(
            b"EXPLAIN " + statement.as_bytes(conn),
            {"w_tenant": "acme", "w_scope": "u:alice", "id": "x", "ns": namespace, "fanout": 3, "qvec": "[1,0,0]"},
        )
        return "\n".join(r["QUERY PLAN"] for r in await cur.fetchall())


async def test_a_small_shelf_links_its_exact_nearest_rows(store: PostgresMemoryStore, db: Database) -> None:
    rng = random.Random(1)
    small = drafts(rng, "small", 40)
    await store.insert_many(small + drafts(rng, "elsewhere", 40), fanout=0)
    new = drafts(rng, "small", 1)[0]
    await store.insert(new, fanout=3)
    assert new.embedding is not None
    nearest = sorted(small, key=lambda d: -cosine(d.embedding or [], new.embedding or []))[:3]
    assert await edges(db, new.id) == {d.id for d in nearest}
    assert "hnsw" not in await plan(store, db, "small")


async def test_a_large_shelf_walks_the_hnsw_index_though_the_statistics_call_it_empty(
    store: PostgresMemoryStore, db: Database
) -> None:
    rng = random.Random(2)
    big = await large_shelf(store, rng)
    assert "hnsw" in await plan(store, db, "big")
    # a batch links each of its rows to rows of the shelf
    batch = drafts(rng, "big", 5)
    await store.insert_many(batch, fanout=3)
    members = {d.id for d in big + batch}
    for d in batch:
        linked = await edges(db, d.id)
        assert len(linked) == 3 and linked <= members
    await store.settle()


async def test_the_near_duplicate_read_of_a_small_namespace_is_exact_and_counts_its_members(
    store: PostgresMemoryStore, db: Database
) -> None:
    rng = random.Random(3)
    big = await large_shelf(store, rng)
    small = drafts(rng, "small", 12)
    await store.insert_many(small, fanout=0)
    # a memory of `big` stored again under `small` is a member of both
    joined = big[0]
    async with db.connection() as conn:
        await conn.execute("UPDATE memory_entries SET namespaces = namespaces || '{small}' WHERE id = %s", (joined.id,))
    members = [*small, joined]
    probe = joined.embedding or []
    found = await store.nearest_active(ALICE, "small", probe, 4)
    expected = sorted(members, key=lambda d: -cosine(d.embedding or [], probe))[:4]
    assert [entry.id for entry, _ in found] == [d.id for d in expected]
    assert found[0][1] == pytest.approx(1.0)
    # a new namespace: nothing near, found at once
    assert await store.nearest_active(ALICE, "brand-new", probe, 4) == []
    # the large shelf through the HNSW index: its own rows, nearest first
    near_big = await store.nearest_active(ALICE, "big", probe, 4)
    assert near_big[0][0].id == joined.id
    assert {entry.id for entry, _ in near_big} <= {d.id for d in big}
