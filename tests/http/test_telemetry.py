"""`GET /v1/admin/telemetry` (aggregates over the admin's tenant) and `GET /v1/context-prefix` (observer off).

Spoken over HTTP to a real tenant-mode server; accounts are arranged with SQL, memories are stored through
the API. Two tenants write: each admin's counts are their own tenant's and nothing else, and no content,
user id or e-mail address appears anywhere in the answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer, start_server
from tests.http.identities import USER_MODE, add_project, add_user, client, mint

TENANT_MODE = {**USER_MODE, "auth_mode": "tenant", "embeddings_provider": "none"}
ISO = "%Y-%m-%dT%H:%M:%S.%fZ"
# what one memory is: its content, the user who stores it, and the rest of the request body
Stored = tuple[str, str, dict[str, Any]]


@dataclass(frozen=True)
class Tenants:
    """What the module's writes stored, and who may read the telemetry."""

    server: RunningServer
    project: str
    admin1: str
    admin2: str
    alice: str
    readonly_admin1: str
    user_ids: tuple[str, ...]
    emails: tuple[str, ...]
    t1_contents: tuple[str, ...]
    t2_contents: tuple[str, ...]


def _remember(api: httpx.Client, content: str, **fields: Any) -> str:
    r = api.post("/v1/remember", json={"content": content, "force": True, **fields})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


@pytest.fixture(scope="module")
def tenants(make_database: Callable[[], str]) -> Iterator[Tenants]:
    server = start_server(make_database(), **TENANT_MODE)
    for tenant in ("t1", "t2"):
        server.sql("INSERT INTO tenants (id, name) VALUES (%s, %s)", (tenant, tenant))
    admin1 = add_user(server, "admin1", role="admin", tenant="t1")
    alice = add_user(server, "alice", tenant="t1")
    bob = add_user(server, "bob", tenant="t1")
    admin2 = add_user(server, "admin2", role="admin", tenant="t2")
    carol = add_user(server, "carol", tenant="t2")
    project = add_project(server, "t1-roadmap", alice, bob, tenant="t1")
    t2_project = add_project(server, "t2-marina", carol, tenant="t2")
    t1: tuple[Stored, ...] = (
        (
            "Alice prefers green tea with her standup notes",
            alice,
            {"namespace": "prefs", "agentName": "claude", "sensitivity": "public"},
        ),
        (
            "The roadmap ships the importer before the exporter",
            alice,
            {"namespace": "decisions", "agentName": "claude", "project": project, "sensitivity": "internal"},
        ),
        (
            "Bob rotated the staging database password on Monday",
            bob,
            {"namespace": "decisions", "agentName": "cursor", "project": project, "sensitivity": "sensitive"},
        ),
        ("Bob keeps his dotfiles in a private repository", bob, {}),
        ("Alice archived the old onboarding checklist last spring", alice, {"namespace": "archive"}),
    )
    t2: tuple[Stored, ...] = (
        (
            "Carol moored the boat at the north harbour pier",
            carol,
            {"namespace": "t2-only", "agentName": "t2-agent", "project": t2_project, "sensitivity": "public"},
        ),
        ("Carol sails every Saturday when the wind allows", carol, {"namespace": "t2-only", "agentName": "t2-agent"}),
    )
    tokens = {user: mint(server, user, tenant=tenant) for user, tenant in ((alice, "t1"), (bob, "t1"), (carol, "t2"))}
    ids: dict[str, str] = {}
    for content, user, fields in (*t1, *t2):
        with client(server, tokens[user]) as api:
            ids[content] = _remember(api, content, **fields)
    # an entry created 40 days ago: counted in the totals, outside the 30-day sensitivity and per-day windows
    old = datetime.now(UTC) - timedelta(days=40)
    server.sql("UPDATE memory_entries SET created_at = %s WHERE id = %s", (old, ids[t1[4][0]]))
    emails = tuple(row[0] for row in server.sql("SELECT email FROM users"))
    yield Tenants(
        server=server,
        project=project,
        admin1=mint(server, admin1, tenant="t1"),
        admin2=mint(server, admin2, tenant="t2"),
        alice=tokens[alice],
        readonly_admin1=mint(server, admin1, scope="read_only", tenant="t1"),
        user_ids=(admin1, alice, bob, admin2, carol),
        emails=emails,
        t1_contents=tuple(c for c, _, _ in t1),
        t2_contents=tuple(c for c, _, _ in t2),
    )
    server.stop()


def _telemetry(t: Tenants, token: str) -> httpx.Response:
    with client(t.server, token) as api:
        return api.get("/v1/admin/telemetry")


# ---- what an admin sees ----------------------------------------------------------------------------------


