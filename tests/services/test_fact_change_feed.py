"""The change feed tells the truth about derived facts (migration 0020): every fact it announces as created is
later announced gone exactly once, whichever path deletes it, and only to those who could see the fact.

Real embedded PostgreSQL and the local OpenAI-compatible chat server (tests/fake_models.py). Each test replays
the feed the way a mirroring client does (`Mirror`) and compares what it holds with the fact rows stored.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from novamem.config import load_settings
from novamem.container import Container
from novamem.domain.fact_consolidation import SUPERSEDED_VIA, Supersession
from novamem.domain.scope import Caller, Credential
from novamem.services.memory.models import ForgetRequest, MemoryCreate, MemoryUpdate
from novamem.storage.postgres.fact_consolidation import PostgresFactConsolidationStore
from tests.fake_embedder import FakeEmbeddingServer
from tests.fake_models import FakeModelServer
from tests.services.test_dream_cycle import Rows, axis

# signed-in accounts (a token each), so the feed also covers the projects they are members of
ALICE = Caller(tenant_id="acme", user_id="alice", credential=Credential.TOKEN)
BOB = Caller(tenant_id="acme", user_id="bob", credential=Credential.TOKEN)
CAROL = Caller(tenant_id="acme", user_id="carol", credential=Credential.TOKEN)
ROOT = Caller(tenant_id="acme", user_id="root", is_admin=True, credential=Credential.TOKEN)
DUBAI = "Caroline moved to Dubai in March 2026 and works as a nurse at the city hospital"
BELGIUM = "Caroline moved to Belgium in March 2026 and works as a nurse at the city hospital"


def answer(*facts: tuple[str, str, str]) -> str:
    """A model answer listing (subject, predicate, object) facts."""
    return json.dumps(
        [{"type": "fact", "subject": s, "predicate": p, "object": o, "occurredAt": "2026-03-01"} for s, p, o in facts]
    )


DUBAI_FACTS = answer(("Caroline", "lives in", "Dubai"), ("Caroline", "works as", "nurse"))
BELGIUM_FACTS = answer(("Caroline", "lives in", "Belgium"))


@pytest.fixture(scope="module")
def models() -> Iterator[FakeModelServer]:
    fake = FakeModelServer()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
async def container(make_database: Callable[[], str], models: FakeModelServer) -> AsyncIterator[Container]:
    models.reset()
    settings = load_settings(
        database_url=make_database(),
        jobs_enabled=False,
        auth_mode="none",
        embeddings_provider="none",
        extraction_enabled=True,
        extraction_endpoint=models.chat_url,
        extraction_model="qwen-test",
        # generous: on a loaded two-core host the local model server once took longer than 600 ms to answer
        extraction_timeout_ms=5000,
    )
    built = await Container.build(settings)
    yield built
    models.reset()
    await built.close()


async def sql(container: Container, query: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    async with container.database.connection() as conn:
        cur = await conn.execute(query, params or {})
        return list(await cur.fetchall()) if cur.description else []


async def feed(container: Container, caller: Caller) -> list[tuple[str, str, dict[str, Any]]]:
    """The caller's whole feed as `GET /v1/me/changes` serves it: (entry id, change, detail), oldest first."""
    page = await container.selfservice.changes(caller, since=None, after_seq=None, limit=500)
    return [(c.entry_id, c.change, c.detail) for c in page.changes]


async def fact_ids(container: Container, **owner: str) -> set[str]:
    where = " AND ".join(f"{column} = %({column})s" for column in owner) or "true"
    rows = await sql(container, f"SELECT id FROM memory_entries WHERE source_type = 'fact' AND {where}", owner)
    return {r["id"] for r in rows}


async def remember(container: Container, content: str, **fields: Any) -> str:
    created = await container.memories.remember(ALICE, MemoryCreate(content=content, **fields))
    assert created.id
    return created.id


async def drained(container: Container) -> None:
    assert container.facts is not None
    await asyncio.wait_for(container.facts.idle(), timeout=20)


