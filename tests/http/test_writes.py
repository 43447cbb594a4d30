"""remember, capture, session recap, update and forget over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.conftest import RunningServer

FACT = "The staging database runs on port 5433 with PostgreSQL 16"


def remember(api: httpx.Client, content: str, **fields: object) -> dict[str, object]:
    r = api.post("/v1/remember", json={"content": content, **fields})
    assert r.status_code == 201, r.text
    return r.json()


def search_ids(api: httpx.Client, query: str, **fields: object) -> list[str]:
    r = api.post("/v1/search", json={"query": query, **fields})
    assert r.status_code == 200, r.text
    return [item["id"] for item in r.json()["results"]]


def test_remember_stores_and_embeds(api: httpx.Client, server: RunningServer) -> None:
    body = remember(api, FACT)
    assert isinstance(body["id"], str) and len(body["id"]) == 26
    assert body["embedded"] is True
    rows = server.sql(
        "SELECT namespace, source, embedded_at IS NOT NULL FROM memory_entries WHERE id = %s", (body["id"],)
    )
    assert rows == [("default", "manual", True)]


def test_worthiness_gate_rejects_short_and_filler_unless_forced(api: httpx.Client) -> None:
    assert remember(api, "ok thanks") == {"id": None, "rejected": "too short — not durable knowledge"}
    filler = remember(api, "   Alright.   ")
    assert filler["rejected"] == "too short — not durable knowledge"
    assert remember(api, "Okay.")["id"] is None
    forced = remember(api, "ok thanks", force=True)
    assert forced["id"] is not None


def test_length_cap_applies_even_with_force(api: httpx.Client, server: RunningServer) -> None:
    long_text = "word " * 900  # 4500 characters, over the 4000 default
    body = remember(api, long_text, force=True)
    assert body["id"] is None
    assert body["rejected"].startswith("too long (4499 chars, max 4000)")
    assert server.sql("SELECT count(*) FROM memory_entries") == [(0,)]


def test_exact_duplicate_returns_existing_id_across_namespaces(api: httpx.Client, server: RunningServer) -> None:
    first = remember(api, FACT, namespace="ops")
    again = remember(api, "  " + FACT + "  ", namespace="other", sourceRefs=["ticket:42"])
    assert again == {"id": first["id"], "deduplicated": True, "embedded": True}
    assert server.sql("SELECT count(*) FROM memory_entries") == [(1,)]
    assert server.sql("SELECT hits FROM memory_access") == [(1,)]  # the duplicate counted as a hit
    forgot = api.post("/v1/forget", json={"sourceRef": "ticket:42"}).json()
    assert forgot["ids"] == [first["id"]] and forgot["count"] == 1


def test_sensitivity_is_stamped_and_filters_reads(api: httpx.Client) -> None:
    secret = remember(api, "The deploy API key for staging is kept in vault path ops/deploy")
    plain = remember(api, "The deploy pipeline for staging runs every night at two")
    public = remember(api, "The deploy dashboard for staging is public to the whole team", sensitivity="public")
    hits = search_ids(api, "deploy staging")
    assert secret["id"] not in hits and plain["id"] in hits and public["id"] in hits
    assert secret["id"] in search_ids(api, "deploy staging", maxSensitivity="sensitive")
    only_public = search_ids(api, "deploy staging", maxSensitivity="public")
    assert only_public == [public["id"]]
    recent = api.post("/v1/recent", json={"maxSensitivity": "sensitive"}).json()["results"]
    meta = {r["id"]: r["metadata"]["sensitivity"] for r in recent}
    assert meta == {secret["id"]: "sensitive", plain["id"]: "private", public["id"]: "public"}


def test_expires_at_needs_an_offset_and_hides_at_once(api: httpx.Client, server: RunningServer) -> None:
    r = api.post("/v1/remember", json={"content": FACT, "expiresAt": "2030-01-01T00:00:00"})
    assert r.status_code == 400 and r.json()["error"] == "invalid request body"
    assert r.json()["issues"][0]["path"] == "expiresAt"
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    body = remember(api, FACT, expiresAt=soon)
    assert body["id"] in search_ids(api, "staging database port")
    server.sql("UPDATE memory_entries SET expires_at = now() - interval '1 second'")
    assert search_ids(api, "staging database port") == []
    assert api.post("/v1/recent", json={}).json()["results"] == []
    # the same content again replaces the expired row instead of resurrecting it
    fresh = remember(api, FACT)
    assert fresh["id"] != body["id"] and "deduplicated" not in fresh
    assert search_ids(api, "staging database port") == [fresh["id"]]


def test_capture_updates_a_superset_in_place(api: httpx.Client, server: RunningServer) -> None:
    first = api.post("/v1/capture", json={"content": "Alice prefers dark mode in her code editor"}).json()
    assert first["id"] and first["embedded"] is True
    second = api.post(
        "/v1/capture", json={"content": "Alice prefers dark mode in her code editor and in her terminal"}
    ).json()
    assert second == {"id": first["id"], "deduplicated": True, "updated": True, "embedded": True}
    rows = server.sql("SELECT content, metadata->>'captureAction', metadata->>'memoryType' FROM memory_entries")
    assert rows == [("Alice prefers dark mode in her code editor and in her terminal", "updated", "user_preference")]


def test_capture_supersedes_a_contradiction_and_keeps_the_old_row(api: httpx.Client, server: RunningServer) -> None:
    old = api.post("/v1/capture", json={"content": "The staging database listens on port 5433"}).json()
    new = api.post("/v1/capture", json={"content": "The staging database listens on port 6543"}).json()
    assert new["superseded"] == [old["id"]] and new["id"] != old["id"]
    hits = search_ids(api, "staging database port")
    assert hits == [new["id"]]
    status = server.sql("SELECT status, metadata->>'supersededBy' FROM memory_entries WHERE id = %s", (old["id"],))
    assert status == [("superseded", new["id"])]


def test_capture_defaults_and_classification(api: httpx.Client, server: RunningServer) -> None:
    body = api.post("/v1/capture", json={"content": "We decided to use uv for dependency locking"}).json()
    rows = server.sql(
        "SELECT source, source_type, captured_from, metadata->>'memoryType', metadata->'retention'->>'policy'"
        " FROM memory_entries WHERE id = %s",
        (body["id"],),
    )
    assert rows == [("memory_capture", "chat", "memory_capture", "decision", "medium_long")]


def test_session_recap_routes_items_to_typed_namespaces(api: httpx.Client, server: RunningServer) -> None:
    r = api.post(
        "/v1/session-recap",
        json={
            "decisions": ["We chose PostgreSQL as the only source of truth"],
            "preferences": ["Bob likes concise answers without emoji"],
            "rootCauses": ["The flaky test was caused by a shared temp directory"],
        },
    )
    assert r.status_code == 201
    body = r.json()
    assert body["saved"] == 3 and len(body["results"]) == 3
    rows = dict(server.sql("SELECT namespace, metadata->>'memoryType' FROM memory_entries"))
    assert rows == {"decisions": "decision", "user": "user_preference", "root-causes": "bug_root_cause"}
    assert server.sql("SELECT DISTINCT source, source_type FROM memory_entries") == [
        ("memory_session_recap", "summary")
    ]


def test_session_recap_is_strict(api: httpx.Client) -> None:
    r = api.post("/v1/session-recap", json={"decisions": ["We chose PostgreSQL everywhere"], "bogus": 1})
    assert r.status_code == 400 and r.json()["issues"][0]["path"] == "bogus"
    r = api.post("/v1/session-recap", json={"decisions": ["too short"]})
    assert r.status_code == 400


def test_update_changes_content_and_reembeds(api: httpx.Client, server: RunningServer) -> None:
    body = remember(api, FACT, metadata={"team": "infra"})
    before = server.sql("SELECT embedding::text FROM memory_entries")[0][0]
    r = api.put(
        f"/v1/memories/{body['id']}",
        json={"content": "The staging database moved to port 6000", "metadata": {"owner": "ops"}},
    )
    assert r.json() == {"id": body["id"], "updated": True, "embeddingChanged": True}
    content, meta, after = server.sql("SELECT content, metadata, embedding::text FROM memory_entries")[0]
    assert content == "The staging database moved to port 6000"
    assert meta == {"owner": "ops", "sensitivity": "private"}  # metadata is replaced, not merged
    assert after != before
    same = api.put(f"/v1/memories/{body['id']}", json={"namespace": "infra"}).json()
    assert same["embeddingChanged"] is False
    assert server.sql("SELECT namespace FROM memory_entries") == [("infra",)]


def test_update_unknown_memory_is_404(api: httpx.Client) -> None:
    r = api.put("/v1/memories/01ARZ3NDEKTSV4RRFFQ69G5FAV", json={"content": "anything at all here"})
    assert r.status_code == 404 and r.json() == {"error": "no such memory in your scope"}


def test_forget_by_id_is_idempotent(api: httpx.Client, server: RunningServer) -> None:
    body = remember(api, FACT)
    assert api.post("/v1/forget", json={"id": body["id"]}).json() == {"deleted": True, "coldDeleteOk": True}
    assert api.post("/v1/forget", json={"id": body["id"]}).json() == {"deleted": False, "coldDeleteOk": True}
    assert server.sql("SELECT count(*) FROM memory_entries") == [(0,)]


def test_forget_by_source_ref_deletes_every_carrier(api: httpx.Client) -> None:
    a = remember(api, "Invoice 1182 was paid late by the customer", sourceRefs=["mail:77"])
    b = remember(api, "The customer asked for net-60 payment terms", sourceRefs=["mail:77"])
    c = remember(api, "The customer is based in Lisbon, Portugal", sourceRefs=["mail:78"])
    r = api.post("/v1/forget", json={"source_ref": "mail:77"}).json()
    assert r["count"] == 2 and set(r["ids"]) == {a["id"], b["id"]}
    assert api.post("/v1/forget", json={"sourceRef": "nothing"}).json()["count"] == 0
    assert search_ids(api, "customer") == [c["id"]]


def test_forget_needs_exactly_one_selector(api: httpx.Client) -> None:
    assert api.post("/v1/forget", json={}).status_code == 400
    assert api.post("/v1/forget", json={"id": "x", "sourceRef": "y"}).status_code == 400


def test_unknown_project_is_a_clear_404(api: httpx.Client) -> None:
    r = api.post("/v1/remember", json={"content": FACT, "project": "apollo"})
    assert r.status_code == 404
    assert r.json() == {"error": "no such project 'apollo' — call project_list to see ids"}
