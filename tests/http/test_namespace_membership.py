"""An exact duplicate stored under another namespace is found there too; long texts split on request.

Over real HTTP: one auth-none server for the reads and writes, one user-mode server for isolation.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer, start_server
from tests.http.identities import USER_MODE, add_project, add_user, client, mint

FACT = "Caroline adopted a rescue greyhound called Biscuit in March"


def remember(api: httpx.Client, content: str, path: str = "/v1/remember", **fields: object) -> dict[str, object]:
    r = api.post(path, json={"content": content, **fields})
    assert r.status_code == 201, r.text
    body: dict[str, object] = r.json()
    return body


def search_ids(api: httpx.Client, query: str, **fields: object) -> list[str]:
    r = api.post("/v1/search", json={"query": query, **fields})
    assert r.status_code == 200, r.text
    return [item["id"] for item in r.json()["results"]]


def recent_ids(api: httpx.Client, **fields: object) -> list[str]:
    r = api.post("/v1/recent", json=fields)
    assert r.status_code == 200, r.text
    return [item["id"] for item in r.json()["results"]]


def found_everywhere(api: httpx.Client, entry_id: str, namespace: str) -> bool:
    keyword = search_ids(api, "greyhound Biscuit", namespace=namespace, weights={"keyword": 1, "vector": 0})
    vector = search_ids(api, "which dog did Caroline adopt", namespace=namespace, weights={"keyword": 0, "vector": 1})
    hybrid = search_ids(api, "Caroline greyhound", includeNamespaces=[namespace])
    return all(entry_id in ids for ids in (keyword, vector, hybrid, recent_ids(api, namespace=namespace)))


def test_duplicate_in_another_namespace_is_found_in_both(api: httpx.Client, server: RunningServer) -> None:
    first = remember(api, FACT, namespace="conv-a")
    again = remember(api, FACT, namespace="conv-b")
    assert again == {"id": first["id"], "deduplicated": True, "embedded": True}  # the wire answer is unchanged
    entry = str(first["id"])
    assert found_everywhere(api, entry, "conv-a") and found_everywhere(api, entry, "conv-b")
    assert search_ids(api, "Caroline greyhound", namespace="conv-c") == []
    assert recent_ids(api, namespace="conv-c") == []
    assert server.sql("SELECT namespace, namespaces FROM memory_entries") == [("conv-a", ["conv-a", "conv-b"])]
    stats = api.get("/v1/stats").json()
    assert stats["byNamespace"]["conv-a"]["warm"] == 1 and stats["byNamespace"]["conv-b"]["warm"] == 1
    assert stats["totalWarm"] == 1  # one memory in two namespaces
    # a capture of the same text (the duplicate fast path runs before the near-duplicate guard) joins too
    assert remember(api, FACT, "/v1/capture", namespace="conv-c")["id"] == entry
    assert found_everywhere(api, entry, "conv-c")


def _as_stored_before_memberships(server: RunningServer) -> None:
    """Make every row look as rows stored before migration 0012 do: an empty `namespaces` (not backfilled)."""
    server.sql(
        "ALTER TABLE memory_entries DISABLE TRIGGER memory_entries_namespace_members;"
        " UPDATE memory_entries SET namespaces = '{}';"
        " ALTER TABLE memory_entries ENABLE TRIGGER memory_entries_namespace_members"
    )


def test_rows_stored_before_memberships_are_members_of_their_home_namespace(
    api: httpx.Client, server: RunningServer
) -> None:
    entry = str(remember(api, FACT, namespace="conv-a", sourceRefs=["chat:a"])["id"])
    _as_stored_before_memberships(server)
    assert server.sql("SELECT namespace, namespaces FROM memory_entries") == [("conv-a", [])]
    assert found_everywhere(api, entry, "conv-a")
    assert search_ids(api, "Caroline greyhound", namespace="conv-b") == []
    assert api.get("/v1/stats").json()["byNamespace"]["conv-a"]["warm"] == 1
    # stored again elsewhere: it joins, keeping its home
    assert remember(api, FACT, namespace="conv-b")["id"] == entry
    assert server.sql("SELECT namespace, namespaces FROM memory_entries") == [("conv-a", ["conv-a", "conv-b"])]
    assert found_everywhere(api, entry, "conv-a") and found_everywhere(api, entry, "conv-b")
    # leaving its only namespace deletes it, by id with a namespace and by source alike
    _as_stored_before_memberships(server)
    assert api.post("/v1/forget", json={"sourceRef": "chat:a"}).json()["ids"] == [entry]
    assert server.sql("SELECT count(*) FROM memory_entries") == [(0,)]
    other = str(remember(api, FACT, namespace="conv-c")["id"])
    _as_stored_before_memberships(server)
    assert api.post("/v1/forget", json={"id": other, "namespace": "conv-d"}).json()["deleted"] is False
    assert api.post("/v1/forget", json={"id": other, "namespace": "conv-c"}).json()["deleted"] is True
    assert server.sql("SELECT count(*) FROM memory_entries") == [(0,)]


def test_forget_by_source_removes_only_that_membership(api: httpx.Client, server: RunningServer) -> None:
    entry = str(remember(api, FACT, namespace="conv-a", sourceRefs=["chat:a"])["id"])
    remember(api, FACT, namespace="conv-b", sourceRefs=["chat:b"])
    forgot = api.post("/v1/forget", json={"sourceRef": "chat:b"}).json()
    assert forgot["ids"] == [entry] and forgot["count"] == 1
    assert search_ids(api, "Caroline greyhound", namespace="conv-b") == []
    assert found_everywhere(api, entry, "conv-a")
    # the last membership gone: the entry is deleted, as forget by source always did
    assert api.post("/v1/forget", json={"sourceRef": "chat:a"}).json()["ids"] == [entry]
    assert server.sql("SELECT count(*) FROM memory_entries") == [(0,)]


def test_forget_by_source_moves_the_home_namespace(api: httpx.Client, server: RunningServer) -> None:
    entry = str(remember(api, FACT, namespace="conv-a", sourceRefs=["chat:a"])["id"])
    remember(api, FACT, namespace="conv-b")
    assert api.post("/v1/forget", json={"sourceRef": "chat:a"}).json()["count"] == 1
    assert server.sql("SELECT namespace, namespaces FROM memory_entries") == [("conv-b", ["conv-b"])]
    assert search_ids(api, "Caroline greyhound", namespace="conv-a") == []
    results = api.post("/v1/search", json={"query": "Caroline greyhound", "namespace": "conv-b"}).json()["results"]
    assert [(r["id"], r["namespace"]) for r in results] == [(entry, "conv-b")]


def test_capture_updating_a_joined_entry_keeps_its_other_namespaces(api: httpx.Client, server: RunningServer) -> None:
    first = remember(api, "Alice prefers dark mode in her code editor", "/v1/capture", namespace="conv-a")
    remember(api, "Alice prefers dark mode in her code editor", "/v1/capture", namespace="conv-b")
    longer = "Alice prefers dark mode in her code editor and in her terminal"
    second = remember(api, longer, "/v1/capture", namespace="conv-b")
    assert second == {"id": first["id"], "deduplicated": True, "updated": True, "embedded": True}
    assert server.sql("SELECT content, namespace, namespaces FROM memory_entries") == [
        (longer, "conv-a", ["conv-a", "conv-b"])
    ]


def test_update_moves_the_home_namespace_only(api: httpx.Client, server: RunningServer) -> None:
    entry = str(remember(api, FACT, namespace="conv-a")["id"])
    remember(api, FACT, namespace="conv-b")
    assert api.put(f"/v1/memories/{entry}", json={"namespace": "conv-c"}).status_code == 200
    assert server.sql("SELECT namespace, namespaces FROM memory_entries") == [("conv-c", ["conv-b", "conv-c"])]
    assert search_ids(api, "Caroline greyhound", namespace="conv-a") == []
    assert found_everywhere(api, entry, "conv-b") and found_everywhere(api, entry, "conv-c")


def test_forget_by_id_removes_the_entry_from_every_namespace(api: httpx.Client) -> None:
    entry = str(remember(api, FACT, namespace="conv-a")["id"])
    remember(api, FACT, namespace="conv-b")
    assert api.post("/v1/forget", json={"id": entry}).json()["deleted"] is True
    assert search_ids(api, "Caroline greyhound") == []


def test_forget_by_id_with_a_namespace_leaves_only_that_namespace(api: httpx.Client, server: RunningServer) -> None:
    entry = str(remember(api, FACT, namespace="conv-a")["id"])
    remember(api, FACT, namespace="conv-b", sourceRefs=["chat:b"])
    assert api.post("/v1/forget", json={"id": entry, "namespace": "conv-c"}).json()["deleted"] is False
    assert api.post("/v1/forget", json={"id": entry, "namespace": "conv-b"}).json()["deleted"] is True
    assert search_ids(api, "Caroline greyhound", namespace="conv-b") == []
    assert found_everywhere(api, entry, "conv-a")
    assert server.sql("SELECT count(*) FROM memory_source_refs") == [(0,)]  # the ref given in conv-b went too
    assert api.post("/v1/forget", json={"id": entry, "namespace": "conv-a"}).json()["deleted"] is True
    assert server.sql("SELECT count(*) FROM memory_entries") == [(0,)]


def test_forget_by_source_with_a_namespace(api: httpx.Client) -> None:
    entry = str(remember(api, FACT, namespace="conv-a", sourceRefs=["chat:1"])["id"])
    remember(api, FACT, namespace="conv-b", sourceRefs=["chat:1"])
    forgot = api.post("/v1/forget", json={"sourceRef": "chat:1", "namespace": "conv-a"}).json()
    assert forgot["ids"] == [entry]
    assert search_ids(api, "Caroline greyhound", namespace="conv-a") == []
    assert found_everywhere(api, entry, "conv-b")
    bad = api.post("/v1/forget", json={"id": entry, "namespace": ""})
    assert bad.status_code == 400 and bad.json()["issues"][0]["path"] == "namespace"


def test_concurrent_duplicates_into_two_namespaces_keep_both(api: httpx.Client, server: RunningServer) -> None:
    for round_ in range(3):
        server.sql("TRUNCATE memory_entries CASCADE")
        namespaces = [f"race-{round_}-{i}" for i in range(4)]
        answers: list[dict[str, object]] = []
        barrier = threading.Barrier(len(namespaces))

        def write(namespace: str, barrier: threading.Barrier, answers: list[dict[str, object]]) -> None:
            with server.client() as own:
                barrier.wait()
                answers.append(remember(own, FACT, namespace=namespace))

        threads = [threading.Thread(target=write, args=(ns, barrier, answers)) for ns in namespaces]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len({a["id"] for a in answers}) == 1 and sum(1 for a in answers if a.get("deduplicated")) == 3
        ((members,),) = server.sql("SELECT namespaces FROM memory_entries")
        assert sorted(members) == namespaces


# -- isolation -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def user_server(make_database: Callable[[], str]) -> Iterator[RunningServer]:
    running = start_server(make_database(), **USER_MODE)
    yield running
    running.stop()


def test_memberships_never_cross_users_or_projects(user_server: RunningServer) -> None:
    alice, bob = add_user(user_server, "alice"), add_user(user_server, "bob")
    project = add_project(user_server, "shared", alice, bob)
    with client(user_server, mint(user_server, alice)) as a, client(user_server, mint(user_server, bob)) as b:
        own = str(remember(a, FACT, namespace="conv-a")["id"])
        in_project = remember(a, FACT, namespace="conv-b", project=project)
        assert in_project["id"] != own and not in_project.get("deduplicated")  # one entry per scope
        bobs = remember(b, FACT, namespace="conv-b")
        assert bobs["id"] not in (own, in_project["id"]) and not bobs.get("deduplicated")
        assert search_ids(b, "Caroline greyhound", namespace="conv-a") == []
        assert search_ids(b, "Caroline greyhound", namespace="conv-b") == [bobs["id"]]
        assert search_ids(a, "Caroline greyhound", namespace="conv-b") == []  # alice's own shelf: not joined
        assert search_ids(a, "Caroline greyhound", namespace="conv-b", project=project) == [in_project["id"]]
        assert search_ids(b, "Caroline greyhound", namespace="conv-b", project=project) == [in_project["id"]]
        assert search_ids(b, "Caroline greyhound", namespace="conv-a", project=project) == []


def test_bulk_import_duplicates_join_their_namespaces(user_server: RunningServer) -> None:
    with client(user_server, mint(user_server, add_user(user_server, "carol"))) as api:
        entry = str(remember(api, FACT, namespace="conv-a")["id"])
        body = {"entries": [{"content": FACT, "namespace": "conv-b"}, {"content": FACT, "namespace": "conv-c"}]}
        r = api.post("/v1/me/import", json=body)
        assert r.status_code == 201 and r.json()["deduplicated"] == 2, r.text
        assert all(found_everywhere(api, entry, ns) for ns in ("conv-a", "conv-b", "conv-c"))
        exported = api.get("/v1/me/export").json()["entries"]
        assert [e["id"] for e in exported] == [entry]  # one entry, exported once


# -- long texts ------------------------------------------------------------------------------------

SENTENCES = [f"Sentence number {i} says the deploy window {i} opens at {i % 24:02d}:00 UTC." for i in range(120)]
LONG = " ".join(SENTENCES)  # over the 4000-character default cap


def test_long_text_is_still_rejected_without_the_flag(api: httpx.Client, server: RunningServer) -> None:
    body = remember(api, LONG)
    assert body["id"] is None and str(body["rejected"]).startswith(f"too long ({len(LONG)} chars, max 4000)")
    assert server.sql("SELECT count(*) FROM memory_entries") == [(0,)]


@pytest.mark.parametrize("path", ["/v1/remember", "/v1/capture"])
def test_split_stores_sentence_aware_pieces_under_one_source(
    api: httpx.Client, server: RunningServer, path: str
) -> None:
    body = remember(api, LONG, path, split=True, namespace="runbook", sourceRefs=["doc:deploys"])
    pieces = body["pieces"]
    assert isinstance(pieces, list) and len(pieces) >= 2 and body["id"] == pieces[0]
    ref = body["sourceRef"]
    assert isinstance(ref, str) and ref.startswith("split:") and body["embedded"] is True
    rows = server.sql("SELECT id, content, metadata FROM memory_entries ORDER BY id")
    assert sorted(pieces) == [r[0] for r in rows]
    contents = {r[0]: r[1] for r in rows}
    texts = [contents[p] for p in pieces]
    assert all(len(t) <= 4000 for t in texts)
    assert " ".join(texts) == LONG  # nothing lost, in order
    for text in texts:  # cut between sentences only
        assert text.startswith("Sentence number") and text.endswith("UTC.")
    assert [r[2]["split"] for r in sorted(rows, key=lambda r: pieces.index(r[0]))] == [
        {"sourceRef": ref, "part": n, "of": len(pieces)} for n in range(1, len(pieces) + 1)
    ]
    # a search result names its siblings through the shared source ref
    hit = api.post("/v1/search", json={"query": "deploy window 77", "namespace": "runbook"}).json()["results"][0]
    assert hit["metadata"]["split"]["sourceRef"] == ref
    # forget by the client's ref, or by the generated one, removes every piece
    forgot = api.post("/v1/forget", json={"sourceRef": "doc:deploys"}).json()
    assert sorted(forgot["ids"]) == sorted(pieces)
    assert server.sql("SELECT count(*) FROM memory_entries") == [(0,)]


def test_split_forget_by_generated_ref(api: httpx.Client, server: RunningServer) -> None:
    body = remember(api, LONG, split=True)
    assert api.post("/v1/forget", json={"sourceRef": body["sourceRef"]}).json()["count"] == len(body["pieces"])  # type: ignore[arg-type]
    assert server.sql("SELECT count(*) FROM memory_entries") == [(0,)]


def test_split_of_a_short_text_answers_as_before(api: httpx.Client) -> None:
    assert set(remember(api, FACT, split=True)) == {"id", "embedded"}


def test_split_cuts_words_only_when_one_is_over_the_cap(api: httpx.Client, server: RunningServer) -> None:
    words = "alpha " * 500 + "z" * 4500
    body = remember(api, words, split=True)
    texts = [r[0] for r in server.sql("SELECT content FROM memory_entries ORDER BY id")]
    assert len(texts) == len(body["pieces"]) and all(len(t) <= 4000 for t in texts)  # type: ignore[arg-type]
    assert all(set(t.split()) <= {"alpha"} or set(t) == {"z"} for t in texts)


@pytest.mark.parametrize("value", ["yes", 1, None, {"on": True}])
def test_split_flag_must_be_a_boolean(api: httpx.Client, value: object) -> None:
    r = api.post("/v1/remember", json={"content": LONG, "split": value})
    assert r.status_code == 400
    body = r.json()
    assert body["error"] == "invalid request body" and body["issues"][0]["path"] == "split"


def test_bulk_import_always_splits_long_texts(user_server: RunningServer) -> None:
    with client(user_server, mint(user_server, add_user(user_server, "dave"))) as api:
        r = api.post("/v1/me/import", json={"entries": [{"content": LONG}, {"content": FACT}]})
        assert r.status_code == 201 and r.json() == {"imported": 2, "deduplicated": 0, "failed": []}, r.text
        (ref,) = {str(hit["metadata"]["split"]["sourceRef"]) for hit in _search(api, "deploy window")}
        assert api.post("/v1/forget", json={"sourceRef": ref}).json()["count"] >= 2
        assert [hit["content"] for hit in _search(api, "deploy window Caroline greyhound")] == [FACT]


def _search(api: httpx.Client, query: str) -> list[dict[str, Any]]:
    r = api.post("/v1/search", json={"query": query, "k": 50})
    assert r.status_code == 200, r.text
    return list(r.json()["results"])
