"""The dream cycle's fact consolidation against the real embedded PostgreSQL and a local OpenAI-compatible chat
server (tests/fake_models.py) that answers as scripted: a verdict, garbage, 500, slow, or never ending.

Facts are written with SQL (as LLM fact extraction stores them: `source_type = 'fact'`) so each test picks
their vectors, and with them which facts are near each other: `axis(i)` and `axis(i, 0.4)` are at cosine 0.93
(one cluster), `axis(i)` and `axis(i, -0.8)` at 0.78 (apart).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from novamem.config import load_settings
from novamem.container import Container
from novamem.domain.fact_consolidation import FactMember, Supersession, parse_supersessions
from novamem.domain.scope import Caller
from novamem.embedding.chat import ChatModel
from novamem.services.memory.models import SearchRequest
from novamem.services.operations.dream import DreamService
from novamem.services.operations.fact_consolidation import FactConsolidator
from novamem.storage.base import VectorSpace
from novamem.storage.fact_consolidation import FACT_CURSOR_KEY
from novamem.storage.postgres.dream import PostgresDreamStore
from novamem.storage.postgres.fact_consolidation import PostgresFactConsolidationStore
from tests.fake_embedder import DIM, FakeEmbeddingServer
from tests.fake_models import FakeModelServer
from tests.services.test_dream_cycle import MODEL, T0, Rows, axis

TIMEOUT_MS = 600
U1 = Caller(tenant_id="acme", user_id="u1")
VERDICT = json.dumps([{"group": 1, "superseded": 1, "by": 2}])


@pytest.fixture(scope="module")
def models() -> Iterator[FakeModelServer]:
    fake = FakeModelServer()
    fake.start()
    yield fake
    fake.stop()


async def _build(
    make_database: Callable[[], str], fake_embedder: FakeEmbeddingServer, models: FakeModelServer, **env: Any
) -> Container:
    models.reset()
    settings = load_settings(
        database_url=make_database(),
        jobs_enabled=False,
        auth_mode="none",
        **fake_embedder.settings(),
        graph_link_fanout=0,
        **env,
    )
    return await Container.build(settings)


@pytest.fixture
async def built(
    make_database: Callable[[], str], fake_embedder: FakeEmbeddingServer, models: FakeModelServer
) -> AsyncIterator[Container]:
    """A container over a fresh database with fact extraction on (the fake chat model judges)."""
    container = await _build(
        make_database,
        fake_embedder,
        models,
        extraction_enabled=True,
        extraction_endpoint=models.chat_url,
        extraction_model="judge-test",
        extraction_timeout_ms=TIMEOUT_MS,
    )
    yield container
    models.reset()  # release anything still waiting before the container closes
    await container.close()


@pytest.fixture
def rows(built: Container) -> Rows:
    url = built.settings.database_url
    assert url is not None
    return Rows(url.get_secret_value())


def fact(rows: Rows, content: str, vec: list[float], **owner: Any) -> str:
    """A fact row as extraction stores it (metadata holds the typed fact and its source's id)."""
    entry_id = rows.put(content, vec, **owner)
    meta = {"fact": {"type": "fact", "subject": content.split()[1]}, "source_chunk_id": "src-1"}
    rows.sql(
        "UPDATE memory_entries SET source_type = 'fact', metadata = %s::jsonb WHERE id = %s",
        (json.dumps(meta), entry_id),
    )
    return entry_id


def dream_with(built: Container, models: FakeModelServer, **kw: Any) -> DreamService:
    """A dream service over the test database whose fact consolidator is configured by `kw`."""
    chat = ChatModel(endpoint=models.chat_url, model="judge-test", api_key=None, timeout_s=TIMEOUT_MS / 1000)
    space = VectorSpace(MODEL, DIM)
    consolidator = FactConsolidator(
        PostgresFactConsolidationStore(built.database, space), chat, timeout_s=TIMEOUT_MS / 1000, **kw
    )
    return DreamService(PostgresDreamStore(built.database, space), facts=consolidator)


def fact_cursor(rows: Rows) -> str | None:
    found = rows.sql("SELECT value FROM engine_state WHERE key = %s", (FACT_CURSOR_KEY,))
    return found[0][0] if found else None


def state(rows: Rows) -> set[tuple[Any, ...]]:
    """Every fact's id, status and metadata, and every `supersedes` edge."""
    facts = {
        (r[0], r[1], json.dumps(r[2], sort_keys=True))
        for r in rows.sql("SELECT id, status, metadata FROM memory_entries WHERE source_type = 'fact'")
    }
    return facts | set(rows.sql("SELECT from_id, to_id FROM memory_relations WHERE relation = 'supersedes'"))


async def found_ids(built: Container, query: str) -> set[str]:
    return {r.id for r in (await built.recall.search(U1, SearchRequest(query=query, rerank=False))).results}


async def test_an_outdated_fact_is_superseded_with_provenance(
    built: Container, rows: Rows, models: FakeModelServer
) -> None:
    old = fact(rows, "[fact] Caroline lives in Dubai (2025-01-10) mail caroline@example.com", axis(0))
    new = fact(rows, "[fact] Caroline lives in Belgium (2026-03-01)", axis(0, 0.4), created=T0 + timedelta(days=400))
    apart = fact(rows, "[fact] Caroline works as nurse", axis(0, -0.8))  # cosine 0.78 and 0.5: no cluster
    memory = rows.put("Caroline lives in Lisbon now", axis(0, 0.2))  # near, but no fact
    assert {old, new} <= await found_ids(built, "Caroline lives")
    models.chat_reply = "<think>group 1: [1] is older</think>```json\n" + VERDICT + "\n```"

    result = await built.dream.run_pass()

    assert (result.facts_walked, result.fact_clusters_judged, result.facts_superseded) == (3, 1, 1)
    assert len(models.chat_requests) == 1  # old's cluster and new's cluster are the same cluster
    asked = models.chat_requests[0]["messages"][1]["content"]
    assert "1. [fact] Caroline lives in Dubai" in asked and "2. [fact] Caroline lives in Belgium" in asked
    assert "[EMAIL]" in asked and "caroline@example.com" not in asked  # redacted before it leaves
    assert "nurse" not in asked and "Lisbon" not in asked
    ((status, meta),) = rows.sql("SELECT status, metadata FROM memory_entries WHERE id = %s", (old,))
    assert status == "superseded"
    assert meta["fact"] == {"type": "fact", "subject": "Caroline"} and meta["source_chunk_id"] == "src-1"  # merged
    assert meta["fact_inactive"] is True and meta["superseded_by"] == new
    assert meta["superseded_via"] == "dream_cycle_consolidation" and meta["superseded_at"].endswith("Z")
    assert (
        rows.sql("SELECT status FROM memory_entries WHERE id IN (%s, %s, %s)", (new, apart, memory))
        == [("active",)] * 3
    )
    assert rows.sql("SELECT from_id, to_id, strength FROM memory_relations WHERE relation = 'supersedes'") == [
        (new, old, 1.0)
    ]
    assert rows.sql("SELECT change, detail FROM memory_changes WHERE entry_id = %s", (old,)) == [
        ("superseded", {"supersededBy": new, "reason": "dream_cycle_consolidation"})
    ]
    found = await found_ids(built, "Caroline lives")
    assert new in found and old not in found
    # the retired fact is not walked again, and the rest are singletons now: no model call
    models.chat_requests.clear()
    again = await built.dream.run_pass()
    assert (again.facts_walked, again.fact_clusters_judged, again.facts_superseded) == (2, 0, 0)
    assert models.chat_requests == []


async def test_a_retired_fact_stays_retired_when_its_source_comes_back(built: Container, rows: Rows) -> None:
    source = rows.put("Caroline moved from Dubai to Belgium last spring", axis(1))
    retired = fact(rows, "[fact] Caroline lives in Dubai", axis(1, 0.1))
    kept = fact(rows, "[fact] Caroline lives in Belgium", axis(1, 0.2))
    rows.sql("UPDATE memory_entries SET fact_source_id = %s WHERE id IN (%s, %s)", (source, retired, kept))
    rows.sql(
        "UPDATE memory_entries SET status = 'superseded', metadata = metadata || '{\"fact_inactive\": true}'"
        " WHERE id = %s",
        (retired,),
    )

    rows.sql("UPDATE memory_entries SET status = 'deprecated' WHERE id = %s", (source,))
    rows.sql("UPDATE memory_entries SET status = 'active' WHERE id = %s", (source,))

    statuses = dict(rows.sql("SELECT id, status FROM memory_entries WHERE id IN (%s, %s)", (retired, kept)))
    assert statuses == {retired: "superseded", kept: "active"}  # the other fact followed its source both ways


async def test_facts_of_other_owners_are_never_clustered_or_superseded(
    built: Container, rows: Rows, models: FakeModelServer
) -> None:
    rows.sql("INSERT INTO tenants (id, name) VALUES ('acme', 'acme'), ('globex', 'globex')")
    rows.sql("INSERT INTO users (id, tenant_id, email, name) VALUES ('u1', 'acme', 'u1@acme.test', 'u1')")
    rows.sql("INSERT INTO projects (id, tenant_id, name, owner_user_id) VALUES ('p1', 'acme', 'one', 'u1')")
    text = "[fact] Build server address is build-{n}"
    owners: list[dict[str, Any]] = [
        {"user": "u1"},
        {"user": "u2"},
        {"user": "u1", "project": "p1"},
        {"user": "u1", "tenant": "globex"},
        {"user": "u1", "org": "org-1"},
    ]
    ids = [fact(rows, text.format(n=i), axis(3, 0.1 * i), **o) for i, o in enumerate(owners)]
    models.chat_reply = VERDICT
    before = state(rows)

    result = await built.dream.run_pass()

    assert (result.facts_walked, result.fact_clusters_judged, result.facts_superseded) == (5, 0, 0)
    assert models.chat_requests == [] and state(rows) == before
    # the storage re-checks the owners itself, whatever pair it is handed
    store = PostgresFactConsolidationStore(built.database, VectorSpace(MODEL, DIM))
    assert await store.supersede([Supersession(ids[0], b) for b in ids[1:]]) == 0
    assert state(rows) == before
    # the control: a second fact of u1's own is clustered and judged
    mine = fact(rows, text.format(n=9), axis(3, 0.3))
    result = await built.dream.run_pass()
    assert (result.fact_clusters_judged, result.facts_superseded) == (1, 1)
    assert rows.sql("SELECT to_id, from_id FROM memory_relations WHERE relation = 'supersedes'") == [(ids[0], mine)]


async def test_only_pairs_inside_one_cluster_apply(built: Container, rows: Rows, models: FakeModelServer) -> None:
    a1 = fact(rows, "[fact] Alice prefers tea", axis(10))
    a2 = fact(rows, "[fact] Alice prefers coffee", axis(10, 0.4))
    b1 = fact(rows, "[fact] Bob uses port 7778", axis(20))
    b2 = fact(rows, "[fact] Bob uses port 7779", axis(20, 0.4))
    models.chat_reply = json.dumps(
        [
            {"group": 1, "superseded": 1, "by": 4},  # no fact 4 in group 1
            {"group": 1, "superseded": b1, "by": 1},  # group 2's fact named in group 1
            {"group": 2, "superseded": 2, "by": 2},  # a fact by itself
            {"group": 3, "superseded": 1, "by": 2},  # no group 3
            {"group": True, "superseded": 1, "by": 2},  # not a number
            {"group": "2", "superseded": b1, "by": "2"},  # valid: by id and by number as a string
            {"group": 2, "superseded": 2, "by": 1},  # the reverse of the pair just retired
        ]
    )

    result = await built.dream.run_pass()

    assert (result.fact_clusters_judged, result.facts_superseded) == (2, 1)
    statuses = dict(rows.sql("SELECT id, status FROM memory_entries"))
    assert statuses == {a1: "active", a2: "active", b1: "superseded", b2: "active"}
    assert rows.sql("SELECT from_id, to_id FROM memory_relations") == [(b2, b1)]


@pytest.mark.parametrize("fault", ["500", "slow", "never-ends", "garbage"])
async def test_a_failing_model_leaves_facts_untouched_and_the_pass_completes(
    built: Container, rows: Rows, models: FakeModelServer, fault: str
) -> None:
    for i in range(2):
        fact(rows, f"[fact] Service {i} runs version 1", axis(30 + 2 * i))
        fact(rows, f"[fact] Service {i} runs version 2", axis(30 + 2 * i, 0.4))
    rows.put("Release notes are written in the changelog file", axis(50))  # a duplicate pair: still merged
    rows.put("Release notes are written in the changelog file.", axis(50))
    seeds = [rows.put(f"Seed {n}", None) for n in "ab"]
    for n in range(3):
        shared = rows.put(f"Shared {n}", None)
        rows.edge(seeds[0], shared)
        rows.edge(seeds[1], shared)
    if fault == "garbage":
        models.chat_reply = "Both groups look fine to me."
    else:
        models.chat_fault = fault
    before = state(rows)

    result = await dream_with(built, models, per_call=1).run_pass()

    assert (result.facts_walked, result.fact_clusters_judged, result.facts_superseded) == (4, 0, 0)
    assert result.merged == 1 and result.edges_promoted == 1  # the rest of the cycle ran
    assert result.duration_ms < 5000  # bounded by the answer's time limit, not by the model
    assert state(rows) == before
    # garbage judges nothing but the next batch is still asked; a model down or slow is asked once a pass
    assert len(models.chat_requests) == (2 if fault == "garbage" else 1)


async def test_the_fact_cursor_advances_wraps_and_moves_before_the_work(
    built: Container, rows: Rows, models: FakeModelServer
) -> None:
    ids = [fact(rows, f"[fact] Topic {i} has value {i * 7}", axis(2 * i)) for i in range(5)]
    walked: list[int | str | None] = []
    for _ in range(3):
        walked.append((await dream_with(built, models, walk=2).run_pass()).facts_walked)
        walked.append(fact_cursor(rows))
    assert walked == [2, ids[1], 2, ids[3], 1, ""]
    assert (await dream_with(built, models, walk=2).run_pass()).facts_walked == 2  # wrapped: starts over
    assert fact_cursor(rows) == ids[1]
    assert models.chat_requests == []  # singletons are never judged

    # a retirement that fails does not pin the cursor: it moved before the work
    rows.sql("DELETE FROM engine_state WHERE key = %s", (FACT_CURSOR_KEY,))
    old = fact(rows, "[fact] Topic 0 has value 1", axis(0, 0.4))
    rows.sql(
        "CREATE FUNCTION refuse_retire() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN IF NEW.status = 'superseded' THEN RAISE EXCEPTION 'retire refused'; END IF; RETURN NEW; END; $$"
    )
    rows.sql(
        "CREATE TRIGGER refuse_retire BEFORE UPDATE ON memory_entries FOR EACH ROW EXECUTE FUNCTION refuse_retire()"
    )
    models.chat_reply = VERDICT
    with pytest.raises(psycopg.Error, match="retire refused"):
        await dream_with(built, models, walk=2).run_pass()
    assert fact_cursor(rows) == ids[1]
    assert rows.sql("SELECT status FROM memory_entries WHERE id IN (%s, %s)", (ids[0], old)) == [("active",)] * 2


async def test_with_extraction_off_facts_are_left_alone(
    make_database: Callable[[], str], fake_embedder: FakeEmbeddingServer, models: FakeModelServer
) -> None:
    container = await _build(make_database, fake_embedder, models)
    try:
        url = container.settings.database_url
        assert url is not None
        rows = Rows(url.get_secret_value())
        fact(rows, "[fact] Caroline lives in Dubai", axis(0))
        fact(rows, "[fact] Caroline lives in Belgium", axis(0, 0.4))
        models.chat_reply = VERDICT
        before = state(rows)

        result = await container.dream.run_pass()

        assert (result.facts_walked, result.fact_clusters_judged, result.facts_superseded) == (0, 0, 0)
        assert models.chat_requests == [] and state(rows) == before and fact_cursor(rows) is None
    finally:
        await container.close()


def test_answers_are_read_defensively() -> None:
    t = T0
    cluster = [FactMember("a", "x", t), FactMember("b", "y", t), FactMember("c", "z", t)]
    other = [FactMember("d", "x", t), FactMember("e", "y", t)]
    assert parse_supersessions("no array here", [cluster]) is None
    assert parse_supersessions("[]", [cluster]) == []
    answer = (
        '<think>[{"group": 1, "superseded": 3, "by": 1}]</think> Sure: ```json\n'
        '[{"group": 1, "superseded": 2, "by": "c"}, {"group": 1, "superseded": "d", "by": 1},'
        ' {"group": 2, "superseded": 1.0, "by": 2}, {"group": 2, "superseded": 1, "by": 2},'
        ' {"group": 1, "superseded": 0, "by": 1}, "junk", {"group": 1}]\n```'
    )
    assert parse_supersessions(answer, [cluster, other]) == [Supersession("b", "c"), Supersession("d", "e")]