class Mirror:
    """A client mirroring the feed: what it holds, failing on an event about an entry it does not hold
    (a second `deleted`) or on a second `created`."""

    def __init__(self, events: list[tuple[str, str, dict[str, Any]]]) -> None:
        self.held: set[str] = set()
        self.facts: set[str] = set()
        self.superseded: set[str] = set()
        for entry_id, change, detail in events:
            if change == "created":
                assert entry_id not in self.held, f"{entry_id} created twice"
                self.held.add(entry_id)
                if detail.get("fact"):
                    self.facts.add(entry_id)
            elif change in ("deleted", "expired"):
                assert entry_id in self.held, f"{entry_id} {change} but not held (twice, or never created)"
                self.held.discard(entry_id)
                self.facts.discard(entry_id)
                self.superseded.discard(entry_id)
            else:
                assert entry_id in self.held, f"{entry_id} {change} but not held"
                if change == "superseded":
                    self.superseded.add(entry_id)


async def test_forgetting_a_source_logs_each_fact_deleted_once(container: Container, models: FakeModelServer) -> None:
    models.chat_reply = DUBAI_FACTS
    source = await remember(container, DUBAI, source="chat-import", source_refs=["chat:42"])
    await drained(container)
    facts = await fact_ids(container)
    assert len(facts) == 2
    events = await feed(container, ALICE)
    assert sorted(e for e in events if e[0] in facts) == sorted(
        (f, "created", {"source": "chat-import", "fact": True, "sourceId": source}) for f in facts
    )
    assert Mirror(events).facts == facts

    await container.memories.forget(ALICE, ForgetRequest(source_ref="chat:42"))
    events = await feed(container, ALICE)
    gone = [e for e in events if e[1] == "deleted"]
    # the source's own event first (the forget's statement), then its facts' (the cascade)
    assert gone[0] == (source, "deleted", {})
    assert sorted(gone[1:]) == sorted(
        (f, "deleted", {"fact": True, "sourceId": source, "reason": "source_deleted"}) for f in facts
    )
    mirror = Mirror(events)
    assert mirror.held == set() and await fact_ids(container) == set()


async def test_an_update_logs_the_old_facts_deleted_and_the_new_ones_created(
    container: Container, models: FakeModelServer
) -> None:
    models.chat_script = [DUBAI_FACTS, BELGIUM_FACTS]
    source = await remember(container, DUBAI)
    await drained(container)
    old = await fact_ids(container)
    # the update starts the new text's extraction at once: its answer waits until the feed has been read
    models.chat_hold = threading.Event()
    await container.memories.update(ALICE, source, MemoryUpdate(content=BELGIUM))
    events = await feed(container, ALICE)
    updated = events.index((source, "updated", {"contentChanged": True}))
    assert sorted(events[updated + 1 :]) == sorted(
        (f, "deleted", {"fact": True, "sourceId": source, "reason": "source_changed"}) for f in old
    )
    assert Mirror(events).facts == set() == await fact_ids(container)
    models.chat_hold.set()
    # a change that keeps the content keeps the facts: they follow it, and are logged `updated` as it is
    await drained(container)
    new = await fact_ids(container)
    assert len(new) == 1 and not new & old
    await container.memories.update(ALICE, source, MemoryUpdate(namespace="people", sensitivity="internal"))
    events = await feed(container, ALICE)
    assert Mirror(events).facts == new
    assert [e for e in events if e[0] in new] == [
        (f, change, {"fact": True, "sourceId": source, **detail})
        for f in new
        for change, detail in (("created", {"source": "manual"}), ("updated", {"contentChanged": False}))
    ]


async def test_forgetting_a_fact_itself_logs_it_deleted_once(container: Container, models: FakeModelServer) -> None:
    models.chat_reply = DUBAI_FACTS
    source = await remember(container, DUBAI)
    await drained(container)
    first, second = sorted(await fact_ids(container))
    assert (await container.memories.forget(ALICE, ForgetRequest(id=first))).deleted
    events = await feed(container, ALICE)
    # the forget's own event, and no second one from the trigger
    assert [(e[1], e[2]) for e in events if e[0] == first] == [
        ("created", {"source": "manual", "fact": True, "sourceId": source}),
        ("deleted", {}),
    ]
    assert Mirror(events).facts == {second} == await fact_ids(container)


