"""Write quotas: server defaults, per-user overrides set by an admin, counted across replicas."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer, start_server
from tests.http.identities import USER_MODE, add_user, client, mint

QUICK = {"embeddings_provider": "none"}


def write_quota(n: int) -> str:
    return f"write quota exceeded: {n} writes/minute — retry after the window resets"


def entry_quota(n: int) -> str:
    return f"entry quota exceeded: {n} stored entries — forget something first"


def remember(api: httpx.Client, content: str, **fields: Any) -> httpx.Response:
    return api.post("/v1/remember", json={"content": content, **fields})


@pytest.fixture(scope="module")
def replicas(make_database: Callable[[], str]) -> Iterator[tuple[RunningServer, RunningServer]]:
    """Two servers over one database, as two replicas behind a load balancer."""
    url = make_database()
    first = start_server(url, **USER_MODE, **QUICK)
    second = start_server(url, **USER_MODE, **QUICK)
    yield first, second
    second.stop()
    first.stop()


@pytest.fixture
def srv(replicas: tuple[RunningServer, RunningServer]) -> RunningServer:
    replicas[0].sql("TRUNCATE memory_entries, memory_changes, rate_counters CASCADE")
    return replicas[0]


def set_quota(server: RunningServer, admin_token: str, user: str, **body: Any) -> httpx.Response:
    with client(server, admin_token) as admin:
        return admin.put(f"/v1/admin/users/{user}/quota", json=body)


def test_admin_sets_an_entry_cap_that_force_does_not_bypass(srv: RunningServer) -> None:
    admin, alice = add_user(srv, "admin", role="admin"), add_user(srv, "alice")
    r = set_quota(srv, mint(srv, admin), alice, maxEntries=2)
    assert r.status_code == 200, r.text
    assert r.json() == {"userId": alice, "quota": {"maxEntries": 2, "writesPerMinute": None}}
    with client(srv, mint(srv, alice)) as api:
        assert remember(api, "First capped fact about the entry quota").status_code == 201
        assert remember(api, "Second capped fact about the entry quota").status_code == 201
        for path in ("/v1/remember", "/v1/capture"):
            refused = api.post(path, json={"content": "Third capped fact is refused", "force": True})
            assert refused.status_code == 429, path
            assert refused.json() == {"error": entry_quota(2)}
            assert refused.headers["retry-after"].isdigit()
        recap = api.post("/v1/session-recap", json={"decisions": ["We decided the recap is refused too"]})
        assert recap.status_code == 429 and recap.json() == {"error": entry_quota(2)}
        imported = api.post("/v1/me/import", json={"entries": [{"content": "Imported past the cap"}]})
        assert imported.status_code == 400
        assert imported.json()["failed"] == [{"index": 0, "error": entry_quota(2)}]
        assert api.get("/v1/me/usage").json() == {"entries": 2, "quota": {"maxEntries": 2, "writesPerMinute": None}}
        # forgetting frees room at once, even though the count is cached
        victim = srv.sql("SELECT id FROM memory_entries WHERE user_id = %s LIMIT 1", (alice,))[0][0]
        assert api.post("/v1/forget", json={"id": victim}).json()["deleted"] is True
        assert remember(api, "Third capped fact fits after a forget").status_code == 201
    assert srv.sql("SELECT count(*) FROM memory_entries WHERE user_id = %s", (alice,)) == [(2,)]


def test_writes_per_minute_are_shared_by_every_replica(
    srv: RunningServer, replicas: tuple[RunningServer, RunningServer]
) -> None:
    admin, bob = add_user(srv, "admin", role="admin"), add_user(srv, "bob")
    assert set_quota(srv, mint(srv, admin), bob, writesPerMinute=3).status_code == 200
    token = mint(srv, bob)
    with client(replicas[0], token) as one, client(replicas[1], token) as two:
        assert remember(one, "Window fact one counted on the first replica").status_code == 201
        assert remember(two, "Window fact two counted on the second replica").status_code == 201
        # a duplicate is still a write
        assert remember(one, "Window fact one counted on the first replica").json()["deduplicated"] is True
        refused = remember(two, "Window fact four is over the budget", force=True)
        assert refused.status_code == 429
        assert refused.json() == {"error": write_quota(3)}
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert two.get("/v1/me/usage").json()["quota"] == {"maxEntries": None, "writesPerMinute": 3}
        # reads are never counted
        assert one.post("/v1/search", json={"query": "window fact"}).status_code in (200, 503)
    assert srv.sql("SELECT key FROM rate_counters WHERE key LIKE 'quota:writes:%%'") == [
        (f"quota:writes:default:{bob}",)
    ]


def test_an_override_change_holds_on_every_replica_from_the_next_request(
    srv: RunningServer, replicas: tuple[RunningServer, RunningServer]
) -> None:
    admin, erin = add_user(srv, "admin", role="admin"), add_user(srv, "erin")
    admin_token = mint(srv, admin)
    with client(replicas[1], mint(srv, erin)) as two:
        # the second replica reads (and may keep) erin's limits: none yet
        assert remember(two, "Erin's first fact, stored before any cap").status_code == 201
        assert set_quota(replicas[0], admin_token, erin, maxEntries=1).status_code == 200
        refused = remember(two, "Erin's second fact meets the new cap at once")
        assert refused.status_code == 429 and refused.json() == {"error": entry_quota(1)}
        assert two.get("/v1/me/usage").json()["quota"] == {"maxEntries": 1, "writesPerMinute": None}
        assert set_quota(replicas[0], admin_token, erin, maxEntries=None).status_code == 200
        assert remember(two, "Erin's second fact fits once the cap is lifted").status_code == 201
    assert srv.sql("SELECT count(*) FROM memory_entries WHERE user_id = %s", (erin,)) == [(2,)]


def test_null_clears_an_override(srv: RunningServer) -> None:
    admin, carol = add_user(srv, "admin", role="admin"), add_user(srv, "carol")
    admin_token = mint(srv, admin)
    assert set_quota(srv, admin_token, carol, maxEntries=1, writesPerMinute=1).status_code == 200
    with client(srv, mint(srv, carol)) as api:
        assert remember(api, "Carol's only allowed fact for now").status_code == 201
        assert remember(api, "Carol's second fact is refused").status_code == 429
        cleared = set_quota(srv, admin_token, carol, maxEntries=None, writesPerMinute=None)
        assert cleared.json() == {"userId": carol, "quota": {"maxEntries": None, "writesPerMinute": None}}
        assert remember(api, "Carol's second fact is accepted now").status_code == 201
        assert api.get("/v1/me/usage").json()["quota"] == {"maxEntries": None, "writesPerMinute": None}
    assert srv.sql("SELECT max_entries, writes_per_minute FROM user_quotas WHERE user_id = %s", (carol,)) == [
        (None, None)
    ]
    audit = srv.sql(
        "SELECT actor_user_id, target, metadata FROM admin_audit_log WHERE action = 'admin.user.quota'"
        " AND target = %s ORDER BY id",
        (carol,),
    )
    assert audit == [
        (admin, carol, {"maxEntries": 1, "writesPerMinute": 1}),
        (admin, carol, {"maxEntries": None, "writesPerMinute": None}),
    ]


def test_quota_route_is_for_admins_of_the_users_tenant(srv: RunningServer) -> None:
    admin, dave = add_user(srv, "admin", role="admin"), add_user(srv, "dave")
    admin_token = mint(srv, admin)
    srv.sql("INSERT INTO tenants (id, name) VALUES ('elsewhere', 'elsewhere') ON CONFLICT DO NOTHING")
    stranger = add_user(srv, "stranger", tenant="elsewhere")
    for target in (stranger, "u-does-not-exist"):
        r = set_quota(srv, admin_token, target, maxEntries=5)
        assert r.status_code == 404 and r.json() == {"error": "no such user"}
    assert srv.sql("SELECT count(*) FROM user_quotas WHERE user_id = %s", (stranger,)) == [(0,)]
    r = set_quota(srv, mint(srv, dave), dave, maxEntries=1000)
    assert r.status_code == 403 and r.json() == {"error": "admin only"}
    r = set_quota(srv, mint(srv, admin, scope="read_only"), dave, maxEntries=1)
    assert r.status_code == 403 and r.json() == {"error": "restricted token"}
    with srv.client() as anonymous:
        r = anonymous.put(f"/v1/admin/users/{dave}/quota", json={"maxEntries": 1})
        assert r.status_code == 401 and r.json() == {"error": "unauthorized"}
    for bad in ({"maxEntries": -1}, {"writesPerMinute": "10"}, {"maxEntries": 2**31}):
        r = set_quota(srv, admin_token, dave, **bad)
        assert r.status_code == 400 and r.json()["error"] == "invalid request body", bad


def test_server_defaults_apply_to_the_shared_caller(make_database: Callable[[], str]) -> None:
    server = start_server(make_database(), jobs_enabled=False, quota_max_entries=4, quota_writes_per_minute=3, **QUICK)
    try:
        with server.client() as api:
            for i in range(3):
                assert remember(api, f"Shared caller fact number {i} under the defaults").status_code == 201
            refused = remember(api, "Shared caller fact over the write budget")
            assert refused.status_code == 429 and refused.json() == {"error": write_quota(3)}
            server.sql("DELETE FROM rate_counters")  # a new window
            assert remember(api, "Shared caller fact number 3 fills the cap").status_code == 201
            refused = remember(api, "Shared caller fact over the entry cap")
            assert refused.status_code == 429 and refused.json() == {"error": entry_quota(4)}
        assert server.sql("SELECT key FROM rate_counters") == [("quota:writes:default:public",)]
    finally:
        server.stop()
