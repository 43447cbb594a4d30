"""Self-service data over real HTTP: the change feed, export paging, import, usage, today, onboarding."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer, start_server
from tests.http.identities import USER_MODE, add_project, add_user, client, mint


@dataclass
class World:
    server: RunningServer
    alice: str
    bob: str
    carol: str
    admin: str
    shared: str  # alice owns it, bob is a member, carol is not
    alice_token: str
    bob_token: str
    carol_token: str
    admin_token: str


@pytest.fixture(scope="module")
def world(make_database: Callable[[], str]) -> Iterator[World]:
    server = start_server(make_database(), **USER_MODE)
    alice, bob, carol = add_user(server, "alice"), add_user(server, "bob"), add_user(server, "carol")
    admin = add_user(server, "root", role="admin")
    shared = add_project(server, "shared", alice, bob)
    yield World(
        server,
        alice,
        bob,
        carol,
        admin,
        shared,
        mint(server, alice),
        mint(server, bob),
        mint(server, carol),
        mint(server, admin),
    )
    server.stop()


@pytest.fixture
def w(world: World) -> World:
    world.server.sql("TRUNCATE memory_entries, memory_changes CASCADE")
    return world


def remember(api: httpx.Client, content: str, **fields: Any) -> str:
    r = api.post("/v1/remember", json={"content": content, **fields})
    assert r.status_code == 201, r.text
    assert r.json()["id"] is not None, r.text
    return str(r.json()["id"])


def feed(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    r = api.get("/v1/me/changes", params=params)
    assert r.status_code == 200, r.text
    return list(r.json()["changes"])


# ---- change feed ----------------------------------------------------------------------------------


def test_feed_records_created_updated_and_deleted_which_outlives_the_entry(w: World) -> None:
    with client(w.server, w.alice_token) as api:
        entry = remember(api, "The build server compiles with clang 18 by default", source="notes")
        assert api.put(f"/v1/memories/{entry}", json={"content": "The build server compiles with clang 19"}).is_success
        assert api.put(f"/v1/memories/{entry}", json={"namespace": "infra"}).is_success
        assert api.post("/v1/forget", json={"id": entry}).json()["deleted"] is True
        changes = feed(api)
    assert [(c["entryId"], c["change"], c["detail"]) for c in changes] == [
        (entry, "created", {"source": "notes"}),
        (entry, "updated", {"contentChanged": True}),
        (entry, "updated", {"contentChanged": False}),
        (entry, "deleted", {}),
    ]
    assert all(c["projectId"] is None and c["at"].endswith("Z") for c in changes)
    seqs = [c["seq"] for c in changes]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    assert w.server.sql("SELECT count(*) FROM memory_entries WHERE id = %s", (entry,)) == [(0,)]
    assert w.server.sql("SELECT user_id, tenant_id FROM memory_changes WHERE change = 'deleted'") == [
        (w.alice, "default")
    ]


def test_forget_by_source_ref_logs_each_deleted_entry(w: World) -> None:
    with client(w.server, w.alice_token) as api:
        first = remember(api, "Ticket 7 says the cache TTL is ten minutes", sourceRefs=["ticket:7"])
        second = remember(api, "Ticket 7 also says retries back off exponentially", sourceRefs=["ticket:7"])
        assert api.post("/v1/forget", json={"sourceRef": "ticket:7"}).json()["count"] == 2
        deleted = [c["entryId"] for c in feed(api) if c["change"] == "deleted"]
    assert sorted(deleted) == sorted([first, second])


def test_capture_logs_superseded_for_the_contradicted_entry(w: World) -> None:
    with client(w.server, w.alice_token) as api:
        old = api.post("/v1/capture", json={"content": "The staging database listens on port 5433"}).json()
        new = api.post("/v1/capture", json={"content": "The staging database listens on port 6543"}).json()
        assert new["superseded"] == [old["id"]]
        changes = [(c["entryId"], c["change"], c["detail"]) for c in feed(api)]
    assert changes == [
        (old["id"], "created", {"source": "memory_capture"}),
        (new["id"], "created", {"source": "memory_capture"}),
        (old["id"], "superseded", {"supersededBy": new["id"]}),
    ]


def test_expired_entries_are_logged_when_purged(w: World) -> None:
    with client(w.server, w.alice_token) as api:
        entry = remember(api, "The temporary maintenance window is tonight at nine")
    w.server.sql("UPDATE memory_entries SET expires_at = now() - interval '1 minute' WHERE id = %s", (entry,))
    with client(w.server, w.admin_token) as admin:
        r = admin.post("/v1/decay", json={})
        assert r.status_code == 200 and r.json() == {"demoted": 0, "promoted": 0, "expired": 1}
    with client(w.server, w.alice_token) as api:
        assert [(c["entryId"], c["change"]) for c in feed(api)][-1] == (entry, "expired")


def test_rewriting_an_expired_duplicate_logs_its_expiry(w: World) -> None:
    content = "The office wifi password rotates every quarter"
    with client(w.server, w.alice_token) as api:
        old = remember(api, content)
        w.server.sql("UPDATE memory_entries SET expires_at = now() - interval '1 minute' WHERE id = %s", (old,))
        new = remember(api, content)
        assert new != old
        assert [(c["entryId"], c["change"]) for c in feed(api)] == [
            (old, "created"),
            (old, "expired"),
            (new, "created"),
        ]


def test_the_leader_prunes_changes_older_than_30_days(make_database: Callable[[], str]) -> None:
    url = make_database()
    first = start_server(url, **USER_MODE, embeddings_provider="none")
    first.stop()
    for days in (31, 29):
        first.sql(
            "INSERT INTO memory_changes (tenant_id, user_id, entry_id, change, at)"
            " VALUES ('default', 'u1', %s, 'created', now() - make_interval(days => %s))",
            (f"entry-{days}", days),
        )
    jobs = start_server(url, **{**USER_MODE, "jobs_enabled": True}, embeddings_provider="none")
    try:
        deadline = time.monotonic() + 30
        while first.sql("SELECT count(*) FROM memory_changes WHERE entry_id = 'entry-31'") != [(0,)]:
            assert time.monotonic() < deadline, "the change feed was not pruned"
            time.sleep(0.2)
        assert first.sql("SELECT entry_id FROM memory_changes") == [("entry-29",)]
    finally:
        jobs.stop()


def test_feed_is_isolated_between_users_and_follows_project_membership(w: World) -> None:
    with client(w.server, w.alice_token) as alice:
        private = remember(alice, "Alice keeps her private notes in a paper journal")
        in_project = remember(alice, "The shared project deploys every Tuesday morning", project="shared")
        assert alice.post("/v1/forget", json={"id": private}).json()["deleted"] is True
    with client(w.server, w.bob_token) as bob:
        seen = {(c["entryId"], c["change"]) for c in feed(bob)}
        assert seen == {(in_project, "created")}
        assert feed(bob)[0]["projectId"] == w.shared
    with client(w.server, w.carol_token) as carol:
        assert feed(carol) == []
    # removing bob from the project takes the project's history away from him at once
    w.server.sql("DELETE FROM project_members WHERE project_id = %s AND user_id = %s", (w.shared, w.bob))
    try:
        with client(w.server, w.bob_token) as bob:
            assert feed(bob) == []
    finally:
        w.server.sql(
            "INSERT INTO project_members (project_id, user_id, tenant_id) VALUES (%s, %s, 'default')", (w.shared, w.bob)
        )


def test_feed_paging_and_filters(w: World) -> None:
    with client(w.server, w.alice_token) as api:
        ids = [remember(api, f"Paging fact number {i} about the feed cursor") for i in range(5)]
        first = api.get("/v1/me/changes", params={"limit": 2}).json()
        assert [c["entryId"] for c in first["changes"]] == ids[:2]
        rest = api.get("/v1/me/changes", params={"afterSeq": first["nextSeq"], "limit": 500}).json()
        assert [c["entryId"] for c in rest["changes"]] == ids[2:]
        empty = api.get("/v1/me/changes", params={"afterSeq": rest["nextSeq"]}).json()
        assert empty == {"changes": [], "nextSeq": rest["nextSeq"]}
        assert feed(api, since="2999-01-01T00:00:00Z") == []
        for bad in ({"limit": 0}, {"limit": 501}, {"afterSeq": "x"}, {"since": "yesterday"}):
            r = api.get("/v1/me/changes", params=bad)
            assert r.status_code == 400 and r.json()["error"] == "invalid request body", bad


# ---- export ---------------------------------------------------------------------------------------


def test_export_pages_by_keyset_completely_and_without_duplicates(w: World) -> None:
    with client(w.server, w.alice_token) as alice:
        mine = [remember(alice, f"Exported fact {i} is durable enough to keep") for i in range(7)]
        project = remember(alice, "Project fact for export travels with the project", project="shared")
    with client(w.server, w.carol_token) as carol:
        remember(carol, "Carol's fact is never exported to anyone else")
    with client(w.server, w.alice_token) as alice:
        seen: list[dict[str, Any]] = []
        after: str | None = None
        pages = 0
        while True:
            params: dict[str, Any] = {"limit": 3, **({"afterId": after} if after else {})}
            body = alice.get("/v1/me/export", params=params).json()
            seen.extend(body["entries"])
            pages += 1
            if not body["entries"]:
                assert body["nextAfterId"] is None
                break
            assert body["nextAfterId"] == body["entries"][-1]["id"]  # on every non-empty page
            after = body["nextAfterId"]
        assert pages == 4
    ids = [e["id"] for e in seen]
    assert ids == sorted(ids) and len(set(ids)) == len(ids) == 8
    assert set(ids) == {*mine, project}
    sample = next(e for e in seen if e["id"] == project)
    assert set(sample) == {
        "id",
        "projectId",
        "content",
        "namespace",
        "source",
        "agentName",
        "metadata",
        "sourceType",
        "capturedFrom",
        "confidence",
        "createdAt",
        "updatedAt",
        "occurredAt",
    }
    assert sample["projectId"] == w.shared and sample["source"] == "manual"
    with client(w.server, w.bob_token) as bob:
        assert [e["id"] for e in bob.get("/v1/me/export").json()["entries"]] == [project]


def test_export_of_a_confined_token_is_its_project_only(w: World) -> None:
    with client(w.server, w.alice_token) as alice:
        remember(alice, "A global fact stays out of the confined export")
        project = remember(alice, "Only this project fact is in the confined export", project="shared")
    token = mint(w.server, w.alice, project=w.shared)
    with client(w.server, token) as confined:
        body = confined.get("/v1/me/export").json()
    assert [e["id"] for e in body["entries"]] == [project] and body["nextAfterId"] == project


def test_export_rejects_bad_paging(w: World) -> None:
    with client(w.server, w.alice_token) as api:
        for bad in ({"limit": 0}, {"limit": 1001}, {"afterId": "not an id!"}):
            r = api.get("/v1/me/export", params=bad)
            assert r.status_code == 400, bad


# ---- import ---------------------------------------------------------------------------------------


def test_import_is_idempotent_and_applies_defaults(w: World) -> None:
    items = [
        {"content": "Imported: the VPN gateway lives at vpn.example.com"},
        {"content": "ok", "namespace": "short", "source": "legacy", "confidence": 0.5},
        {"content": "Imported into the project", "project": "shared", "metadata": {"k": "v"}},
    ]
    with client(w.server, w.alice_token) as api:
        first = api.post("/v1/me/import", json={"entries": items})
        assert first.status_code == 201, first.text
        assert first.json() == {"imported": 3, "deduplicated": 0, "failed": []}
        again = api.post("/v1/me/import", json={"entries": items})
        assert again.status_code == 201 and again.json() == {"imported": 0, "deduplicated": 3, "failed": []}
    rows = w.server.sql(
        "SELECT content, source, source_type, captured_from, project_id FROM memory_entries ORDER BY content"
    )
    assert rows == [
        ("Imported into the project", "import", "import", "import", w.shared),
        ("Imported: the VPN gateway lives at vpn.example.com", "import", "import", "import", None),
        ("ok", "legacy", "import", "import", None),
    ]
    audit = w.server.sql(
        "SELECT actor_user_id, target, metadata FROM admin_audit_log WHERE action = 'user.import' ORDER BY id"
    )
    assert audit[-2:] == [
        (w.alice, w.alice, {"imported": 3, "deduplicated": 0, "failed": 0}),
        (w.alice, w.alice, {"imported": 0, "deduplicated": 3, "failed": 0}),
    ]


def test_import_reports_failures_per_item_and_400_when_all_fail(w: World) -> None:
    with client(w.server, w.carol_token) as api:
        mixed = api.post(
            "/v1/me/import",
            json={"entries": [{"content": "Carol imports one good fact"}, {"content": "x", "project": "shared"}]},
        )
        assert mixed.status_code == 201
        body = mixed.json()
        assert body["imported"] == 1 and body["failed"][0]["index"] == 1
        assert body["failed"][0]["error"] == "no such project 'shared' — call project_list to see ids"
        bad = api.post(
            "/v1/me/import",
            # a text over the length cap is no failure here: import splits it (issue 13)
            json={"entries": [{"content": "y", "project": "nope"}, {"content": "z" * 5000, "project": "nope"}]},
        )
        assert bad.status_code == 400
        assert bad.json()["imported"] == 0 and bad.json()["deduplicated"] == 0
        assert [f["index"] for f in bad.json()["failed"]] == [0, 1]
        assert bad.json()["failed"][1]["error"] == "no such project 'nope' — call project_list to see ids"
        for body_ in ({"entries": []}, {"entries": [{"content": "a"}] * 201}, {"entries": [{}]}, {}):
            r = api.post("/v1/me/import", json=body_)
            assert r.status_code == 400 and r.json()["error"] == "invalid request body"
    ro = mint(w.server, w.alice, scope="read_only")
    with client(w.server, ro) as api:
        r = api.post("/v1/me/import", json={"entries": [{"content": "read-only cannot import"}]})
        assert r.status_code == 403 and r.json() == {"error": "read-only token"}


# ---- usage, today, onboarding ---------------------------------------------------------------------


def test_usage_counts_entries_and_shows_unlimited_quota(w: World) -> None:
    with client(w.server, w.bob_token) as api:
        assert api.get("/v1/me/usage").json() == {
            "entries": 0,
            "quota": {"maxEntries": None, "writesPerMinute": None},
        }
        remember(api, "Bob stores one fact about usage counting")
        remember(api, "Bob stores a project fact too", project="shared")
        assert api.get("/v1/me/usage").json()["entries"] == 2


def test_today_lists_recent_activity_newest_first(w: World) -> None:
    with client(w.server, w.alice_token) as api:
        remember(api, "Today's first remembered fact is about lunch")
        remember(api, "Today's second remembered fact is in the project", project="shared")
        events = api.get("/v1/me/today").json()["events"]
    kinds = [e["kind"] for e in events]
    assert {"remember", "token", "project"} <= set(kinds)
    assert events[0]["text"] == "remembered: Today's second remembered fact is in the project"
    assert events[0]["project"] == "shared"
    assert any(e["kind"] == "project" and e["text"] == "created project shared" for e in events)
    ats = [e["at"] for e in events]
    assert ats == sorted(ats, reverse=True) and len(events) <= 50
    with client(w.server, w.carol_token) as carol:
        assert all(e["kind"] != "remember" for e in carol.get("/v1/me/today").json()["events"])


def test_onboarding_reflects_first_run_steps(w: World) -> None:
    with client(w.server, w.carol_token) as api:
        before = api.get("/v1/me/onboarding").json()
        assert before == {
            "bootstrapDone": True,
            "userExists": True,
            "mintedToken": True,
            "remembered": False,
            "userId": w.carol,
        }
        remember(api, "Carol finally remembers something durable")
        assert api.get("/v1/me/onboarding").json()["remembered"] is True


@pytest.mark.parametrize(
    "path", ["/v1/me/export", "/v1/me/usage", "/v1/me/changes", "/v1/me/today", "/v1/me/onboarding"]
)
def test_self_service_needs_a_user(w: World, path: str) -> None:
    with w.server.client() as anonymous:
        r = anonymous.get(path)
        assert r.status_code == 401 and r.json() == {"error": "unauthorized"}
    with client(w.server, "nm_" + "A" * 43) as wrong:
        assert wrong.get(path).status_code == 401


def test_self_service_routes_do_not_exist_without_accounts(server: RunningServer) -> None:
    with server.client() as api:
        r = api.get("/v1/me/usage")
        assert r.status_code == 404 and r.json()["error"] == "Not Found"
        assert api.post("/v1/me/import", json={"entries": [{"content": "x"}]}).status_code == 404
