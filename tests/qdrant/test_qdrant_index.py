"""Qdrant as the vector index: fed through the outbox, searched with the scope filter, degraded to
pgvector while down, caught up afterwards, rebuilt resumably, and refused when misconfigured."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from qdrant_client import AsyncQdrantClient

from novamem.config import load_settings
from novamem.container import Container
from novamem.domain.scope import Caller, ReadScope
from novamem.errors import ConfigError, Unavailable
from novamem.services.memory.index_rebuild import RebuildProgress
from novamem.services.memory.index_sync import IndexSync
from novamem.services.memory.models import ForgetRequest, MemoryCreate, SearchRequest, WeightsIn
from novamem.storage.base import VectorSpace
from novamem.storage.index_outbox import OutboxItem
from novamem.storage.postgres.index_outbox import PostgresIndexOutbox
from novamem.storage.qdrant.filters import scope_filter
from novamem.storage.qdrant.vector_index import QdrantVectorIndex
from novamem.storage.vector_index import VectorRecord

from .conftest import sql

ALICE = Caller(tenant_id="acme", user_id="u1")
BOB = Caller(tenant_id="acme", user_id="u2")
MALLORY = Caller(tenant_id="globex", user_id="u1")  # same user id, other tenant
FACT = "The payroll export runs every Friday at 18:00 from the finance server"
VECTOR_ONLY = WeightsIn(keyword=0)


def index_of(c: Container) -> QdrantVectorIndex:
    assert isinstance(c.vector_index, QdrantVectorIndex)
    return c.vector_index


def sync_of(c: Container) -> IndexSync:
    assert c.index_sync is not None
    return c.index_sync


async def search_ids(c: Container, caller: Caller, query: str = FACT) -> tuple[list[str], bool]:
    answer = await c.recall.search(caller, SearchRequest(query=query, weights=VECTOR_ONLY))
    return [r.id for r in answer.results], answer.degraded


def outbox(c: Container) -> list[tuple[object, ...]]:
    return sql(c, "SELECT target, entry_id, op, attempts FROM index_outbox ORDER BY id")


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    yield port


async def test_writes_feed_qdrant_through_the_outbox_and_search_reads_it(qdrant_container: Container) -> None:
    c = qdrant_container
    created = await c.memories.remember(ALICE, MemoryCreate(content=FACT))
    assert created.id
    # queued in the write's transaction; nothing reaches Qdrant before the drainer runs
    assert outbox(c) == [("vector", created.id, "upsert", 0)]
    assert await sync_of(c).pending() == {"vector": 1}
    assert await index_of(c).entry_ids() == []

    assert await sync_of(c).drain() == 1
    assert outbox(c) == []
    assert await index_of(c).entry_ids() == [created.id]
    assert await search_ids(c, ALICE) == ([created.id], False)

    # the point is removed behind PostgreSQL's back: vector search (keyword off) no longer finds it,
    # which shows the candidates come from Qdrant, not pgvector
    await index_of(c).apply([_item(created.id, "delete")])
    assert await search_ids(c, ALICE) == ([], False)
    await index_of(c).apply([_item(created.id, "upsert")])
    assert await search_ids(c, ALICE) == ([created.id], False)

    await c.memories.forget(ALICE, ForgetRequest(id=created.id))
    assert outbox(c) == [("vector", created.id, "delete", 0)]
    await sync_of(c).drain()
    assert await index_of(c).entry_ids() == []


def _item(entry_id: str, op: str) -> OutboxItem:
    return OutboxItem(id=0, target="vector", tenant_id="acme", entry_id=entry_id, op=op)


async def test_tenants_and_users_with_identical_content_never_see_each_other(qdrant_container: Container) -> None:
    c = qdrant_container
    ids = {}
    for caller in (ALICE, BOB, MALLORY):
        made = await c.memories.remember(caller, MemoryCreate(content=FACT, namespace="shared"))
        assert made.id and not made.deduplicated
        ids[caller] = made.id
    await sync_of(c).drain()
    assert sorted(await index_of(c).entry_ids()) == sorted(ids.values())
    for caller, own in ids.items():
        assert await search_ids(c, caller) == ([own], False)
        # the Qdrant filter itself excludes the others, before PostgreSQL re-checks anything
        scope = ReadScope(tenant_id=caller.tenant_id, user_id=caller.user_id, namespaces=("shared",))
        vector = await c.embedder.query(FACT)
        assert vector is not None
        assert await index_of(c).nearest(scope, vector, 10) == [own]


def _record(entry_id: str, tenant: str, user: str, project: str | None, **extra: object) -> VectorRecord:
    fields: dict[str, object] = {
        "entry_id": entry_id,
        "tenant_id": tenant,
        "user_id": user,
        "project_id": project,
        "scope_key": f"p:{project}" if project else f"u:{user}",
        "namespace": "default",
        "organization_id": None,
        "agent_name": None,
        "sensitivity": 0,
        "status": "active",
        "expires_at": None,
        "vector": [1.0, 0.5, 0.25, 0.0],
    }
    fields.update(extra)
    return VectorRecord(**fields)  # type: ignore[arg-type]


async def test_the_qdrant_filter_keeps_tenants_users_projects_and_organizations_apart(
    qdrant_container: Container,
) -> None:
    # a small collection of 4-dimensional points on the same client, so every payload case is explicit
    real = index_of(c := qdrant_container)
    index = QdrantVectorIndex(real._client, VectorSpace("test-4d", 4), real._source, timeout_s=5.0)
    await index.put(
        [
            _record("mine-global", "acme", "u1", None),
            _record("mine-p1", "acme", "u1", "p1"),
            _record("other-user-global", "acme", "u2", None),
            _record("other-user-p1", "acme", "u2", "p1"),
            _record("other-user-p2", "acme", "u2", "p2"),
            _record("other-tenant-global", "globex", "u1", None),
            _record("other-tenant-p1", "globex", "u1", "p1"),
            _record("org-entry", "acme", "u1", None, organization_id="org1"),
            _record("secret", "acme", "u1", None, sensitivity=3),
            _record("expired", "acme", "u1", None, expires_at=datetime(2020, 1, 1, tzinfo=UTC)),
            _record("superseded", "acme", "u1", None, status="superseded"),
            _record("other-namespace", "acme", "u1", None, namespace="elsewhere"),
            _record("by-agent", "acme", "u1", None, agent_name="bot"),
        ]
    )
    vector = [1.0, 0.5, 0.25, 0.0]

    async def found(**scope: object) -> set[str]:
        return set(await index.nearest(ReadScope(**scope), vector, 50))  # type: ignore[arg-type]

    assert await found(tenant_id="acme", user_id="u1") == {"mine-global", "other-namespace", "by-agent"}
    assert await found(tenant_id="acme", user_id="u1", namespaces=("default",)) == {"mine-global", "by-agent"}
    assert await found(tenant_id="acme", user_id="u1", agent_filter="bot", agent_filter_set=True) == {"by-agent"}
    assert await found(tenant_id="acme", user_id="u1", include_user_global=False, project_ids=("p1",)) == {
        "mine-p1",
        "other-user-p1",  # a project's entries belong to every member, as in PostgreSQL
    }
    assert await found(tenant_id="globex", user_id="u1", include_user_global=False, project_ids=("p1",)) == {
        "other-tenant-p1"
    }
    assert await found(tenant_id="acme", user_id="u1", organization_id="org1") == {"org-entry"}
    assert await found(tenant_id="acme", user_id="u1", max_sensitivity=3) >= {"secret"}
    assert await found(tenant_id="acme", user_id="u1", include_user_global=False) == set()
    assert scope_filter(ReadScope(tenant_id="acme", user_id="u1", namespaces=()), datetime.now(UTC)) is None
    assert c.vector_index is real


async def test_qdrant_down_keeps_writes_queued_degrades_search_then_catches_up(
    qdrant_container: Container, closed_port: int
) -> None:
    c = qdrant_container
    index = index_of(c)
    first = await c.memories.remember(ALICE, MemoryCreate(content=FACT))
    await sync_of(c).drain()
    working = index._client
    index._client = AsyncQdrantClient(url=f"http://127.0.0.1:{closed_port}", check_compatibility=False)
    try:
        second = await c.memories.remember(ALICE, MemoryCreate(content=FACT.replace("Friday", "Monday")))
        assert second.id  # the write succeeded although Qdrant is down
        drainer = IndexSync(PostgresIndexOutbox(c.database), [index], backoff_base_s=0.0)
        assert await drainer.drain() == 0
        rows = sql(c, "SELECT entry_id, op, attempts, last_error IS NOT NULL FROM index_outbox")
        assert rows == [(second.id, "upsert", 1, True)]
        assert not await index.healthy()
        with pytest.raises(Unavailable):
            await index.nearest(ReadScope(tenant_id="acme", user_id="u1"), [0.0] * 384, 5)
        ids, degraded = await search_ids(c, ALICE)
        assert degraded and set(ids) == {first.id, second.id}  # pgvector answered
    finally:
        await index._client.close()
        index._client = working
    assert await index.healthy()
    assert await drainer.drain() == 1
    assert outbox(c) == []
    assert set(await index.entry_ids()) == {first.id, second.id}
    ids, degraded = await search_ids(c, ALICE)
    assert not degraded and set(ids) == {first.id, second.id}


async def test_a_slow_qdrant_times_out_and_search_falls_back(qdrant_container: Container) -> None:
    c = qdrant_container
    index = index_of(c)
    made = await c.memories.remember(ALICE, MemoryCreate(content=FACT))
    await sync_of(c).drain()
    working, timeout = index._client, index._timeout
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        index._client = AsyncQdrantClient(url=f"http://127.0.0.1:{port}", check_compatibility=False)
        index._timeout = 0.3
        try:
            assert await search_ids(c, ALICE) == ([made.id], True)
        finally:
            await index._client.close()
            index._client, index._timeout = working, timeout


async def test_reindex_interrupted_and_restarted_leaves_exactly_one_point_per_entry(
    qdrant_container: Container,
) -> None:
    c = qdrant_container
    made = []
    for n in range(9):
        out = await c.memories.remember(ALICE, MemoryCreate(content=f"{FACT} (copy number {n})", force=True))
        assert out.id
        made.append(out.id)
    sql(c, "DELETE FROM index_outbox")  # only the rebuild fills the index in this test
    assert c.vector_rebuild is not None
    batches = 0

    def interrupt_after_two(p: RebuildProgress) -> None:
        nonlocal batches
        if p.phase == "index" and p.done > 0:
            batches += 1
            if batches == 2:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        await c.vector_rebuild.run(batch=2, progress=interrupt_after_two)
    partial = await index_of(c).entry_ids()
    assert len(partial) == 4 and set(partial) <= set(made)

    seen: list[RebuildProgress] = []
    result = await c.vector_rebuild.run(batch=2, progress=seen.append)
    assert result.resumed and result.indexed == 5
    points = await index_of(c).entry_ids()
    assert sorted(points) == sorted(made) and len(points) == len(set(points))
    assert seen[-1] == RebuildProgress("index", 9, 9)
    assert sql(c, "SELECT count(*) FROM index_rebuilds") == [(0,)]

    # a fresh rebuild (no checkpoint) starts from an empty collection: stale points do not survive it
    await index_of(c).put([_stale_copy(c, made[0])])
    again = await c.vector_rebuild.run(batch=4)
    assert not again.resumed and again.indexed == 9
    assert sorted(await index_of(c).entry_ids()) == sorted(made)


def _stale_copy(c: Container, entry_id: str) -> VectorRecord:
    return _record("stale-" + entry_id, "acme", "u1", None, vector=[0.1] * c.embedder.embedder.dim)  # type: ignore[union-attr]


async def test_reindex_reembeds_entries_of_another_model_first(qdrant_container: Container) -> None:
    c = qdrant_container
    made = []
    for n in range(3):
        out = await c.memories.remember(ALICE, MemoryCreate(content=f"{FACT} (variant {n})", force=True))
        assert out.id
        made.append(out.id)
    sql(c, "UPDATE memory_entries SET embedding_model = 'old-model' WHERE id = ANY(%s)", (made[:2],))
    queued = await c.store.prepare_vector_space()  # what start-up does after a model change
    assert queued == 2
    assert c.vector_rebuild is not None
    phases: list[str] = []
    result = await c.vector_rebuild.run(progress=lambda p: phases.append(p.phase))
    assert result.embedded == 2 and result.still_owed == 0 and result.indexed == 3
    assert phases[0] == "embed" and phases[-1] == "index"
    models = {m for (m,) in sql(c, "SELECT DISTINCT embedding_model FROM memory_entries")}
    assert models == {c.embedder.embedder.model_id}  # type: ignore[union-attr]
    assert sorted(await index_of(c).entry_ids()) == sorted(made)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"NOVAMEM_VECTOR_STORE": "qdrant"}, "NOVAMEM_QDRANT_URL"),
        ({"NOVAMEM_COLD_PROVIDER": "qdrant"}, "NOVAMEM_QDRANT_URL"),
        ({"NOVAMEM_VECTOR_STORE": "qdrant", "NOVAMEM_QDRANT_URL": "qdrant:6333"}, "NOVAMEM_QDRANT_URL"),
        ({"NOVAMEM_VECTOR_STORE": "qdrant", "NOVAMEM_COLD_URL": "ftp://qdrant"}, "NOVAMEM_QDRANT_URL"),
        ({"NOVAMEM_VECTOR_STORE": "qdrant", "NOVAMEM_QDRANT_URL": "path:"}, "NOVAMEM_QDRANT_URL"),
        ({"NOVAMEM_VECTOR_STORE": "elastic"}, "NOVAMEM_VECTOR_STORE"),
        (
            {"NOVAMEM_VECTOR_STORE": "qdrant", "NOVAMEM_QDRANT_URL": "http://q:6333", "NOVAMEM_QDRANT_TIMEOUT_MS": "0"},
            "NOVAMEM_QDRANT_TIMEOUT_MS",
        ),
    ],
)
def test_a_misconfigured_vector_store_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], variable: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as refused:
        load_settings()
    assert variable in refused.value.message


def test_the_aliases_of_the_reference_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOVAMEM_COLD_PROVIDER", "qdrant")
    monkeypatch.setenv("NOVAMEM_COLD_URL", "http://10.0.0.5:6333")
    monkeypatch.setenv("NOVAMEM_COLD_API_KEY", "k" * 24)
    settings = load_settings()
    assert settings.vector_store == "qdrant" and settings.qdrant_url == "http://10.0.0.5:6333"
    assert settings.qdrant_api_key is not None and settings.qdrant_api_key.get_secret_value() == "k" * 24


async def test_qdrant_without_embeddings_refuses_to_serve(make_database: object, tmp_path: object) -> None:
    settings = load_settings(
        database_url=make_database(),  # type: ignore[operator]
        jobs_enabled=False,
        auth_mode="none",
        embeddings_provider="none",
        vector_store="qdrant",
        qdrant_url=f"path:{tmp_path}/q",
    )
    with pytest.raises(ConfigError, match="NOVAMEM_VECTOR_STORE"):
        await Container.build(settings, serving=True)
    tool = await Container.build(settings)  # a command-line tool without an embedder never searches
    try:
        assert tool.vector_index is None
    finally:
        await tool.close()


async def test_health_and_metrics_show_the_vector_index_and_its_backlog(
    qdrant_container: Container, closed_port: int
) -> None:
    c = qdrant_container
    admin = Caller(tenant_id="acme", user_id="root", is_admin=True, is_server_admin=True)
    await c.memories.remember(ALICE, MemoryCreate(content=FACT))
    deep = (await c.health.deep(admin)).to_wire()
    assert deep["indexes"] == {"vector": "ok"} and deep["pendingIndex"] == {"vector": 1}
    assert deep["status"] == "ok" or deep["deps"]["embedder"] != "ok"
    gauges = (await c.metrics.snapshot(admin)).gauges
    assert gauges.pending_index_vector == 1 and gauges.pending_index_graph is None

    index = index_of(c)
    working = index._client
    index._client = AsyncQdrantClient(url=f"http://127.0.0.1:{closed_port}", check_compatibility=False)
    try:
        down = (await c.health.deep(admin)).to_wire()
        # Qdrant down degrades search but is not an outage of the server: ok stays true
        assert down["indexes"] == {"vector": "unreachable"} and down["status"] == "degraded" and down["ok"]
    finally:
        await index._client.close()
        index._client = working
    await sync_of(c).drain()
    assert (await c.metrics.snapshot(admin)).gauges.pending_index_vector == 0


async def test_deletes_by_sql_cascade_and_expiry_purge_also_reach_qdrant(qdrant_container: Container) -> None:
    c = qdrant_container
    sql(
        c, "INSERT INTO users (id, tenant_id, email, name, role) VALUES ('ada', 'default', 'ada@x.test', 'Ada', 'user')"
    )
    sql(c, "INSERT INTO projects (id, tenant_id, name, owner_user_id) VALUES ('p1', 'default', 'one', 'ada')")
    sql(
        c, "INSERT INTO project_members (project_id, user_id, tenant_id, role) VALUES ('p1', 'ada', 'default', 'owner')"
    )
    ada = Caller(tenant_id="default", user_id="ada")
    in_project = await c.memories.remember(ada, MemoryCreate(content=FACT, project="p1"))
    own = await c.memories.remember(ada, MemoryCreate(content=FACT.replace("Friday", "Sunday")))
    expiring = await c.memories.remember(ada, MemoryCreate(content=FACT.replace("Friday", "Tuesday")))
    await sync_of(c).drain()
    assert set(await index_of(c).entry_ids()) == {in_project.id, own.id, expiring.id}

    sql(c, "DELETE FROM projects WHERE id = 'p1'")  # the entries go by ON DELETE CASCADE, unseen by the app
    sql(c, "UPDATE memory_entries SET expires_at = now() - interval '1 minute' WHERE id = %s", (expiring.id,))
    assert await c.store.purge_expired() == 1
    ops = {(e, op) for _, e, op, _ in outbox(c) if op == "delete"}
    assert ops == {(in_project.id, "delete"), (expiring.id, "delete")}
    await sync_of(c).drain()
    assert await index_of(c).entry_ids() == [own.id]


async def test_only_the_server_switches_an_index_off(qdrant_container: Container) -> None:
    c = qdrant_container
    assert c.settings.database_url is not None
    url = c.settings.database_url.get_secret_value()
    plain = load_settings(database_url=url, jobs_enabled=False, auth_mode="none")
    tool = await Container.build(load_settings(database_url=url, auth_mode="none", embeddings_provider="none"))
    await tool.close()
    assert sql(c, "SELECT target FROM index_targets") == [("vector",)]  # a command-line run changes nothing
    await c.memories.remember(ALICE, MemoryCreate(content=FACT))
    server = await Container.build(plain, serving=True)
    await server.close()
    # a server without Qdrant: nothing is queued for it any more, and what was queued is dropped
    assert sql(c, "SELECT target FROM index_targets") == []
    assert outbox(c) == []
    await c.memories.remember(ALICE, MemoryCreate(content=FACT.replace("Friday", "Monday")))
    assert outbox(c) == []
