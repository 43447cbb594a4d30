"""`POST /v1/me/import` as a batch: one embedding call and one multi-row insert per request, over real HTTP.

The server embeds with the local OpenAI-compatible fake, so every stored row's vector, model and edges
can be checked in PostgreSQL. Timings are not tested here (see `bench/scale.py`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from novamem.error_messages import ENTRY_QUOTA_EXCEEDED
from tests.conftest import RunningServer, start_server
from tests.fake_embedder import DIM, FakeEmbeddingServer
from tests.http.identities import USER_MODE, add_project, add_user, client, mint

ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


@dataclass
class Bulk:
    server: RunningServer
    alice: str
    admin_token: str
    token: str
    shared: str


@pytest.fixture(scope="module")
def bulk(make_database: Callable[[], str], fake_embedder: FakeEmbeddingServer) -> Iterator[Bulk]:
    fake_embedder.down = False
    server = start_server(
        make_database(),
        **USER_MODE,
        embeddings_provider="openai-compatible",
        embeddings_endpoint=fake_embedder.url,
        embeddings_model="fake-hash",
        embeddings_dim=DIM,
        embeddings_batch_max=64,
    )
    alice, admin = add_user(server, "alice"), add_user(server, "root", role="admin")
    shared = add_project(server, "shared", alice)
    yield Bulk(server, alice, mint(server, admin), mint(server, alice), shared)
    server.stop()
    fake_embedder.down = False


@pytest.fixture
def b(bulk: Bulk, fake_embedder: FakeEmbeddingServer) -> Iterator[Bulk]:
    bulk.server.sql("TRUNCATE memory_entries, memory_changes CASCADE")
    fake_embedder.down = False
    yield bulk
    fake_embedder.down = False


def _import(b: Bulk, entries: list[dict[str, object]], status: int = 201) -> dict[str, object]:
    with client(b.server, b.token) as api:
        r = api.post("/v1/me/import", json={"entries": entries})
    assert r.status_code == status, r.text
    body: dict[str, object] = r.json()
    return body


def test_a_full_batch_is_stored_embedded_linked_and_logged(b: Bulk) -> None:
    entries: list[dict[str, object]] = [
        {"content": f"Bulk fact {i}: the {['red', 'green', 'blue'][i % 3]} service runs on port {8000 + i}"}
        for i in range(150)
    ]
    entries += [{"content": f"Project fact {i} about the shared build cache", "project": "shared"} for i in range(50)]
    assert _import(b, entries) == {"imported": 200, "deduplicated": 0, "failed": []}
    rows = b.server.sql(
        "SELECT id, scope_key, project_id, embedding_model, embedded_at IS NOT NULL, graph_pending_at IS NULL,"
        " vector_dims(embedding), source, source_type, captured_from FROM memory_entries"
    )
    assert len(rows) == 200 and len({r[0] for r in rows}) == 200
    assert all(ULID.match(r[0]) for r in rows)
    assert {r[3:] for r in rows} == {("openai-compatible:fake-hash", True, True, DIM, "import", "import", "import")}
    assert sum(1 for r in rows if r[2] == b.shared) == 50 and len({r[1] for r in rows}) == 2
    created = b.server.sql("SELECT count(DISTINCT entry_id) FROM memory_changes WHERE change = 'created'")
    assert created == [(200,)]
    # every new row got its nearest neighbours, and never across scopes or namespaces
    edges = b.server.sql(
        "SELECT count(*), count(DISTINCT r.from_id), count(*) FILTER (WHERE f.scope_key <> t.scope_key"
        " OR f.namespace <> t.namespace OR r.from_id = r.to_id) FROM memory_relations r"
        " JOIN memory_entries f ON f.id = r.from_id JOIN memory_entries t ON t.id = r.to_id"
        " WHERE r.relation = 'co_occurs'"
    )
    assert edges[0][1] >= 198 and edges[0][2] == 0
    with client(b.server, b.token) as api:
        found = api.post("/v1/search", json={"query": "green service port 8001", "k": 5}).json()["results"]
    assert any("port 8001" in r["content"] for r in found)


def test_duplicates_within_a_batch_and_across_batches_are_merged(b: Bulk) -> None:
    first = [
        {"content": "Alpha: the staging database is Postgres 16"},
        {"content": "Beta: deploys happen on Tuesdays"},
        {"content": "Alpha: the staging database is Postgres 16", "namespace": "other"},
        {"content": "Gamma: the cache is Redis", "project": "shared"},
        {"content": "Gamma: the cache is Redis"},
    ]
    # the same content in the same scope is one entry (whatever the namespace); a project is another scope
    assert _import(b, first) == {"imported": 4, "deduplicated": 1, "failed": []}
    again = [{"content": "Beta: deploys happen on Tuesdays"}, {"content": "Delta: on-call rotates weekly"}]
    assert _import(b, again) == {"imported": 1, "deduplicated": 1, "failed": []}
    assert _import(b, first + again) == {"imported": 0, "deduplicated": 7, "failed": []}
    assert b.server.sql("SELECT count(*) FROM memory_entries") == [(5,)]
    assert b.server.sql("SELECT count(*) FROM memory_changes WHERE change = 'created'") == [(5,)]
    hits = b.server.sql(
        "SELECT a.hits FROM memory_access a JOIN memory_entries e ON e.id = a.entry_id"
        " WHERE starts_with(e.content, 'Beta')"
    )
    assert hits and hits[0][0] >= 2  # each merge counts a hit, as remember's does


def test_failures_are_reported_per_item_with_their_index(b: Bulk) -> None:
    entries: list[dict[str, object]] = [
        {"content": "Epsilon: the VPN gateway is vpn.example.com"},
        {"content": "Zeta: this project does not exist", "project": "nope"},
        {"content": "z" * 5000},
        {"content": "Epsilon: the VPN gateway is vpn.example.com"},
        {"content": "Eta: backups run nightly", "project": "shared"},
    ]
    body = _import(b, entries)
    # a text over the length cap is imported as pieces under it (issue 13), not refused
    assert body["imported"] == 3 and body["deduplicated"] == 1
    failed = body["failed"]
    assert isinstance(failed, list) and [f["index"] for f in failed] == [1]
    assert failed[0]["error"] == "no such project 'nope' — call project_list to see ids"
    assert b.server.sql("SELECT count(*) FROM memory_entries WHERE starts_with(content, 'zzz')") == [(2,)]
    all_failed = _import(b, [entries[1]], status=400)
    assert all_failed["failed"] == [{**f, "index": i} for i, f in enumerate(failed)]


def test_an_expired_twin_is_replaced_not_merged(b: Bulk) -> None:
    item = {"content": "Theta: the old office wifi password rotates monthly"}
    assert _import(b, [item])["imported"] == 1
    (old,) = b.server.sql("SELECT id FROM memory_entries")[0]
    b.server.sql("UPDATE memory_entries SET expires_at = now() - interval '1 hour'")
    assert _import(b, [item, item]) == {"imported": 1, "deduplicated": 1, "failed": []}
    rows = b.server.sql("SELECT id, expires_at FROM memory_entries")
    assert len(rows) == 1 and rows[0][0] != old and rows[0][1] is None
    assert b.server.sql("SELECT change FROM memory_changes WHERE entry_id = %s", (old,)) == [
        ("created",),
        ("expired",),
    ]


def test_the_entry_quota_fails_the_items_past_it(b: Bulk) -> None:
    with client(b.server, b.admin_token) as admin:
        quota = f"/v1/admin/users/{b.alice}/quota"
        assert admin.put(quota, json={"maxEntries": 2, "writesPerMinute": None}).status_code == 200
        try:
            body = _import(b, [{"content": f"Iota {i}: a fact within the quota or not"} for i in range(3)])
        finally:
            assert admin.put(quota, json={"maxEntries": None, "writesPerMinute": None}).status_code == 200
    assert body["imported"] == 2
    assert body["failed"] == [{"index": 2, "error": ENTRY_QUOTA_EXCEEDED.format(limit=2)}]
    assert b.server.sql("SELECT count(*) FROM memory_entries") == [(2,)]


def test_with_the_embedder_down_rows_are_stored_with_vectors_owed(b: Bulk, fake_embedder: FakeEmbeddingServer) -> None:
    fake_embedder.down = True
    body = _import(b, [{"content": f"Kappa {i}: stored while the embedder is down"} for i in range(3)])
    assert body == {"imported": 3, "deduplicated": 0, "failed": []}
    rows = b.server.sql(
        "SELECT embedding IS NULL, embedded_at IS NULL, graph_pending_at IS NOT NULL FROM memory_entries"
    )
    assert rows == [(True, True, True)] * 3
    assert b.server.sql("SELECT count(*) FROM memory_relations") == [(0,)]
