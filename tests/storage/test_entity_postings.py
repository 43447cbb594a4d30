"""Entity postings on PostgreSQL (migration 0022): each memory filed under the entities of its text when it
is written, filed again when its content changes, gone with it, and the memories stored before the table
existed filed at start-up."""

from __future__ import annotations

import hashlib
from dataclasses import replace

from ulid import ULID

from novamem.domain.entries import EntryDraft
from novamem.domain.scope import ReadScope
from novamem.storage.facts import FactDraft
from novamem.storage.graph_index import LinkQuery
from novamem.storage.postgres.database import Database
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