def test_counts_match_what_the_tenant_stored(tenants: Tenants) -> None:
    r = _telemetry(tenants, tenants.admin1)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {
        "totalEntries",
        "embeddedEntries",
        "pendingEmbeddings",
        "pendingExtractions",
        "pendingColdOrphans",
        "byNamespace",
        "byProject",
        "bySensitivity",
        "byTier",
        "createdPerDay",
        "topAgents",
        "lastDecayAt",
        "health",
    }
    assert body["totalEntries"] == 5
    # embeddings are switched off on this server: every entry's vector is still owed
    assert body["embeddedEntries"] == 0 and body["pendingEmbeddings"] == 5
    assert body["pendingExtractions"] == 0 and body["pendingColdOrphans"] == 0
    assert body["byTier"] == {"warm": 5, "cold": 0}
    assert body["byNamespace"][0] == {"namespace": "decisions", "count": 2}
    assert {n["namespace"]: n["count"] for n in body["byNamespace"]} == {
        "decisions": 2,
        "prefs": 1,
        "default": 1,
        "archive": 1,
    }
    assert body["byProject"] == [
        {"project": "unassigned", "name": None, "count": 3},
        {"project": tenants.project, "name": "t1-roadmap", "count": 2},
    ]
    # the last 30 days only: the archived entry (40 days old, private by default) is left out
    assert {s["sensitivity"]: s["count"] for s in body["bySensitivity"]} == {
        "public": 1,
        "internal": 1,
        "sensitive": 1,
        "private": 1,
    }
    assert body["topAgents"] == [{"agent": "claude", "count": 2}, {"agent": "cursor", "count": 1}]
    days = body["createdPerDay"]
    assert len(days) == 30 and days[-1] == {"day": datetime.now(UTC).date().isoformat(), "entries": 4}
    assert sum(d["entries"] for d in days) == 4 and [d["day"] for d in days] == sorted(d["day"] for d in days)
    assert set(body["health"]) == {"warm", "cold", "graph", "embedder"}
    assert body["health"]["warm"] == "ok" and body["health"]["embedder"] == "disabled"


def test_another_tenants_data_is_never_counted(tenants: Tenants) -> None:
    t1 = _telemetry(tenants, tenants.admin1)
    assert "t2-" not in t1.text and "carol" not in t1.text
    body = _telemetry(tenants, tenants.admin2).json()
    assert body["totalEntries"] == 2 and body["byTier"] == {"warm": 2, "cold": 0}
    assert body["byNamespace"] == [{"namespace": "t2-only", "count": 2}]
    assert [(p["project"] == "unassigned", p["name"], p["count"]) for p in body["byProject"]] == [
        (True, None, 1),
        (False, "t2-marina", 1),
    ]
    assert body["topAgents"] == [{"agent": "t2-agent", "count": 2}]
    # ties are listed from the least to the most sensitive level
    assert body["bySensitivity"] == [{"sensitivity": "public", "count": 1}, {"sensitivity": "private", "count": 1}]
    for word in ("decisions", "prefs", "claude", "cursor", "t1-roadmap", tenants.project):
        assert word not in json.dumps(body)


def test_the_answer_holds_no_content_and_no_user_ids(tenants: Tenants) -> None:
    for token in (tenants.admin1, tenants.admin2):
        text = _telemetry(tenants, token).text
        for secret in (*tenants.t1_contents, *tenants.t2_contents, *tenants.user_ids, *tenants.emails):
            assert secret not in text
        # not even a fragment of an entry's text
        for word in ("Alice", "Bob", "Carol", "harbour", "password", "dotfiles", "standup"):
            assert word not in text


def test_last_decay_at_follows_the_decay_runs(tenants: Tenants) -> None:
    with client(tenants.server, tenants.admin1) as api:
        assert api.post("/v1/decay").status_code == 200
    stamp = _telemetry(tenants, tenants.admin1).json()["lastDecayAt"]
    assert isinstance(stamp, str)
    finished = datetime.strptime(stamp, ISO).replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - finished).total_seconds()) < 60


# ---- who may ask -----------------------------------------------------------------------------------------


def test_anonymous_callers_get_401(tenants: Tenants) -> None:
    with tenants.server.client() as api:
        r = api.get("/v1/admin/telemetry")
    assert r.status_code == 401 and r.json() == {"error": "unauthorized"}


def test_non_admins_get_403_admin_only(tenants: Tenants) -> None:
    r = _telemetry(tenants, tenants.alice)
    assert r.status_code == 403 and r.json() == {"error": "admin only"}


def test_an_admins_restricted_token_gets_403(tenants: Tenants) -> None:
    r = _telemetry(tenants, tenants.readonly_admin1)
    assert r.status_code == 403 and r.json() == {"error": "restricted token"}


def test_a_wrong_token_gets_401(tenants: Tenants) -> None:
    r = _telemetry(tenants, "nm_" + "0" * 40)
    assert r.status_code == 401 and r.json() == {"error": "unauthorized"}


# ---- context-prefix: the observer switched off (the default) ---------------------------------------------


@pytest.mark.parametrize("query", ["", "?project=t1-roadmap", "?project=no-such-project"])
def test_context_prefix_answers_observer_disabled(tenants: Tenants, query: str) -> None:
    with client(tenants.server, tenants.alice) as api:
        r = api.get(f"/v1/context-prefix{query}")
    assert r.status_code == 404 and r.json() == {"error": "observer disabled"}


def test_context_prefix_needs_a_credential(tenants: Tenants) -> None:
    with tenants.server.client() as api:
        r = api.get("/v1/context-prefix")
    assert r.status_code == 401 and r.json() == {"error": "unauthorized"}


def test_context_prefix_refuses_a_bad_project_parameter(tenants: Tenants) -> None:
    with client(tenants.server, tenants.alice) as api:
        r = api.get("/v1/context-prefix", params={"project": "p" * 129})
    assert r.status_code == 400 and r.json()["error"] == "invalid request body"


def test_both_routes_are_in_the_openapi_document(tenants: Tenants) -> None:
    with tenants.server.client() as api:
        paths = api.get("/openapi.json").json()["paths"]
    prefix = paths["/v1/context-prefix"]["get"]["responses"]
    assert "404" in prefix and "200" in prefix
    telemetry = paths["/v1/admin/telemetry"]["get"]["responses"]
    assert {"200", "401", "403"} <= set(telemetry)
