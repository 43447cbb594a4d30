"""The GIN index over owners, memberships and words (migration 0026): a keyword search reads a term's rows
of the scope's owners only. Before, it read the term's rows of every user of the tenant through the index
and dropped the other users' afterwards, so one user among many paid for everyone's memories."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from typing import Any

import psycopg
import pytest

from novamem.domain.entries import EntryDraft
from novamem.domain.scope import ReadScope
from novamem.storage.postgres.database import Database
from novamem.storage.postgres.memories import PostgresMemoryStore
from novamem.storage.postgres.scope_sizes import ScopeSizes
from novamem.storage.postgres.scoping import owner_filter, owner_keys
from tests.storage.drafts import user_draft

INDEX = "memory_entries_terms"


def notes(
    rng: random.Random, rows: int, *, user: str = "alice", project: str | None = None, text: str = "harbour crane"
) -> list[EntryDraft]:
    drafts = [user_draft(f"{text} {rng.random()}", user=user) for _ in range(rows)]
    if project is not None:
        drafts = [replace(d, project_id=project, scope_key=f"p:{project}") for d in drafts]
    return drafts


async def fill(store: PostgresMemoryStore, rows: list[EntryDraft]) -> None:
    for start in range(0, len(rows), 300):
        await store.insert_many(rows[start : start + 300], fanout=0)


def bitmap_scans(node: dict[str, Any]) -> list[dict[str, Any]]:
    """Every bitmap index scan of a JSON plan."""
    found = [node] if node.get("Node Type") == "Bitmap Index Scan" else []
    for child in node.get("Plans", []):
        found += bitmap_scans(child)
    return found


def test_owner_keys_name_the_owners_a_scope_reads() -> None:
    assert owner_keys(ReadScope(tenant_id="t", user_id="bob")) == ["u:bob"]
    assert owner_keys(ReadScope(tenant_id="t", user_id="bob", project_ids=("p1", "p2"))) == ["u:bob", "p:p1", "p:p2"]
    only = ReadScope(tenant_id="t", user_id="bob", include_user_global=False, project_ids=("p1",))
    assert owner_keys(only) == ["p:p1"]
    assert owner_filter(only)[1] == {"s_owners": ["p:p1"]}


async def test_the_index_leads_with_the_owner(db: Database) -> None:
    async with db.connection() as conn:
        cur = await conn.execute("SELECT pg_get_indexdef(%s::regclass) AS d", (INDEX,))
        row = await cur.fetchone()
    assert row is not None
    definition = row["d"]
    assert definition.index("'u:'") < definition.index("cardinality(namespaces)") < definition.index("tsv")


async def setup_projects(db: Database) -> None:
    async with db.connection() as conn:
        await conn.execute("INSERT INTO tenants (id, name) VALUES ('acme', 'acme') ON CONFLICT DO NOTHING")
        await conn.execute("INSERT INTO users (id, tenant_id, email, name) VALUES ('carol', 'acme', 'c@x.test', 'c')")
        await conn.execute(
            "INSERT INTO projects (id, tenant_id, name, owner_user_id) VALUES ('p1', 'acme', 'p', 'carol')"
        )


class Captured:
    """The keyword statements run while it is installed, with their parameters."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.statements: list[tuple[bytes, dict[str, Any]]] = []
        execute = psycopg.AsyncConnection.execute

        async def capture(conn: Any, query: Any, params: Any = None, **kwargs: Any) -> Any:
            if isinstance(query, bytes) and query.startswith(b"WITH terms"):
                self.statements.append((query, params))
            return await execute(conn, query, params, **kwargs)

        monkeypatch.setattr(psycopg.AsyncConnection, "execute", capture)


BOB = ReadScope(tenant_id="acme", user_id="bob", project_ids=("p1",))
ALICE = ReadScope(tenant_id="acme", user_id="alice")


async def test_a_keyword_search_of_a_small_owner_reads_only_its_owners_rows_of_a_term(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = PostgresMemoryStore(db, None)
    rng = random.Random(7)
    await setup_projects(db)
    # Alice's 1,600 memories name the term; Bob has 6 of his own and his project 4 (stored by Carol), among
    # 300 and 100 that do not: read by owner or by term alone, either way is more than ten rows
    bobs, projects = notes(rng, 6, user="bob"), notes(rng, 4, user="carol", project="p1")
    others = notes(rng, 300, user="bob", text="quay") + notes(rng, 100, user="carol", project="p1", text="quay")
    await fill(store, notes(rng, 1600) + bobs + projects + others + notes(rng, 5, user="carol"))
    async with db.connection() as conn:
        await conn.execute("ANALYZE memory_entries")
        sizes = ScopeSizes()
        assert await sizes.owner_share(conn, ALICE) == pytest.approx(1600 / 2015, abs=0.02)
        assert await sizes.owner_share(conn, BOB) == pytest.approx(410 / 2015, abs=0.02)
        # an owner the statistics do not list (here: one who stored nothing) counts as a small share
        assert await sizes.owner_share(conn, ReadScope(tenant_id="acme", user_id="dave")) == 0.0
    captured = Captured(monkeypatch)
    hits = await store.keyword_hits(BOB, query="harbour cranes", limit=50)
    assert set(hits.scores) == {d.id for d in bobs + projects}
    # the statement it ran, planned with the index (the table is small enough for a sequential scan)
    statement, params = captured.statements[-1]
    monkeypatch.undo()
    async with db.connection() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        cur = await conn.execute(b"EXPLAIN (ANALYZE, FORMAT JSON) " + statement, params)
        row = await cur.fetchone()
    assert row is not None
    plan = row["QUERY PLAN"]
    scans = bitmap_scans((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"])
    # every read of a term's rows (all terms, any term, each term) matches the owners in the index with it:
    # Bob's and his project's 10 rows, never Alice's 1,600 nor the owners' 400 other rows
    term_scans = [(s["Index Name"], s["Actual Rows"], s["Index Cond"]) for s in scans if "@@" in s["Index Cond"]]
    assert term_scans and max(rows for _, rows, _ in term_scans) == 10, scans
    for name, rows, cond in term_scans:
        assert name == INDEX and rows <= 10 and "'{u:bob,p:p1}'" in cond, (name, rows, cond)


async def test_the_owner_of_most_of_the_table_reads_terms_without_the_owner_test(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = PostgresMemoryStore(db, None)
    rng = random.Random(8)
    mine = notes(rng, 300)
    await fill(store, mine + notes(rng, 50, user="bob"))
    async with db.connection() as conn:
        await conn.execute("ANALYZE memory_entries")
    captured = Captured(monkeypatch)
    hits = await store.keyword_hits(ALICE, query="harbour", limit=500)
    bob = await store.keyword_hits(ReadScope(tenant_id="acme", user_id="bob"), query="harbour", limit=500)
    monkeypatch.undo()
    assert set(hits.scores) == {d.id for d in mine} and len(bob.scores) == 50
    # matching Alice's owner key in the index would walk the entries of nearly every row for each term
    (_, alice_params), (_, bob_params) = captured.statements
    assert "s_owners" not in alice_params and bob_params["s_owners"] == ["u:bob"]