async def test_a_superseded_source_logs_its_facts_superseded(container: Container, models: FakeModelServer) -> None:
    models.chat_reply = DUBAI_FACTS
    source = await remember(container, DUBAI)
    await drained(container)
    facts = await fact_ids(container)
    # superseded as a contradicting capture does it (one statement, logged by the application for the source)
    await sql(
        container,
        "WITH s AS (UPDATE memory_entries SET status = 'superseded' WHERE id = %(id)s"
        "  RETURNING id, tenant_id, user_id, project_id)"
        " INSERT INTO memory_changes (tenant_id, user_id, project_id, entry_id, change, detail)"
        " SELECT tenant_id, user_id, project_id, id, 'superseded', '{}'::jsonb FROM s",
        {"id": source},
    )
    events = await feed(container, ALICE)
    first, *rest = [e for e in events if e[1] == "superseded"]
    assert first == (source, "superseded", {})
    assert sorted(rest) == sorted(
        (f, "superseded", {"fact": True, "sourceId": source, "reason": "source_superseded"}) for f in facts
    )
    assert Mirror(events).superseded == {source, *facts}
    # forgetting the superseded source then takes the facts out of the mirror too
    await container.memories.forget(ALICE, ForgetRequest(id=source))
    assert Mirror(await feed(container, ALICE)).held == set()


async def test_a_fact_retired_by_consolidation_is_logged_superseded_once(
    container: Container, models: FakeModelServer
) -> None:
    models.chat_reply = DUBAI_FACTS
    source = await remember(container, DUBAI)
    await drained(container)
    old, by = sorted(await fact_ids(container))
    store = PostgresFactConsolidationStore(container.database, None)
    assert await store.supersede([Supersession(superseded=old, by=by)]) == 1
    events = await feed(container, ALICE)
    assert [e for e in events if e[1] == "superseded"] == [
        (old, "superseded", {"supersededBy": by, "reason": SUPERSEDED_VIA})
    ]
    # a retired fact stays retired when its source changes its fields, and is still logged following it
    await container.memories.update(ALICE, source, MemoryUpdate(namespace="people"))
    events = await feed(container, ALICE)
    assert [e[1] for e in events if e[0] == old] == ["created", "superseded", "updated"]
    await container.memories.forget(ALICE, ForgetRequest(id=source))
    assert Mirror(await feed(container, ALICE)).held == set()


async def test_expiry_logs_the_source_and_its_facts_expired_once(container: Container, models: FakeModelServer) -> None:
    models.chat_reply = DUBAI_FACTS
    source = await remember(container, DUBAI)
    await drained(container)
    facts = await fact_ids(container)
    # the facts take their source's expiry (migration 0017), so one purge takes them all in one statement
    await sql(
        container,
        "UPDATE memory_entries SET expires_at = now() - interval '1 second' WHERE id = %(id)s",
        {"id": source},
    )
    assert await container.reconciler.purge_expired() == 3
    events = await feed(container, ALICE)
    assert sorted(e[0] for e in events if e[1] == "expired") == sorted({source, *facts})
    assert [e for e in events if e[1] == "deleted"] == []
    assert Mirror(events).held == set()


async def test_a_source_moved_to_another_owner_takes_its_facts_out_of_the_old_owners_feed(
    container: Container, models: FakeModelServer
) -> None:
    models.chat_reply = DUBAI_FACTS
    source = await remember(container, DUBAI)
    await drained(container)
    facts = await fact_ids(container)
    await sql(
        container, "UPDATE memory_entries SET user_id = 'bob', scope_key = 'u:bob' WHERE id = %(id)s", {"id": source}
    )
    alice = await feed(container, ALICE)
    assert sorted(e for e in alice if e[1] == "deleted") == sorted(
        (f, "deleted", {"fact": True, "sourceId": source, "reason": "source_moved"}) for f in facts
    )
    assert Mirror(alice).facts == set() and await fact_ids(container) == set()
    assert await feed(container, BOB) == []  # the facts were never bob's


async def shared_project(container: Container) -> str:
    """Accounts alice, bob, carol and root (an admin) in tenant acme; alice's project, bob a member of it."""
    await sql(container, "INSERT INTO tenants (id, name) VALUES ('acme', 'acme') ON CONFLICT DO NOTHING")
    for user in ("alice", "bob", "carol", "root"):
        await sql(
            container,
            "INSERT INTO users (id, tenant_id, email, name, role) VALUES (%(u)s, 'acme', %(u)s || '@acme.test', %(u)s,"
            " CASE WHEN %(u)s = 'root' THEN 'admin' ELSE 'user' END)",
            {"u": user},
        )
    project = await container.projects.create(ALICE, "relocations")
    await container.projects.add_member(ALICE, project.id, "bob@acme.test")
    return project.id


