"""Searches in a narrow scope (few rows of a large table: a small namespace, a user among many): the
vector phase sorts the scope's rows by distance instead of walking the HNSW index, and the graph stage
reads the entity postings of the scope's rows instead of every posting of each entity. Both walks
filter rows of the whole table to the scope, so in a narrow scope they read many rows for each they keep
(`ScopeSizes.narrow`)."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest
from psycopg import sql

from novamem.domain.entries import EntryDraft
from novamem.domain.scope import ReadScope
from novamem.storage.base import VectorSpace
from novamem.storage.graph_index import LinkQuery
from novamem.storage.postgres import graph as graph_module
from novamem.storage.postgres.database import Database, VectorParam
from novamem.storage.postgres.graph import NARROW_POSTINGS_FACTOR, PostgresGraph, PostingsRead
from novamem.storage.postgres.memories import PostgresMemoryStore
from novamem.storage.postgres.memory_retrieval import EXACT_VECTOR_FACTOR
from novamem.storage.postgres.scope_sizes import SCOPE_COUNT_CAP, ScopeSizes
from novamem.storage.postgres.scoping import read_filter, visible_filter
from tests.storage.drafts import user_draft

SPACE = VectorSpace("test:3d", 3)
BIG_ROWS = 1200


def alice(*namespaces: str) -> ReadScope:
    return ReadScope(tenant_id="acme", user_id="alice", namespaces=namespaces or None)


def drafts(rng: random.Random, namespace: str, rows: int, text: str = "note") -> list[EntryDraft]:
    return [
        replace(
            user_draft(f"{text} {namespace} {rng.random()}", embedding=[rng.uniform(-1, 1) for _ in range(3)]),
            namespace=namespace,
        )
        for _ in range(rows)
    ]


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.hypot(*a) / math.hypot(*b)


async def analyse(db: Database) -> None:
    async with db.connection() as conn:
        await conn.execute("ANALYZE memory_entries")


@pytest.fixture
async def store(db: Database) -> PostgresMemoryStore:
    built = PostgresMemoryStore(db, SPACE)
    await built.prepare_vector_space()
    return built


async def fill(store: PostgresMemoryStore, rows: list[EntryDraft]) -> None:
    for start in range(0, len(rows), 300):
        await store.insert_many(rows[start : start + 300], fanout=0)


async def test_a_scope_is_narrow_when_it_is_a_small_share_of_a_large_table(
    store: PostgresMemoryStore, db: Database
) -> None:
    rng = random.Random(1)
    sizes = ScopeSizes()
    await fill(store, drafts(rng, "big", BIG_ROWS) + drafts(rng, "small", 12))
    async with db.connection() as conn:
        # before the table was ever analysed its size is unknown: no scope is narrow
        assert await sizes.table_rows(conn) == 0
        assert not await sizes.narrow(conn, alice("small"), EXACT_VECTOR_FACTOR)
    await analyse(db)
    sizes = ScopeSizes()
    async with db.connection() as conn:
        assert await sizes.scope_rows(conn, alice("small")) == 12
        assert await sizes.scope_rows(conn, alice()) == BIG_ROWS + 12
        assert await sizes.table_rows(conn) == BIG_ROWS + 12
        assert await sizes.narrow(conn, alice("small"), EXACT_VECTOR_FACTOR)
        assert await sizes.narrow(conn, alice("small"), NARROW_POSTINGS_FACTOR)
        assert await sizes.narrow(conn, ReadScope(tenant_id="acme", user_id="bob"), EXACT_VECTOR_FACTOR)
        # most of the table, or all of it, is not
        assert not await sizes.narrow(conn, alice("big"), EXACT_VECTOR_FACTOR)
        assert not await sizes.narrow(conn, alice(), EXACT_VECTOR_FACTOR)
        # a count is kept for a while: rows stored since are not counted yet
        await store.insert_many(drafts(rng, "small", 3), fanout=0)
        assert await sizes.scope_rows(conn, alice("small")) == 12
    assert sizes.known(alice("small", "big")) is None


async def test_within_its_owners_a_users_whole_scope_is_not_narrow_but_a_small_namespace_is(
    store: PostgresMemoryStore, db: Database
) -> None:
    rng = random.Random(5)
    bobs = [replace(d, user_id="bob", scope_key="u:bob") for d in drafts(rng, "notes", 150)]
    await fill(store, drafts(rng, "big", BIG_ROWS) + drafts(rng, "small", 12) + bobs)
    await analyse(db)
    sizes = ScopeSizes()
    bob = ReadScope(tenant_id="acme", user_id="bob")
    async with db.connection() as conn:
        # Bob's 150 memories are a small share of the table, but all of his own postings
        assert await sizes.narrow(conn, bob, NARROW_POSTINGS_FACTOR)
        assert not await sizes.narrow(conn, bob, NARROW_POSTINGS_FACTOR, within_owners=True)
        # a namespace of 12 is a small share of Alice's 1,212 memories too; her whole scope is not
        assert await sizes.narrow(conn, alice("small"), NARROW_POSTINGS_FACTOR, within_owners=True)
        assert not await sizes.narrow(conn, alice(), NARROW_POSTINGS_FACTOR, within_owners=True)
        assert await sizes.scope_rows(conn, alice()) == BIG_ROWS + 12


async def test_counts_stop_at_the_cap_and_a_scope_at_the_cap_is_never_narrow(db: Database) -> None:
    sizes = ScopeSizes()
    async with db.connection() as conn:
        # made up: a scope counted at the cap in a table estimated far larger
        sizes.remember(alice(), SCOPE_COUNT_CAP)
        await conn.execute("ANALYZE memory_entries")
        await conn.execute("UPDATE pg_class SET reltuples = 1e9 WHERE oid = 'memory_entries'::regclass")
        assert await sizes.table_rows(conn) == 1_000_000_000
        assert not await sizes.narrow(conn, alice(), EXACT_VECTOR_FACTOR)
        sizes.remember(alice(), SCOPE_COUNT_CAP - 1)
        assert await sizes.narrow(conn, alice(), EXACT_VECTOR_FACTOR)


async def explain_nearest(store: PostgresMemoryStore, db: Database, scope: ReadScope, *, exact: bool) -> str:
    where, params = read_filter(scope)
    vis, vparams = visible_filter(scope)
    params.update(vparams, lim=4, qvec=VectorParam([1.0, 0.0, 0.0]))
    async with db.connection() as conn:
        cur = await conn.execute(b"EXPLAIN " + store._nearest_statement(where, vis, exact=exact), params)
        return "\n".join(r["QUERY PLAN"] for r in await cur.fetchall())


async def test_a_narrow_scope_finds_its_exact_nearest_rows_without_the_hnsw_walk(
    store: PostgresMemoryStore, db: Database
) -> None:
    rng = random.Random(2)
    big = drafts(rng, "big", BIG_ROWS)
    small = drafts(rng, "small", 15)
    await fill(store, big + small)
    # a memory of `big` stored again under `small` is a member of both
    joined = big[0]
    async with db.connection() as conn:
        await conn.execute("UPDATE memory_entries SET namespaces = namespaces || '{small}' WHERE id = %s", (joined.id,))
    await analyse(db)
    probe = [rng.uniform(-1, 1) for _ in range(3)]
    members = [*small, joined]
    expected = sorted(members, key=lambda d: -cosine(d.embedding or [], probe))[:4]
    assert (await store.vector_nearest(alice("small"), probe, 4)).ids == [d.id for d in expected]
    # read the exact way (the shape kept for it): the scope's rows sorted, no HNSW walk
    assert store.scope_sizes.known(alice("small")) == 16
    assert [key[-1] for key in store._statements._texts if key[0] == "nearest"] == [True]
    assert "hnsw" not in await explain_nearest(store, db, alice("small"), exact=True)
    # a broad scope is left to the planner (which walks the HNSW index here): its own rows, nearest first
    found = (await store.vector_nearest(alice("big"), probe, 4)).ids
    assert [key[-1] for key in store._statements._texts if key[0] == "nearest"] == [True, False]
    assert "hnsw" in await explain_nearest(store, db, alice("big"), exact=False)
    assert len(found) == 4 and set(found) <= {d.id for d in big}


async def test_a_narrow_scope_reads_the_postings_of_its_own_rows(
    store: PostgresMemoryStore, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(3)
    # Kestrel is named all over the table and by four memories of `small`; Osprey by twenty of them
    big = drafts(rng, "big", BIG_ROWS, "Kestrel")
    kestrels = drafts(rng, "small", 4, "Kestrel")
    ospreys = drafts(rng, "small", 20, "Osprey")
    bobs = [replace(d, user_id="bob", scope_key="u:bob") for d in drafts(rng, "small", 3, "Kestrel")]
    await fill(store, big + kestrels + ospreys + bobs + drafts(rng, "small", 5))
    await analyse(db)
    graph = PostgresGraph(db, store, store.scope_sizes)
    seed = kestrels[0].id
    entities = ["kestrel", "osprey"]
    query = LinkQuery(
        seeds=[seed], candidates=[seed], relation_fanout=6, source_reach=2, entities=entities, entity_cap=12
    )
    reads = await graph.links(alice("small"), query)
    assert sorted(reads.postings["kestrel"]) == sorted(d.id for d in kestrels)
    # a common entity: the first cap + 1 of the scope's, by id (as the other read returns them)
    assert sorted(reads.postings["osprey"]) == sorted(d.id for d in ospreys)[:13]
    # read the narrow way (the shape kept for it), and the broad scope the other way with the same answers
    assert [key[-1] for key in graph._statements._texts if key[0] == "links"] == [PostingsRead.ROWS]
    broad = await graph.links(alice(), query)
    assert len(broad.postings["kestrel"]) == 13 and set(broad.postings["osprey"]) == set(reads.postings["osprey"])
    assert [key[-1] for key in graph._statements._texts if key[0] == "links"][-1] is PostingsRead.ENTITIES
    # past ROW_POSTINGS_MAX rows a narrow scope collects its rows once and reads each entity's postings of its
    # owners against them: the same postings (Bob's in the namespace among them never)
    monkeypatch.setattr(graph_module, "ROW_POSTINGS_MAX", 10)
    collected = await graph.links(alice("small"), query)
    assert [key[-1] for key in graph._statements._texts if key[0] == "links"][-1] is PostingsRead.SCOPE_ROWS
    assert {e: sorted(ids) for e, ids in collected.postings.items()} == {
        e: sorted(ids) for e, ids in reads.postings.items()
    }


async def test_a_namespace_and_a_term_are_matched_in_one_scan_of_one_index(
    store: PostgresMemoryStore, db: Database
) -> None:
    rng = random.Random(4)
    await fill(store, drafts(rng, "big", 300, "harbour") + drafts(rng, "small", 20, "harbour"))
    # a memory stored before memberships existed (an empty `namespaces`) is a member of its home namespace
    legacy = drafts(rng, "small", 1, "harbour")[0]
    await store.insert(legacy, fanout=0)
    async with db.connection() as conn:
        await conn.execute("ALTER TABLE memory_entries DISABLE TRIGGER memory_entries_namespace_members")
        await conn.execute("UPDATE memory_entries SET namespaces = '{}' WHERE id = %s", (legacy.id,))
        await conn.execute("ALTER TABLE memory_entries ENABLE TRIGGER memory_entries_namespace_members")
    await analyse(db)
    where, params = read_filter(alice("small"))
    params["tq"] = "harbour"
    statement = sql.SQL("SELECT e.id FROM memory_entries e WHERE e.tsv @@ %(tq)s::tsquery AND {w}").format(w=where)
    async with db.connection() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")  # the table is small: show the index path
        cur = await conn.execute(sql.SQL("EXPLAIN ") + statement, params)
        plan = "\n".join(r["QUERY PLAN"] for r in await cur.fetchall())
        cur = await conn.execute(statement, params)
        found = {r["id"] for r in await cur.fetchall()}
    assert len(found) == 21 and legacy.id in found
    # both conditions are the index's: no bitmap of the namespace's rows built beside the term's
    cond = next(line for line in plan.splitlines() if "Index Cond" in line)
    assert "&&" in cond and "@@" in cond, plan
    assert "memory_entries_terms" in plan and "BitmapOr" not in plan and "BitmapAnd" not in plan
