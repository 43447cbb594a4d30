"""Entity postings on PostgreSQL (migration 0022): each memory filed under the entities of its text when it
is written, filed again when its content changes, gone with it, and the memories stored before the table
existed filed at start-up."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace

from ulid import ULID

from novamem.domain.entries import EntryDraft
from novamem.domain.scope import ReadScope
from novamem.storage.facts import FactDraft
from novamem.storage.graph_index import LinkQuery
from novamem.storage.postgres.database import Database, migrate
from novamem.storage.postgres.entity_postings import file_unfiled
from novamem.storage.postgres.facts import PostgresFactStore
from novamem.storage.postgres.graph import PostgresGraph
from novamem.storage.postgres.memories import PostgresMemoryStore
from tests.storage.drafts import user_draft


def draft(content: str, *, tenant: str = "acme", user: str = "alice") -> EntryDraft:
    return user_draft(content, tenant=tenant, user=user)


async def postings(db: Database) -> set[tuple[str, str, str]]:
    async with db.connection() as conn:
        cur = await conn.execute("SELECT tenant_id, entity, entry_id FROM memory_entity_postings")
        return {(r["tenant_id"], r["entity"], r["entry_id"]) for r in await cur.fetchall()}


async def state(db: Database) -> str:
    async with db.connection() as conn:
        cur = await conn.execute("SELECT value FROM engine_state WHERE key = 'entity_postings'")
        row = await cur.fetchone()
    assert row is not None
    return str(row["value"])


async def test_a_new_store_has_nothing_to_file(db: Database) -> None:
    assert await state(db) == "complete"
    assert await file_unfiled(db) == 0


async def test_writes_file_each_memory_under_its_entities_and_content_changes_refile_it(db: Database) -> None:
    store = PostgresMemoryStore(db, None)
    one = draft("Priya carries the pager for Falcon in March.")
    await store.insert(one, fanout=0)
    many = [draft("Falcon's runbook lives in the wiki."), draft("The office plants need water.")]
    inserted = await store.insert_many(many, fanout=0)
    assert inserted == {d.id for d in many}
    # a name opening a sentence and a possessive are filed too: a lookup finds every memory naming Falcon
    assert {(t, e, i) for t, e, i in await postings(db) if e == "falcon"} == {
        ("acme", "falcon", one.id),
        ("acme", "falcon", many[0].id),
    }
    assert ("acme", "priya", one.id) in await postings(db)
    assert not {p for p in await postings(db) if p[2] == many[1].id}  # no entities, nothing filed

    found = await store.get(ReadScope(tenant_id="acme", user_id="alice"), one.id)
    assert found is not None
    text = "Noor carries the pager for Heron now."
    await store.update(
        found, content=text, content_hash=hashlib.sha256(text.encode()).hexdigest(), fields={}, embedding=None
    )
    mine = {e for _, e, i in await postings(db) if i == one.id}
    assert mine == {"noor", "heron"}
    await store.delete("acme", [one.id])
    assert not {p for p in await postings(db) if p[2] == one.id}


async def test_landed_facts_are_filed_and_skipped_ones_are_not(db: Database) -> None:
    store = PostgresMemoryStore(db, None, extract_facts=True)
    source = draft("Meeting notes: Priya and Noor agreed on the Heron launch.")
    await store.insert(source, fanout=0)
    facts = PostgresFactStore(db, None)
    (owed,) = await facts.claim_owed(10, 60)

    def fact(text: str) -> FactDraft:
        return FactDraft(str(ULID()), text, hashlib.sha256(text.encode()).hexdigest(), {}, None, None)

    landed, again = fact("Priya leads the Heron launch."), fact(source.content)  # the second one exists
    assert await facts.land(owed, [landed, again]) == 1
    assert {e for _, e, i in await postings(db) if i == landed.id} == {"priya", "heron"}
    assert not {p for p in await postings(db) if p[2] == again.id}


async def test_memories_stored_before_the_table_are_filed_once_in_batches(db: Database) -> None:
    store = PostgresMemoryStore(db, None)
    drafts = [draft(f"Ticket PAY-{n} was closed by Quinn Ortega.") for n in range(5)]
    drafts.append(replace(draft("Bob keeps his notes about Osprey."), tenant_id="other"))
    await store.insert_many(drafts[:5], fanout=0)
    await store.insert_many(drafts[5:], fanout=0)
    filed = await postings(db)
    # as a store upgraded to migration 0022 finds them: rows, no postings, filing owed from the start
    async with db.connection() as conn:
        await conn.execute("DELETE FROM memory_entity_postings")
        await conn.execute("UPDATE engine_state SET value = 'after:' WHERE key = 'entity_postings'")

    assert await file_unfiled(db, batch=2) == 6
    assert await postings(db) == filed
    assert ("other", "osprey", drafts[5].id) in filed and ("acme", "quinn ortega", drafts[0].id) in filed
    assert await state(db) == "complete"
    assert await file_unfiled(db, batch=2) == 0


async def test_a_lookup_finds_the_scopes_memories_naming_the_entity_anywhere(db: Database) -> None:
    store = PostgresMemoryStore(db, None)
    seed = draft("The search service is owned by team Kestrel.")
    opener = draft("Kestrel moved its standup to nine.")
    possessive = draft("We read Kestrel's runbook twice.")
    bobs = draft("Kestrel is also the name of bob's cat.", user="bob")
    for d in (seed, opener, possessive, bobs):
        await store.insert(d, fanout=0)
    await store.insert(draft("Kestrel works for another tenant.", tenant="other"), fanout=0)
    query = LinkQuery(
        seeds=[seed.id], candidates=[seed.id], relation_fanout=6, source_reach=2, entities=["kestrel"], entity_cap=13
    )
    reads = await PostgresGraph(db, store).links(ReadScope(tenant_id="acme", user_id="alice"), query)
    assert set(reads.postings["kestrel"]) == {seed.id, opener.id, possessive.id}


async def owners(db: Database) -> dict[str, set[str]]:
    async with db.connection() as conn:
        cur = await conn.execute("SELECT entry_id, owner FROM memory_entity_postings")
        found: dict[str, set[str]] = {}
        for r in await cur.fetchall():
            found.setdefault(r["entry_id"], set()).add(r["owner"])
    return found


async def test_postings_carry_their_memorys_owner_and_a_lookup_reads_the_scopes_owners(db: Database) -> None:
    store = PostgresMemoryStore(db, None, extract_facts=True)
    async with db.connection() as conn:
        await conn.execute("INSERT INTO tenants (id, name) VALUES ('acme', 'acme') ON CONFLICT DO NOTHING")
        await conn.execute("INSERT INTO users (id, tenant_id, email, name) VALUES ('alice', 'acme', 'a@x.test', 'a')")
        await conn.execute(
            "INSERT INTO projects (id, tenant_id, name, owner_user_id) VALUES ('falcon', 'acme', 'f', 'alice')"
        )
    mine = draft("Kestrel ships on Friday.")
    in_project = replace(draft("Kestrel's board is in the wiki."), project_id="falcon", scope_key="p:falcon")
    bobs = [draft(f"Kestrel note {n} of Bob.", user="bob") for n in range(20)]
    await store.insert(mine, fanout=0)
    await store.insert_many([in_project, *bobs], fanout=0)
    facts = PostgresFactStore(db, None)
    owed = next(o for o in await facts.claim_owed(50, 60) if o.id == in_project.id)
    text = "Kestrel's board moved."
    fact = FactDraft(str(ULID()), text, hashlib.sha256(text.encode()).hexdigest(), {}, None, None)
    assert await facts.land(owed, [fact]) == 1
    filed = await owners(db)
    # each write path files its memory's owner: a user's own, a project's, a fact of a project's memory
    assert filed[mine.id] == {"u:alice"} and filed[in_project.id] == {"p:falcon"} and filed[fact.id] == {"p:falcon"}
    assert all(filed[d.id] == {"u:bob"} for d in bobs)
    query = LinkQuery(
        seeds=[mine.id], candidates=[mine.id], relation_fanout=6, source_reach=2, entities=["kestrel"], entity_cap=12
    )
    graph = PostgresGraph(db, store)
    both = ReadScope(tenant_id="acme", user_id="alice", project_ids=("falcon",))
    reads = await graph.links(both, query)
    assert set(reads.postings["kestrel"]) == {mine.id, in_project.id, fact.id}
    project_only = ReadScope(tenant_id="acme", user_id="alice", include_user_global=False, project_ids=("falcon",))
    assert set((await graph.links(project_only, query)).postings["kestrel"]) == {in_project.id, fact.id}
    # Bob's memories are his: twenty of them, none read for Alice (and all of them for Bob, past the cap)
    bob_reads = await graph.links(ReadScope(tenant_id="acme", user_id="bob"), query)
    assert len(bob_reads.postings["kestrel"]) == 13 and set(bob_reads.postings["kestrel"]) <= {d.id for d in bobs}


async def test_migration_0025_gives_the_postings_of_a_store_their_owners(make_database: Callable[[], str]) -> None:
    url = make_database()
    migrate(url)
    db = Database(url, max_size=2)
    await db.open()
    try:
        store = PostgresMemoryStore(db, None)
        alices = [draft("Kestrel ships on Friday."), draft("Quinn Ortega owns Kestrel.")]
        bobs = draft("Kestrel is Bob's cat.", user="bob")
        await store.insert_many(alices, fanout=0)
        await store.insert(bobs, fanout=0)
        filed = await postings(db)
        # the table as migration 0022 made it, and the store at migration 0024
        async with db.connection() as conn:
            await conn.execute(
                "CREATE TABLE old_postings AS SELECT tenant_id, entity, entry_id FROM memory_entity_postings"
            )
            await conn.execute("DROP TABLE memory_entity_postings")
            await conn.execute("ALTER TABLE old_postings RENAME TO memory_entity_postings")
            await conn.execute(
                "ALTER TABLE memory_entity_postings ADD CONSTRAINT memory_entity_postings_pkey"
                " PRIMARY KEY (tenant_id, entity, entry_id)"
            )
            await conn.execute("DELETE FROM schema_migrations WHERE version = 25")
    finally:
        await db.close()
    assert migrate(url) == ["0025_posting_owners.sql"]
    db = Database(url, max_size=2)
    await db.open()
    try:
        assert await postings(db) == filed
        found = await owners(db)
        assert all(found[d.id] == {"u:alice"} for d in alices) and found[bobs.id] == {"u:bob"}
        # the memory still owns its postings: forgetting it removes them
        await PostgresMemoryStore(db, None).delete("acme", [bobs.id])
        assert bobs.id not in await owners(db)
    finally:
        await db.close()