async def test_fact_events_reach_only_those_who_could_see_the_fact(
    container: Container, models: FakeModelServer
) -> None:
    project_id = await shared_project(container)
    models.chat_script = [DUBAI_FACTS, BELGIUM_FACTS]
    private = await remember(container, DUBAI)
    await drained(container)
    shared = await remember(container, BELGIUM, project=project_id)
    await drained(container)
    private_facts = await fact_ids(container, fact_source_id=private)
    shared_facts = await fact_ids(container, fact_source_id=shared)
    assert len(private_facts) == 2 and len(shared_facts) == 1
    await container.memories.forget(ALICE, ForgetRequest(id=private))
    await container.memories.forget(ALICE, ForgetRequest(id=shared, project=project_id))

    alice, bob, carol = [await feed(container, c) for c in (ALICE, BOB, CAROL)]
    # alice saw every fact come and go; bob (a member of the project) only the project's; carol nothing
    assert {e[0] for e in alice if e[1] == "deleted"} == {private, shared, *private_facts, *shared_facts}
    assert {e[0] for e in bob} == {shared, *shared_facts}
    assert Mirror(bob).held == set()
    assert carol == []
    rows = await sql(
        container,
        "SELECT entry_id, user_id, project_id FROM memory_changes WHERE change = 'deleted' AND detail ? 'fact'",
    )
    assert sorted((r["entry_id"], r["user_id"], r["project_id"]) for r in rows) == sorted(
        [(f, "alice", None) for f in private_facts] + [(f, "alice", project_id) for f in shared_facts]
    )


async def test_facts_of_a_project_erased_with_its_owner_are_reported_to_the_remaining_members_once(
    container: Container, models: FakeModelServer
) -> None:
    project = await shared_project(container)
    models.chat_reply = BELGIUM_FACTS
    created = await container.memories.remember(BOB, MemoryCreate(content=BELGIUM, project=project))
    await drained(container)
    (fact,) = await fact_ids(container, fact_source_id=str(created.id))
    before = await feed(container, BOB)  # what bob's mirror holds: both, as members of the project
    assert Mirror(before).held == {created.id, fact}
    # alice's erasure deletes her project, and with it bob's memory there and its fact (by cascade)
    await container.users.erase(ROOT, "alice")
    assert await fact_ids(container) == set()
    # bob, still a member when it went, is told once of each (the rows are his alone); none is left that
    # nobody can read (the cascade's own rows go with the project's, unreadable, and alice's with her)
    rows = await sql(
        container,
        "SELECT entry_id, user_id FROM memory_changes WHERE project_id = %(p)s AND change = 'deleted' AND addressed",
        {"p": project},
    )
    assert sorted((r["entry_id"], r["user_id"]) for r in rows) == sorted([(created.id, "bob"), (fact, "bob")])
    after = await feed(container, BOB)  # the project's own rows are out of his reach now
    assert sorted(after, key=str) == sorted(
        [(created.id, "deleted", {"reason": "project_deleted"}), (fact, "deleted", {"reason": "project_deleted"})],
        key=str,
    )
    assert Mirror(before + after).held == set()


async def test_a_source_merged_away_by_the_dream_cycle_logs_its_facts_deleted(
    make_database: Callable[[], str], fake_embedder: FakeEmbeddingServer
) -> None:
    settings = load_settings(
        database_url=make_database(),
        jobs_enabled=False,
        auth_mode="none",
        **fake_embedder.settings(),
        graph_link_fanout=0,
    )
    built = await Container.build(settings)
    try:
        url = built.settings.database_url
        assert url is not None
        rows = Rows(url.get_secret_value())
        loser = rows.put("The staging database runs on host db-stage", axis(0), hits=2)
        survivor = rows.put("The staging database runs on the host db-stage", axis(0, 0.05), hits=5)
        rows.sql(
            "INSERT INTO memory_entries (id, tenant_id, user_id, scope_key, content, content_hash, source_type,"
            " fact_source_id) VALUES ('01FACT00000000000000000000', 'acme', 'u1', 'u:u1',"
            " '[fact] staging database runs on db-stage', 'h-stage', 'fact', %s)",
            (loser,),
        )
        assert (await built.dream.run(Caller.public())).merged == 1
        assert rows.sql("SELECT entry_id, change, detail FROM memory_changes ORDER BY seq") == [
            (loser, "deleted", {"mergedInto": survivor, "reason": "dream_cycle_merge"}),
            ("01FACT00000000000000000000", "deleted", {"fact": True, "sourceId": loser, "reason": "source_deleted"}),
        ]
    finally:
        await built.close()
