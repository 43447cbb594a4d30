"""LLM fact extraction against the real embedded PostgreSQL and a local OpenAI-compatible chat server
(tests/fake_models.py) that answers as scripted: correct, slow, held back, malformed, 500, or never ending.

The races are forced, not hoped for: the fake model holds its answer until the test has updated or deleted
the source, and the landing transaction is held open while an update waits for it.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import psycopg
import pytest

from novamem.config import load_settings
from novamem.container import Container
from novamem.domain.facts import PiiRedactor, parse_facts
from novamem.domain.scope import Caller
from novamem.errors import ConfigError
from novamem.jobs.scheduler import build_scheduler
from novamem.services.memory.facts import FACTS_DRAIN_INTERVAL_S
from novamem.services.memory.models import ForgetRequest, MemoryCreate, MemoryUpdate, SearchRequest
from tests.fake_models import FakeModelServer

ALICE = Caller(tenant_id="acme", user_id="alice")
ADMIN = Caller(tenant_id="acme", user_id="root", is_admin=True, is_operator=True)
TIMEOUT_MS = 600
DUBAI = "Caroline moved to Dubai in March 2026 and works as a nurse at the city hospital"
BELGIUM = "Caroline moved to Belgium in March 2026 and works as a nurse at the city hospital"


def answer(*facts: tuple[str, str, str, str]) -> str:
    """A model answer listing (type, subject, predicate, object) facts."""
    return json.dumps(
        [
            {"type": t, "subject": s, "predicate": p, "object": o, "occurredAt": "2026-03-01", "entities": [s, o]}
            for t, s, p, o in facts
        ]
    )


DUBAI_FACTS = answer(("fact", "Caroline", "lives in", "Dubai"), ("fact", "Caroline", "works as", "nurse"))
BELGIUM_FACTS = answer(("fact", "Caroline", "lives in", "Belgium"))


@pytest.fixture(scope="module")
def models() -> Iterator[FakeModelServer]:
    fake = FakeModelServer()
    fake.start()
    yield fake
    fake.stop()


async def _build(make_database: Callable[[], str], models: FakeModelServer, **env: Any) -> Container:
    models.reset()
    settings = load_settings(
        database_url=make_database(), jobs_enabled=False, auth_mode="none", embeddings_provider="none", **env
    )
    return await Container.build(settings)


@pytest.fixture
async def container(make_database: Callable[[], str], models: FakeModelServer) -> AsyncIterator[Container]:
    built = await _build(
        make_database,
        models,
        extraction_enabled=True,
        extraction_endpoint=models.chat_url,
        extraction_model="qwen-test",
        extraction_api_key="ek-test-secret-0b7d",
        extraction_timeout_ms=TIMEOUT_MS,
        extraction_max_facts=4,
    )
    yield built
    models.reset()  # release a held answer before the container closes
    await built.close()


async def sql(container: Container, query: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    async with container.database.connection() as conn:
        cur = await conn.execute(query, params or {})  # type: ignore[arg-type]
        return list(await cur.fetchall()) if cur.description else []


async def facts_of(container: Container, source_id: str) -> list[dict[str, Any]]:
    return await sql(
        container,
        "SELECT id, content, metadata, user_id, project_id, namespace, source, occurred_at, fact_source_id"
        " FROM memory_entries WHERE source_type = 'fact' AND metadata->>'source_chunk_id' = %(id)s ORDER BY content",
        {"id": source_id},
    )


async def debt(container: Container, entry_id: str) -> dict[str, Any]:
    rows = await sql(
        container,
        "SELECT facts_pending_at, facts_attempts, facts_next_at > now() + interval '20 seconds' AS backed_off"
        " FROM memory_entries WHERE id = %(id)s",
        {"id": entry_id},
    )
    return rows[0]


async def remember(container: Container, content: str, **fields: Any) -> str:
    created = await container.memories.remember(ALICE, MemoryCreate(content=content, **fields))
    assert created.id
    return created.id


async def drained(container: Container) -> None:
    assert container.facts is not None
    await asyncio.wait_for(container.facts.idle(), timeout=20)


async def arrived(models: FakeModelServer) -> None:
    assert await asyncio.to_thread(models.chat_arrived.wait, 10), "the model was never asked"


# ---- what lands ---------------------------------------------------------------------------------------------


async def test_facts_land_typed_and_linked_to_their_source(container: Container, models: FakeModelServer) -> None:
    models.chat_reply = (
        "<think>let me see</think>```json\n"
        + json.dumps(
            [
                {
                    "type": "fact",
                    "subject": "Caroline",
                    "predicate": "lives in",
                    "object": "Dubai",
                    "occurredAt": "2026-03-01",
                    "entities": ["Caroline", "Dubai"],
                    "importance": 5,
                },
                {"type": "preference", "subject": "Caroline", "predicate": "likes", "object": "night shifts"},
                {"type": "rumour", "subject": "x", "predicate": "y", "object": "z"},
                {"subject": "no type"},
                "not an object",
            ]
        )
        + "\n```"
    )
    source = await remember(container, DUBAI, namespace="people", source="chat-import")
    await drained(container)
    facts = await facts_of(container, source)
    assert [f["content"] for f in facts] == [
        "[fact] Caroline lives in Dubai (2026-03-01)",
        "[preference] Caroline likes night shifts",
    ]
    dubai, likes = facts
    assert dubai["metadata"]["fact"] == {
        "type": "fact",
        "subject": "Caroline",
        "predicate": "lives in",
        "object": "Dubai",
        "occurred_at": "2026-03-01",
        "entities": ["Caroline", "Dubai"],
        "importance": 5,
    }
    assert likes["metadata"]["fact"]["importance"] == 3 and likes["metadata"]["fact"]["occurred_at"] is None
    assert dubai["occurred_at"].date().isoformat() == "2026-03-01"
    for fact in facts:
        assert fact["fact_source_id"] == source and fact["metadata"]["source_chunk_id"] == source
        assert (fact["user_id"], fact["project_id"], fact["namespace"], fact["source"]) == (
            "alice",
            None,
            "people",
            "chat-import",
        )
    assert (await debt(container, source))["facts_pending_at"] is None
    # one call, deterministic, with the key configured; the facts are found by search like any memory
    (request,) = models.chat_requests
    assert request["temperature"] == 0 and request["model"] == "qwen-test"
    assert any(h.get("authorization") == "Bearer ek-test-secret-0b7d" for h in models.headers)
    found = await container.recall.search(ALICE, SearchRequest(query="Caroline night shifts", namespace="people"))
    assert any(r.content == "[preference] Caroline likes night shifts" for r in found.results)


async def test_pii_is_redacted_before_the_text_leaves(container: Container, models: FakeModelServer) -> None:
    secret = "sk-" + "a1B2" * 10
    text = (
        "Reach Caroline at caroline.r@example.com or +44 20 7946 0958, office 555-867-5309; the gateway is "
        f"10.0.3.17 and the key {secret}, header Bearer abcdefghijklmnop1234"
    )
    source = await remember(container, text)
    await drained(container)
    sent = models.chat_requests[0]["messages"][1]["content"]
    for raw in ("caroline.r@example.com", "7946", "867-5309", "10.0.3.17", secret, "abcdefghijklmnop1234"):
        assert raw not in sent
    for mark in ("[EMAIL]", "[PHONE]", "[IP]", "[SECRET]"):
        assert mark in sent
    assert sent.startswith("Date: ")
    stored = await sql(container, "SELECT content FROM memory_entries WHERE id = %(id)s", {"id": source})
    assert stored[0]["content"] == text  # what is stored stays verbatim


async def test_facts_are_deduplicated_by_content_in_scope(container: Container, models: FakeModelServer) -> None:
    same = answer(("fact", "Caroline", "lives in", "Dubai"), ("fact", "Caroline", "lives in", "Dubai"))
    models.chat_script = [same, same]
    first = await remember(container, DUBAI)
    await drained(container)
    second = await remember(container, "Caroline has lived in Dubai since March 2026, near the marina")
    await drained(container)
    rows = await sql(container, "SELECT fact_source_id FROM memory_entries WHERE source_type = 'fact'")
    assert [r["fact_source_id"] for r in rows] == [first]
    assert (await debt(container, second))["facts_pending_at"] is None  # completed, nothing new to add


async def test_an_update_replaces_the_facts_and_forgetting_deletes_them(
    container: Container, models: FakeModelServer
) -> None:
    models.chat_script = [DUBAI_FACTS, BELGIUM_FACTS, answer(("fact", "Melanie", "owns", "a red kayak"))]
    source = await remember(container, DUBAI)
    await drained(container)
    assert len(await facts_of(container, source)) == 2
    await container.memories.update(ALICE, source, MemoryUpdate(content=BELGIUM))
    # the old facts are gone with the update itself, before any new extraction
    assert await facts_of(container, source) == []
    assert (await debt(container, source))["facts_pending_at"] is not None
    await drained(container)
    assert [f["content"] for f in await facts_of(container, source)] == [
        "[fact] Caroline lives in Belgium (2026-03-01)"
    ]
    # a metadata-only update keeps the facts and owes nothing
    await container.memories.update(ALICE, source, MemoryUpdate(metadata={"topic": "moves"}))
    assert len(await facts_of(container, source)) == 1 and (await debt(container, source))["facts_pending_at"] is None
    kayak = await remember(container, "Melanie bought a red kayak for the summer lake trips", source_refs=["doc:7"])
    await drained(container)
    assert len(await facts_of(container, kayak)) == 1
    await container.memories.forget(ALICE, ForgetRequest(source_ref="doc:7"))
    assert await facts_of(container, kayak) == []
    await container.memories.forget(ALICE, ForgetRequest(id=source))
    assert await sql(container, "SELECT id FROM memory_entries WHERE source_type = 'fact'") == []


async def test_facts_follow_what_hides_their_source(container: Container, models: FakeModelServer) -> None:
    models.chat_reply = DUBAI_FACTS
    source = await remember(container, DUBAI)
    await drained(container)
    await container.memories.update(ALICE, source, MemoryUpdate(namespace="people", sensitivity="internal"))
    rows = await facts_of(container, source)
    assert len(rows) == 2 and {r["namespace"] for r in rows} == {"people"}
    assert {r["metadata"]["sensitivity"] for r in rows} == {"internal"}
    query = SearchRequest(query="Caroline lives in Dubai", namespace="people")
    assert len((await container.recall.search(ALICE, query)).results) == 3
    # superseded (as a contradicting capture does it): the source and its facts drop out of search together
    await sql(container, "UPDATE memory_entries SET status = 'superseded' WHERE id = %(id)s", {"id": source})
    statuses = await sql(
        container, "SELECT DISTINCT status FROM memory_entries WHERE fact_source_id = %(id)s", {"id": source}
    )
    assert statuses == [{"status": "superseded"}]
    assert (await container.recall.search(ALICE, query)).results == []


async def test_deleting_a_project_deletes_the_facts_of_its_memories(
    container: Container, models: FakeModelServer
) -> None:
    models.chat_reply = DUBAI_FACTS
    await sql(container, "INSERT INTO tenants (id, name) VALUES ('acme', 'acme') ON CONFLICT DO NOTHING")
    await sql(container, "INSERT INTO users (id, tenant_id, email, name) VALUES ('alice', 'acme', 'a@acme.test', 'a')")
    project = await container.projects.create(ALICE, "relocations")
    source = await remember(container, DUBAI, project=project.id)
    await drained(container)
    rows = await facts_of(container, source)
    assert len(rows) == 2 and {r["project_id"] for r in rows} == {project.id}
    await container.projects.delete(ALICE, project.id)
    assert await sql(container, "SELECT id FROM memory_entries") == []


# ---- no stale fact may land ---------------------------------------------------------------------------------


async def test_an_extraction_overtaken_by_an_update_never_lands(container: Container, models: FakeModelServer) -> None:
    models.chat_hold = threading.Event()
    models.chat_script = [DUBAI_FACTS, BELGIUM_FACTS]
    source = await remember(container, DUBAI)
    await arrived(models)  # the extraction of the Dubai version is waiting for its answer
    await container.memories.update(ALICE, source, MemoryUpdate(content=BELGIUM))
    models.chat_hold.set()
    await drained(container)
    contents = [f["content"] for f in await facts_of(container, source)]
    assert contents == ["[fact] Caroline lives in Belgium (2026-03-01)"]
    assert "Belgium" in models.chat_requests[1]["messages"][1]["content"]
    assert (await debt(container, source))["facts_pending_at"] is None


async def test_an_extraction_overtaken_by_a_delete_never_lands(container: Container, models: FakeModelServer) -> None:
    models.chat_hold = threading.Event()
    models.chat_reply = DUBAI_FACTS
    source = await remember(container, DUBAI)
    await arrived(models)
    await container.memories.forget(ALICE, ForgetRequest(id=source))
    models.chat_hold.set()
    await drained(container)
    assert await sql(container, "SELECT id FROM memory_entries") == []


async def test_an_update_waiting_on_a_landing_still_deletes_what_landed(
    container: Container, models: FakeModelServer
) -> None:
    models.chat_hold = threading.Event()  # keep the drain from landing anything itself
    source = await remember(container, DUBAI)
    await arrived(models)
    url = container.settings.database_url
    assert url is not None
    # a landing in progress: the source is locked and a fact for this version is inserted, not yet committed
    with psycopg.connect(url.get_secret_value()) as landing:
        landing.execute("SELECT id FROM memory_entries WHERE id = %s FOR UPDATE", (source,))
        landing.execute(
            "INSERT INTO memory_entries (id, tenant_id, user_id, scope_key, content, content_hash, source_type,"
            " metadata, fact_source_id) VALUES ('01FACT00000000000000000000', 'acme', 'alice', 'u:alice',"
            " '[fact] Caroline lives in Dubai', 'h-dubai', 'fact', jsonb_build_object('source_chunk_id', %s::text),"
            " %s)",
            (source, source),
        )
        update = asyncio.create_task(container.memories.update(ALICE, source, MemoryUpdate(content=BELGIUM)))
        await asyncio.sleep(0.5)
        assert not update.done(), "the update should wait for the landing's row lock"
        landing.commit()
    await asyncio.wait_for(update, timeout=10)
    assert await facts_of(container, source) == []


# ---- faults never block a write or a search -----------------------------------------------------------------


@pytest.mark.parametrize("fault", ["down", "500", "not-json", "no-choices", "prose", "slow", "never-ends"])
async def test_a_failing_model_leaves_the_debt_for_a_retry(
    container: Container, models: FakeModelServer, fault: str
) -> None:
    if fault == "prose":
        models.chat_reply = "I am sorry, I cannot list facts for this text."
    else:
        models.chat_fault = fault
    started = time.monotonic()
    source = await remember(container, DUBAI)
    assert time.monotonic() - started < TIMEOUT_MS / 1000  # the write never waits for the model
    found = await container.recall.search(ALICE, SearchRequest(query="Caroline Dubai nurse"))
    assert [r.id for r in found.results] == [source]
    await drained(container)
    owed = await debt(container, source)
    assert owed["facts_pending_at"] is not None and owed["facts_attempts"] == 1 and owed["backed_off"]
    assert container.facts is not None and await container.facts.run_once() == 0  # not due again yet
    models.reset()
    models.chat_reply = DUBAI_FACTS
    await sql(container, "UPDATE memory_entries SET facts_next_at = now() WHERE id = %(id)s", {"id": source})
    assert await container.facts.run_once() == 2
    assert (await debt(container, source))["facts_pending_at"] is None


async def test_a_write_landing_while_the_drain_claims_is_not_left_behind(
    container: Container, models: FakeModelServer
) -> None:
    # the drain's last claim found nothing due; a write committed (and kicked the drain) before that claim
    # answered. The drain must look again instead of ending, or the debt waits for the next pass.
    models.chat_reply = DUBAI_FACTS
    facts = container.facts
    assert facts is not None
    store = facts._store
    claim = store.claim_owed
    written: list[str] = []

    async def claim_then_write(limit: int, lease_s: float) -> Any:
        owed = await claim(limit, lease_s)
        if not written:
            written.append(await remember(container, DUBAI))
        return owed

    setattr(store, "claim_owed", claim_then_write)  # noqa: B010 (the moment of the race, made certain)
    facts.kick()
    await drained(container)
    assert (await debt(container, written[0]))["facts_pending_at"] is None
    assert len(await facts_of(container, written[0])) == 2


async def test_the_backlog_is_reported(container: Container, models: FakeModelServer) -> None:
    models.chat_fault = "down"
    await remember(container, DUBAI)
    await remember(container, "Melanie bought a red kayak for the summer lake trips")
    await drained(container)
    assert container.facts is not None and await container.facts.pending() == 2
    deep = await container.health.deep(ADMIN)
    assert deep.pending_extractions == 2
    assert (await container.metrics.pending_facts(ADMIN)) == 2
    assert (await container.telemetry.snapshot(ADMIN)).pending_extractions == 2


async def test_extractions_in_flight_are_bounded_and_the_backlog_drains(
    make_database: Callable[[], str], models: FakeModelServer
) -> None:
    built = await _build(
        make_database,
        models,
        extraction_enabled=True,
        extraction_endpoint=models.chat_url,
        extraction_model="qwen-test",
        extraction_max_concurrent=2,
    )
    try:
        models.chat_hold = threading.Event()
        models.chat_reply = DUBAI_FACTS
        ids = [await remember(built, f"Visit number {i} to the Lisbon office went well") for i in range(5)]
        await arrived(models)
        await asyncio.sleep(0.5)
        assert len(models.chat_requests) == 2  # the other three wait for a slot
        models.chat_hold.set()
        await drained(built)
        assert len(models.chat_requests) == 5
        owed = await sql(built, "SELECT id FROM memory_entries WHERE facts_pending_at IS NOT NULL")
        assert owed == []
        # the same two facts for every visit: stored once, under whichever visit landed first
        rows = await sql(built, "SELECT fact_source_id FROM memory_entries WHERE source_type = 'fact'")
        assert len(rows) == 2 and rows[0]["fact_source_id"] in ids
    finally:
        models.reset()
        await built.close()


async def test_the_leader_job_starts_a_drain_and_reports_the_debt(
    container: Container, models: FakeModelServer
) -> None:
    models.chat_fault = "down"
    source = await remember(container, DUBAI)
    await drained(container)
    container.settings = container.settings.model_copy(update={"jobs_enabled": True})
    (job,) = [j for j in build_scheduler(container).jobs if j.name == "fact-extraction"]
    assert job.interval_s == FACTS_DRAIN_INTERVAL_S
    models.reset()
    models.chat_reply = DUBAI_FACTS
    await sql(container, "UPDATE memory_entries SET facts_next_at = now() WHERE id = %(id)s", {"id": source})
    assert await job.run() == {"pending": 1}
    await drained(container)
    assert len(await facts_of(container, source)) == 2


# ---- switched off, and misconfigured ------------------------------------------------------------------------


async def test_extraction_off_writes_no_debt_and_calls_nothing(
    make_database: Callable[[], str], models: FakeModelServer
) -> None:
    built = await _build(make_database, models)
    try:
        assert built.facts is None
        source = await remember(built, DUBAI)
        await built.memories.update(ALICE, source, MemoryUpdate(content=BELGIUM))
        rows = await sql(built, "SELECT count(*) AS n FROM memory_entries WHERE facts_pending_at IS NOT NULL")
        assert rows[0]["n"] == 0
        assert (await built.health.deep(ADMIN)).pending_extractions is None
        built.settings = built.settings.model_copy(update={"jobs_enabled": True})
        names = [j.name for j in build_scheduler(built).jobs]
        assert "embeddings-reconcile" in names and "fact-extraction" not in names
    finally:
        await built.close()
    assert models.chat_requests == []


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"extraction_enabled": True}, "NOVAMEM_EXTRACTION_ENABLED=1 needs NOVAMEM_EXTRACTION_ENDPOINT"),
        (
            {"extraction_enabled": True, "extraction_endpoint": "http://10.0.0.5:8000/v1"},
            "needs NOVAMEM_EXTRACTION_ENDPOINT and NOVAMEM_EXTRACTION_MODEL",
        ),
        (
            {"extraction_enabled": True, "extraction_endpoint": "http://8.8.8.8/v1", "extraction_model": "m"},
            "NOVAMEM_EXTRACTION_ENDPOINT uses plain HTTP to a public host",
        ),
        ({"extraction_endpoint": "ftp://models.internal/v1"}, "NOVAMEM_EXTRACTION_ENDPOINT must be an http"),
        ({"extraction_max_concurrent": 0}, "NOVAMEM_EXTRACTION_MAX_CONCURRENT"),
        ({"extraction_max_facts": 0}, "NOVAMEM_EXTRACTION_MAX_FACTS"),
        ({"extraction_timeout_ms": 10}, "NOVAMEM_EXTRACTION_TIMEOUT_MS"),
    ],
)
def test_misconfiguration_is_refused_with_the_variable_named(env: dict[str, Any], needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(auth_mode="none", **env)
    assert needle in info.value.message


def test_the_server_refuses_to_start_with_extraction_half_configured() -> None:
    env = {**os.environ, "NOVAMEM_EXTRACTION_ENABLED": "1", "NOVAMEM_EXTRACTION_ENDPOINT": "http://127.0.0.1:9/v1"}
    result = subprocess.run(
        [sys.executable, "-m", "novamem", "serve"], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 2
    assert "NOVAMEM_EXTRACTION_MODEL" in result.stderr


# ---- the pure parts -----------------------------------------------------------------------------------------


def test_answers_are_read_defensively() -> None:
    assert parse_facts("no array here", max_facts=8) is None
    assert parse_facts("[]", max_facts=8) == []
    assert parse_facts("<think>[not json</think> [note] then [1, 2]", max_facts=8) == []
    many = answer(*[("event", f"Person {i}", "visited", "Lisbon") for i in range(12)])
    assert len(parse_facts(many, max_facts=8) or []) == 8
    odd = json.dumps([{"type": "task", "subject": "Bob", "predicate": "must", "object": "renew", "importance": 9}])
    (fact,) = parse_facts(odd, max_facts=8) or []
    assert fact.importance == 3 and fact.content == "[task] Bob must renew"


def test_the_redactor_keeps_ordinary_text_and_dates() -> None:
    redactor = PiiRedactor()
    text = "On 2026-03-01 Caroline paid 1200 euros for 3 nights in room 42"
    assert redactor.redact(text) == text
    redactor.add_rule(r"\bCaroline\b", "[NAME]")
    assert redactor.redact(text).startswith("On 2026-03-01 [NAME] paid")
