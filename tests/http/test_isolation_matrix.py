"""The isolation suite: two tenants, two users in each, shared and private projects, every token kind.

One real server in `tenant` mode over the real embedded PostgreSQL. Identities, projects, tokens and
sessions are arranged with SQL (so the suite does not depend on the admin API for its set-up); every
memory is written through the API. Then every data-plane, self-service and admin route is called by
the other user of the same tenant, by the other tenant (its admin included) and by every kind of
credential, and each answer is checked against the wire contract:

- nothing outside the caller's scope is ever returned, changed or deleted;
- an id of someone else's entry, project, user or token answers exactly like an id that does not
  exist (same status, same body: no existence oracle);
- identity fields in bodies (userId, tenantId, organizationId) never choose whose data is written;
- unknown, revoked, expired, garbage and banned credentials all get the same 401 body;
- restricted tokens get the reference's 403 strings; revocation and member removal bite on the
  next request.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from ulid import ULID

from novamem.domain.credentials import hash_secret, new_api_token, new_session_token, sign_session_token
from tests.conftest import RunningServer, start_server

COOKIE_SECRET = secrets.token_urlsafe(48)
COOKIE_NAME = "nm.session_token"  # insecure cookies: no `__Secure-` prefix
UNAUTHORIZED = {"error": "unauthorized"}
TOPIC = "quartz lanterns"  # every seeded memory mentions it, so one search can reach all of them

READ_ONLY = "read-only token"
RESTRICTED = "restricted token"
ADMIN_ONLY = "admin only"
CONFINED = "token is confined to its project"


# --------------------------------------------------------------------------------------------------
# Arranging identities with SQL


def _sql(server: RunningServer, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    return server.sql(query, params)


def add_tenant(server: RunningServer, name: str) -> str:
    _sql(server, "INSERT INTO tenants (id, name) VALUES (%s, %s)", (name, name))
    return name


def add_user(server: RunningServer, tenant: str, name: str, role: str = "user", *, banned: bool = False) -> str:
    user_id = f"u{secrets.token_hex(12)}"
    email = f"{name}-{secrets.token_hex(3)}@{tenant}.example.com"
    _sql(
        server,
        "INSERT INTO users (id, tenant_id, email, name, role, banned) VALUES (%s, %s, %s, %s, %s, %s)",
        (user_id, tenant, email, name, role, banned),
    )
    return user_id


def email_of(server: RunningServer, user_id: str) -> str:
    return str(_sql(server, "SELECT email FROM users WHERE id = %s", (user_id,))[0][0])


def add_project(server: RunningServer, tenant: str, name: str, owner: str, members: tuple[str, ...] = ()) -> str:
    project_id = str(ULID())
    _sql(
        server,
        "INSERT INTO projects (id, tenant_id, name, owner_user_id) VALUES (%s, %s, %s, %s)",
        (project_id, tenant, name, owner),
    )
    for user, role in [(owner, "owner"), *((m, "member") for m in members)]:
        _sql(
            server,
            "INSERT INTO project_members (project_id, user_id, tenant_id, role) VALUES (%s, %s, %s, %s)",
            (project_id, user, tenant, role),
        )
    return project_id


def add_token(
    server: RunningServer,
    tenant: str,
    user: str,
    *,
    scope: str = "full",
    project: str | None = None,
    expired: bool = False,
    revoked: bool = False,
) -> str:
    token = new_api_token()
    _sql(
        server,
        "INSERT INTO user_tokens (token_hash, tenant_id, user_id, label, scope, project_id, expires_at, revoked_at)"
        " VALUES (%s, %s, %s, 'isolation', %s, %s,"
        " CASE WHEN %s THEN now() - interval '1 minute' END, CASE WHEN %s THEN now() END)",
        (hash_secret(token), tenant, user, scope, project, expired, revoked),
    )
    return token


def add_session(server: RunningServer, tenant: str, user: str, *, expired: bool = False) -> str:
    """A dashboard session row; returns the signed cookie value."""
    token = new_session_token()
    _sql(
        server,
        "INSERT INTO auth_sessions (id, token_hash, tenant_id, user_id, expires_at)"
        " VALUES (%s, %s, %s, %s, now() + CASE WHEN %s THEN interval '-1 minute' ELSE interval '7 days' END)",
        (secrets.token_hex(16), hash_secret(token), tenant, user, expired),
    )
    return sign_session_token(COOKIE_SECRET, token)


def entry_row(server: RunningServer, entry_id: str) -> tuple[Any, ...] | None:
    rows = _sql(
        server,
        "SELECT tenant_id, user_id, project_id, content, metadata::text FROM memory_entries WHERE id = %s",
        (entry_id,),
    )
    return rows[0] if rows else None


# --------------------------------------------------------------------------------------------------
# The world


@dataclass
class World:
    server: RunningServer
    users: dict[str, str]  # alice, bob (t1), carol, dave (t2)
    projects: dict[str, str]  # P (t1 shared), Q (alice only), R (t2 shared, also named "shared")
    creds: dict[str, dict[str, str]]  # credential name -> request headers/cookies
    tokens: dict[str, str]  # credential name -> plaintext token
    entries: dict[str, str] = field(default_factory=dict)  # seeded entry name -> id
    markers: dict[str, str] = field(default_factory=dict)  # seeded entry name -> unique word in its content

    client: httpx.Client | None = None

    def call(self, cred: str | None, method: str, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        """One request with exactly the named credential (a kept-alive connection, no cookie jar)."""
        if self.client is None:
            self.client = self.server.client()
        headers: dict[str, str] = {}
        if cred is not None:
            spec = self.creds[cred]
            if "authorization" in spec:
                headers["authorization"] = spec["authorization"]
            if "cookie" in spec:
                headers["cookie"] = f"{COOKIE_NAME}={spec['cookie']}"
        try:
            return self.client.request(method, path, json=body, headers=headers, **kwargs)
        finally:
            self.client.cookies.clear()  # whatever a response set must not ride along with the next caller

    def bearer(self, token: str) -> dict[str, str]:
        return {"authorization": f"Bearer {token}"}


# who may see which seeded entry, whatever scope they ask for
UNIVERSE = {
    "alice": {"a_g", "a_p", "a_p2", "b_p", "a_q"},
    "alice_ro": {"a_g", "a_p", "a_p2", "b_p", "a_q"},
    "alice_cookie": {"a_g", "a_p", "a_p2", "b_p", "a_q"},
    "alice_p": {"a_p", "a_p2", "b_p"},
    "alice_q": {"a_q"},
    "bob": {"b_g", "a_p", "a_p2", "b_p"},
    "carol": {"c_g", "c_r"},
    "dave": {"d_g", "c_r"},
}
# what a read that names no project sees (no active project set): the user's own global entries,
# or the confined token's project
DEFAULT_VIEW = {
    "alice": {"a_g"},
    "alice_ro": {"a_g"},
    "alice_cookie": {"a_g"},
    "alice_p": {"a_p", "a_p2", "b_p"},
    "alice_q": {"a_q"},
    "bob": {"b_g"},
    "carol": {"c_g"},
    "dave": {"d_g"},
}
# the projects each reader may name in includeProjects (all of theirs)
MEMBER_OF = {
    "alice": ["P", "Q"],
    "alice_ro": ["P", "Q"],
    "alice_cookie": ["P", "Q"],
    "alice_p": ["P"],
    "alice_q": ["Q"],
    "bob": ["P"],
    "carol": ["R"],
    "dave": ["R"],
}
READERS = list(UNIVERSE)
OWNER = {
    "alice": "alice",
    "alice_ro": "alice",
    "alice_cookie": "alice",
    "alice_p": "alice",
    "alice_q": "alice",
    "bob": "bob",
    "carol": "carol",
    "dave": "dave",
}


def _content(marker: str, who: str) -> str:
    return f"Isolation fixture {marker}: {who} keeps a durable note about {TOPIC} in the workshop"


@pytest.fixture(scope="module")
def world(make_database: Callable[[], str]) -> Iterator[World]:
    server = start_server(
        make_database(), auth_mode="tenant", cookie_secret=COOKIE_SECRET, insecure_cookies=True, jobs_enabled=False
    )
    try:
        t1, t2 = add_tenant(server, "t1"), add_tenant(server, "t2")
        users = {
            "alice": add_user(server, t1, "alice", "admin"),
            "bob": add_user(server, t1, "bob"),
            "carol": add_user(server, t2, "carol", "admin"),
            "dave": add_user(server, t2, "dave"),
        }
        projects = {
            "P": add_project(server, t1, "shared", users["alice"], (users["bob"],)),
            "Q": add_project(server, t1, "alice-private", users["alice"]),
            # same name as P on purpose: names resolve within the caller's tenant only
            "R": add_project(server, t2, "shared", users["carol"], (users["dave"],)),
        }
        tokens = {
            "alice": add_token(server, t1, users["alice"]),
            "alice_ro": add_token(server, t1, users["alice"], scope="read_only"),
            "alice_p": add_token(server, t1, users["alice"], project=projects["P"]),
            "alice_q": add_token(server, t1, users["alice"], project=projects["Q"]),
            "bob": add_token(server, t1, users["bob"]),
            "carol": add_token(server, t2, users["carol"]),
            "dave": add_token(server, t2, users["dave"]),
        }
        creds = {name: {"authorization": f"Bearer {token}"} for name, token in tokens.items()}
        creds["alice_cookie"] = {"cookie": add_session(server, t1, users["alice"])}
        w = World(server, users, projects, creds, tokens)
        _seed(w)
        yield w
        if w.client is not None:
            w.client.close()
    finally:
        server.stop()


def _seed(w: World) -> None:
    """Every memory goes through the API, each kind of write from a different credential."""
    plan: list[tuple[str, str, str, dict[str, Any]]] = [
        # name, credential, route, extra body
        ("a_g", "alice", "/v1/remember", {"sourceRefs": ["ref-common"]}),
        ("a_p", "alice", "/v1/remember", {"project": w.projects["P"]}),
        ("a_p2", "alice_p", "/v1/remember", {}),  # a confined token writes into its project
        ("a_q", "alice_q", "/v1/capture", {}),
        ("b_g", "bob", "/v1/capture", {"sourceRefs": ["ref-common"]}),
        ("b_p", "bob", "/v1/capture", {"project": "shared"}),  # by name
        ("c_g", "carol", "/v1/session-recap", {}),
        ("c_r", "dave", "/v1/remember", {"project": "shared"}),  # the name means R in t2
        ("d_g", "dave", "/v1/remember", {"sourceRefs": ["ref-common"]}),
    ]
    for name, cred, route, extra in plan:
        marker = f"mk{secrets.token_hex(5)}"
        w.markers[name] = marker
        text = _content(marker, OWNER[cred])
        if route == "/v1/session-recap":
            body = {"decisions": [text], "force": True, **extra}
        else:
            body = {"content": text, "force": True, **extra}
        r = w.call(cred, "POST", route, body)
        assert r.status_code == 201, (name, r.status_code, r.text)
        data = r.json()
        entry_id = data["results"][0]["id"] if route == "/v1/session-recap" else data["id"]
        assert entry_id, (name, data)
        w.entries[name] = entry_id
    expected_scope = {
        "a_g": ("t1", "alice", None),
        "a_p": ("t1", "alice", "P"),
        "a_p2": ("t1", "alice", "P"),
        "a_q": ("t1", "alice", "Q"),
        "b_g": ("t1", "bob", None),
        "b_p": ("t1", "bob", "P"),
        "c_g": ("t2", "carol", None),
        "c_r": ("t2", "dave", "R"),
        "d_g": ("t2", "dave", None),
    }
    for name, (tenant, user, project) in expected_scope.items():
        row = entry_row(w.server, w.entries[name])
        assert row is not None
        assert row[:3] == (tenant, w.users[user], w.projects[project] if project else None), name


def seen(w: World, text: str) -> set[str]:
    """The seeded entries whose id or unique marker appears anywhere in a response body."""
    return {name for name, entry_id in w.entries.items() if entry_id in text or w.markers[name] in text}


def result_names(w: World, results: list[dict[str, Any]]) -> set[str]:
    ids = {item["id"] for item in results}
    return {name for name, entry_id in w.entries.items() if entry_id in ids}


def fresh_id() -> str:
    return str(ULID())


def _normalise(text: str, *refs: str) -> str:
    for ref in refs:
        text = text.replace(ref, "<ref>")
    return text


def assert_same_answer(a: httpx.Response, b: httpx.Response, *refs: str) -> None:
    """Two answers that must be indistinguishable (the refs themselves may be echoed)."""
    assert not a.text.startswith('{"message":"Route '), f"route missing: {a.text}"
    assert a.status_code == b.status_code, (a.status_code, a.text, b.status_code, b.text)
    assert _normalise(a.text, *refs) == _normalise(b.text, *refs)


# --------------------------------------------------------------------------------------------------
# Reads: what each caller sees


def _read(w: World, cred: str, route: str, body: dict[str, Any]) -> httpx.Response:
    payload = {"search": {"query": TOPIC, "k": 50}, "recent": {"k": 200}, "context": {"message": TOPIC, "k": 50}}[route]
    return w.call(cred, "POST", f"/v1/{route}", {**payload, **body})


def _names_of(w: World, route: str, data: dict[str, Any]) -> set[str]:
    if route == "context":
        return result_names(w, data["relevant"]["results"]) | result_names(w, data["recent"]["results"])
    return result_names(w, data["results"])


@pytest.mark.parametrize("route", ["search", "recent", "context"])
@pytest.mark.parametrize("reader", READERS)
def test_reads_see_exactly_the_callers_scope(world: World, reader: str, route: str) -> None:
    w = world
    by_default = _read(w, reader, route, {})
    assert by_default.status_code == 200, by_default.text
    assert _names_of(w, route, by_default.json()) == DEFAULT_VIEW[reader]
    assert seen(w, by_default.text) <= UNIVERSE[reader]

    every = [w.projects[p] for p in MEMBER_OF[reader]]
    widest = _read(w, reader, route, {"includeProjects": every})
    assert widest.status_code == 200, widest.text
    assert _names_of(w, route, widest.json()) == UNIVERSE[reader]
    assert seen(w, widest.text) <= UNIVERSE[reader]


# (reader, project they name, status, error) for reads naming a project outside their reach
PROJECT_REFUSALS = [
    ("bob", "Q", 403, None),  # same tenant, not a member: the reference's 403 "not a member of project"
    ("alice_p", "Q", 403, CONFINED),
    ("alice_q", "P", 403, CONFINED),
    ("carol", "P", 404, None),  # another tenant's project does not exist for carol
    ("dave", "Q", 404, None),
]


@pytest.mark.parametrize(("reader", "project", "status", "error"), PROJECT_REFUSALS)
@pytest.mark.parametrize("route", ["search", "recent", "context"])
def test_reads_naming_a_project_out_of_reach_are_refused(
    world: World, route: str, reader: str, project: str, status: int, error: str | None
) -> None:
    w = world
    for body in ({"project": w.projects[project]}, {"includeProjects": [w.projects[project]]}):
        r = _read(w, reader, route, body)
        assert r.status_code == status, r.text
        if error is not None:
            assert r.json() == {"error": error}
        elif status == 403:
            assert r.json()["error"].startswith("not a member of project")
        assert seen(w, r.text) == set()


@pytest.mark.parametrize("route", ["search", "recent", "context", "me_tokens", "me_project"])
@pytest.mark.parametrize("reader", ["carol", "dave"])
def test_another_tenants_project_answers_like_a_missing_one(world: World, reader: str, route: str) -> None:
    w = world
    foreign, missing = w.projects["P"], fresh_id()

    def ask(ref: str) -> httpx.Response:
        if route == "me_tokens":
            return w.call(reader, "POST", "/v1/me/tokens", {"label": "x", "project": ref})
        if route == "me_project":
            return w.call(reader, "PUT", "/v1/me/active-project", {"project": ref})
        return _read(w, reader, route, {"project": ref})

    a, b = ask(foreign), ask(missing)
    assert a.status_code == 404, a.text
    assert_same_answer(a, b, foreign, missing)


def test_project_names_resolve_inside_the_callers_tenant(world: World) -> None:
    w = world
    # both tenants have a project named "shared"; each caller gets their own
    for reader, mine in (("bob", {"a_p", "a_p2", "b_p"}), ("dave", {"c_r"}), ("carol", {"c_r"})):
        r = _read(w, reader, "recent", {"project": "shared"})
        assert r.status_code == 200, r.text
        assert result_names(w, r.json()["results"]) == mine
    # a project name the caller is not a member of resolves to nothing
    r = _read(w, "bob", "search", {"project": "alice-private"})
    assert r.status_code == 404
    assert r.json() == {"error": "no such project 'alice-private' — call project_list to see ids"}


@pytest.mark.parametrize("reader", ["alice", "alice_ro", "alice_cookie", "bob", "carol", "dave"])
def test_stats_count_only_the_callers_entries(world: World, reader: str) -> None:
    w = world
    r = w.call(reader, "GET", "/v1/stats")
    assert r.status_code == 200, r.text
    body = r.json()
    user = w.users[OWNER[reader]]
    # what the caller can see, counted in the database itself (independent of test order)
    (expected,) = w.server.sql(
        "SELECT count(*) FROM memory_entries e WHERE e.tenant_id = (SELECT tenant_id FROM users WHERE id = %s)"
        " AND ((e.project_id IS NULL AND e.user_id = %s)"
        "      OR e.project_id IN (SELECT project_id FROM project_members WHERE user_id = %s))",
        (user, user, user),
    )[0]
    assert body["totalWarm"] + body["totalCold"] == expected
    (everything,) = w.server.sql("SELECT count(*) FROM memory_entries")[0]
    assert expected < everything


@pytest.mark.parametrize("reader", ["alice", "alice_ro", "alice_cookie", "bob", "carol", "dave"])
def test_hygiene_reports_only_the_callers_entries(world: World, reader: str) -> None:
    w = world
    r = w.call(reader, "POST", "/v1/hygiene", {"k": 100})
    assert r.status_code == 200, r.text
    assert seen(w, r.text) <= UNIVERSE[reader]
    user = w.users[OWNER[reader]]
    (expected,) = w.server.sql(
        "SELECT count(*) FROM memory_entries e WHERE e.tenant_id = (SELECT tenant_id FROM users WHERE id = %s)"
        " AND e.status = 'active' AND ((e.project_id IS NULL AND e.user_id = %s)"
        "      OR e.project_id IN (SELECT project_id FROM project_members WHERE user_id = %s))",
        (user, user, user),
    )[0]
    assert r.json()["summary"]["scanned"] == expected


@pytest.mark.parametrize("reader", ["alice_p", "alice_q"])
def test_confined_tokens_get_no_account_wide_stats(world: World, reader: str) -> None:
    r = world.call(reader, "GET", "/v1/stats")
    assert r.status_code == 403
    assert r.json() == {"error": CONFINED}


@pytest.mark.parametrize("reader", READERS)
def test_neighbors_never_cross_a_boundary(world: World, reader: str) -> None:
    w = world
    missing_id = fresh_id()
    missing = w.call(reader, "POST", "/v1/neighbors", {"id": missing_id})
    assert missing.status_code == 200, missing.text
    for name, entry_id in w.entries.items():
        r = w.call(reader, "POST", "/v1/neighbors", {"id": entry_id, "depth": 3, "k": 50})
        if name in UNIVERSE[reader]:
            assert r.status_code == 200, r.text
            assert seen(w, r.text) - {name} <= UNIVERSE[reader]
        else:
            # a foreign seed is an unknown seed: same answer as an id that never existed
            assert_same_answer(r, missing, entry_id, missing_id)


@pytest.mark.parametrize("reader", ["alice", "alice_cookie", "bob", "carol", "dave", "alice_ro"])
def test_export_holds_only_the_callers_entries(world: World, reader: str) -> None:
    w = world
    exported: set[str] = set()
    after: str | None = None
    for _ in range(50):
        params = {"limit": 2, **({"afterId": after} if after else {})}
        r = w.call(reader, "GET", "/v1/me/export", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        assert seen(w, r.text) <= UNIVERSE[reader]
        exported |= result_names(w, page["entries"])
        if not page["entries"]:
            break
        after = page["nextAfterId"] or page["entries"][-1]["id"]
    # the user's own global entries are theirs to export; nothing else beyond their reach is there
    own_global = {n for n in DEFAULT_VIEW[reader] if n.endswith("_g")}
    assert own_global <= exported <= UNIVERSE[reader]


@pytest.mark.parametrize("reader", ["alice", "bob", "carol", "dave"])
def test_change_feed_holds_only_the_callers_scope(world: World, reader: str) -> None:
    w = world
    r = w.call(reader, "GET", "/v1/me/changes", params={"limit": 500})
    assert r.status_code == 200, r.text
    changes = r.json()["changes"]
    names = {n for n, entry_id in w.entries.items() if entry_id in {c["entryId"] for c in changes}}
    assert names <= UNIVERSE[reader]
    assert {n for n in DEFAULT_VIEW[reader] if n.endswith("_g")} <= names
    assert seen(w, r.text) <= UNIVERSE[reader]


@pytest.mark.parametrize("route", ["/v1/me/today", "/v1/me/usage", "/v1/me/onboarding", "/v1/me/projects"])
@pytest.mark.parametrize("reader", ["alice", "bob", "carol", "dave"])
def test_self_service_reads_show_nothing_foreign(world: World, reader: str, route: str) -> None:
    w = world
    r = w.call(reader, "GET", route)
    assert r.status_code == 200, r.text
    assert seen(w, r.text) <= UNIVERSE[reader]
    other_tenant = ("carol", "dave") if OWNER[reader] in ("alice", "bob") else ("alice", "bob")
    foreign_users = {w.users[name] for name in other_tenant}
    foreign_projects = {p for name, p in w.projects.items() if name not in MEMBER_OF[OWNER[reader]]}
    if route == "/v1/me/projects":
        listed = {p["id"] for p in r.json()["projects"]}
        assert listed == {w.projects[p] for p in MEMBER_OF[OWNER[reader]]}
    for secret in foreign_projects | foreign_users:
        assert secret not in r.text
    if route == "/v1/me/usage":
        # usage counts the caller's own entries, never another user's or tenant's
        assert r.json()["entries"] <= len(UNIVERSE[reader])


# --------------------------------------------------------------------------------------------------
# Ids of foreign things answer exactly like ids that do not exist


# (attacker, victim entry): another user of the same tenant, the other tenant, the other tenant's admin
FOREIGN_ENTRIES = [
    ("bob", "a_g"),
    ("bob", "a_q"),
    ("alice", "b_g"),
    ("alice_p", "a_g"),
    ("alice_q", "a_p"),
    ("carol", "a_g"),
    ("carol", "a_p"),
    ("dave", "b_g"),
    ("dave", "c_g"),
    ("carol", "d_g"),
]


@pytest.mark.parametrize(("attacker", "victim"), FOREIGN_ENTRIES)
def test_update_of_a_foreign_entry_looks_like_a_missing_one(world: World, attacker: str, victim: str) -> None:
    w = world
    target, missing = w.entries[victim], fresh_id()
    before = entry_row(w.server, target)
    body = {"content": "Overwritten by someone who should not reach it", "metadata": {"pwned": True}}
    a = w.call(attacker, "PUT", f"/v1/memories/{target}", body)
    b = w.call(attacker, "PUT", f"/v1/memories/{missing}", body)
    assert a.status_code == 404, a.text
    assert a.json() == {"error": "no such memory in your scope"}
    assert_same_answer(a, b, target, missing)
    # also when the attacker names a project they really are in
    if attacker in ("bob", "carol", "dave"):
        project = w.projects["P" if attacker == "bob" else "R"]
        a = w.call(attacker, "PUT", f"/v1/memories/{target}", {**body, "project": project})
        b = w.call(attacker, "PUT", f"/v1/memories/{missing}", {**body, "project": project})
        assert_same_answer(a, b, target, missing)
    assert entry_row(w.server, target) == before


@pytest.mark.parametrize(("attacker", "victim"), FOREIGN_ENTRIES)
def test_forget_of_a_foreign_entry_looks_like_a_missing_one(world: World, attacker: str, victim: str) -> None:
    w = world
    target, missing = w.entries[victim], fresh_id()
    a = w.call(attacker, "POST", "/v1/forget", {"id": target})
    b = w.call(attacker, "POST", "/v1/forget", {"id": missing})
    assert a.status_code == 200, a.text
    assert a.json() == {"deleted": False, "coldDeleteOk": True}
    assert_same_answer(a, b, target, missing)
    assert entry_row(w.server, target) is not None


@pytest.mark.parametrize("attacker", ["bob", "carol", "dave"])
def test_forget_by_source_ref_reaches_only_the_callers_entries(world: World, attacker: str) -> None:
    w = world
    ref = f"ref-{uuid.uuid4().hex[:8]}"
    # the same source ref on an entry of every user (user-global), written through the API
    victims: dict[str, str] = {}
    for cred in ("alice", "bob", "carol", "dave"):
        text = _content(f"ref{secrets.token_hex(4)}", cred)
        r = w.call(cred, "POST", "/v1/remember", {"content": text, "force": True, "sourceRefs": [ref]})
        assert r.status_code == 201, r.text
        victims[cred] = r.json()["id"]
    r = w.call(attacker, "POST", "/v1/forget", {"sourceRef": ref})
    assert r.status_code == 200, r.text
    assert r.json()["ids"] == [victims[attacker]]
    assert r.json()["count"] == 1
    for cred, entry_id in victims.items():
        assert (entry_row(w.server, entry_id) is None) == (cred == attacker), cred
    # the seeded entries sharing "ref-common" are untouched by a caller with none of them
    r = w.call("alice_q", "POST", "/v1/forget", {"sourceRef": "ref-common"})
    assert r.status_code == 200, r.text
    assert r.json()["count"] == 0
    for name in ("a_g", "b_g", "d_g"):
        assert entry_row(w.server, w.entries[name]) is not None
    for cred, entry_id in victims.items():  # tidy up through the API, each owner their own
        if cred != attacker:
            assert w.call(cred, "POST", "/v1/forget", {"id": entry_id}).json()["deleted"] is True


def test_the_other_tenants_admin_reaches_nothing_by_id(world: World) -> None:
    """carol administers t2: every t1 user, project, membership and token id looks unknown to her."""
    w = world
    alice, bob, p = w.users["alice"], w.users["bob"], w.projects["P"]
    missing_user, missing_project = f"u{secrets.token_hex(12)}", fresh_id()
    pairs = [
        (
            ("DELETE", f"/v1/admin/users/{bob}?dryRun=true", None),
            ("DELETE", f"/v1/admin/users/{missing_user}?dryRun=true", None),
        ),
        (("DELETE", f"/v1/admin/users/{bob}", None), ("DELETE", f"/v1/admin/users/{missing_user}", None)),
        (("DELETE", f"/v1/admin/users/{alice}", None), ("DELETE", f"/v1/admin/users/{missing_user}", None)),
        (
            ("PUT", f"/v1/admin/users/{bob}/quota", {"maxEntries": 1, "writesPerMinute": 1}),
            ("PUT", f"/v1/admin/users/{missing_user}/quota", {"maxEntries": 1, "writesPerMinute": 1}),
        ),
        (("GET", f"/v1/me/projects/{p}/members", None), ("GET", f"/v1/me/projects/{missing_project}/members", None)),
        (
            ("POST", f"/v1/me/projects/{p}/members", {"username": email_of(w.server, w.users["carol"])}),
            ("POST", f"/v1/me/projects/{missing_project}/members", {"username": email_of(w.server, w.users["carol"])}),
        ),
        (
            ("DELETE", f"/v1/me/projects/{p}/members/{bob}", None),
            ("DELETE", f"/v1/me/projects/{missing_project}/members/{bob}", None),
        ),
        (("DELETE", f"/v1/me/projects/{p}", None), ("DELETE", f"/v1/me/projects/{missing_project}", None)),
        (
            ("DELETE", f"/v1/me/tokens/{hash_secret(w.tokens['alice'])}", None),
            ("DELETE", f"/v1/me/tokens/{hash_secret(new_api_token())}", None),
        ),
        (
            ("POST", "/v1/admin/tokens/revoke", {"token": w.tokens["bob"]}),
            ("POST", "/v1/admin/tokens/revoke", {"token": new_api_token()}),
        ),
    ]
    refs = (bob, alice, missing_user, p, missing_project)
    for foreign, unknown in pairs:
        a = w.call("carol", foreign[0], foreign[1], foreign[2])
        b = w.call("carol", unknown[0], unknown[1], unknown[2])
        assert a.status_code < 500, (foreign, a.text)
        assert a.status_code != 200 or foreign[1] == "/v1/admin/tokens/revoke", (foreign, a.text)
        assert_same_answer(a, b, *refs, hash_secret(w.tokens["alice"]))
    # and nothing happened to t1
    assert w.server.sql("SELECT count(*) FROM users WHERE id IN (%s, %s)", (alice, bob)) == [(2,)]
    assert w.server.sql("SELECT count(*) FROM user_quotas WHERE user_id = %s", (bob,)) == [(0,)]
    assert w.server.sql("SELECT count(*) FROM projects WHERE id = %s", (p,)) == [(1,)]
    assert w.server.sql("SELECT count(*) FROM project_members WHERE project_id = %s", (p,)) == [(2,)]
    for cred in ("alice", "bob"):
        assert w.call(cred, "GET", "/v1/me/tokens").status_code == 200


def test_quotas_are_set_within_the_admins_tenant_only(world: World) -> None:
    w = world
    bob = w.users["bob"]
    quota = {"maxEntries": 1000, "writesPerMinute": 500}
    r = w.call("bob", "PUT", f"/v1/admin/users/{bob}/quota", quota)
    assert (r.status_code, r.json()) == (403, {"error": ADMIN_ONLY})
    r = w.call("alice", "PUT", f"/v1/admin/users/{bob}/quota", quota)
    assert r.status_code == 200, r.text
    assert r.json()["userId"] == bob
    try:
        assert w.call("bob", "GET", "/v1/me/usage").json()["quota"] == quota
        for other in ("alice", "carol", "dave"):
            r = w.call(other, "GET", "/v1/me/usage")
            assert r.status_code == 200 and r.json()["quota"] == {"maxEntries": None, "writesPerMinute": None}
        # carol cannot touch it; her attempt answers like an unknown user and changes nothing
        r = w.call("carol", "PUT", f"/v1/admin/users/{bob}/quota", {"maxEntries": 1, "writesPerMinute": 1})
        assert r.status_code == 404, r.text
        assert w.call("bob", "GET", "/v1/me/usage").json()["quota"] == quota
    finally:
        cleared = w.call("alice", "PUT", f"/v1/admin/users/{bob}/quota", {"maxEntries": None, "writesPerMinute": None})
        assert cleared.status_code == 200, cleared.text


def test_the_same_tenants_user_reaches_nothing_private_by_id(world: World) -> None:
    w = world
    q, missing = w.projects["Q"], fresh_id()
    # alice's token hash is not bob's to delete
    a = w.call("bob", "DELETE", f"/v1/me/tokens/{hash_secret(w.tokens['alice'])}")
    b = w.call("bob", "DELETE", f"/v1/me/tokens/{hash_secret(new_api_token())}")
    assert a.status_code == 404
    assert a.json() == {"error": "token not found"}
    assert_same_answer(a, b, hash_secret(w.tokens["alice"]))
    assert w.call("alice", "GET", "/v1/me/tokens").status_code == 200
    # a project bob is not in: no members listed, not deletable, no one added by him
    for method, path, body in (
        ("GET", f"/v1/me/projects/{q}/members", None),
        ("DELETE", f"/v1/me/projects/{q}", None),
        ("POST", f"/v1/me/projects/{q}/members", {"username": email_of(w.server, w.users["bob"])}),
        ("DELETE", f"/v1/me/projects/{q}/members/{w.users['alice']}", None),
    ):
        r = w.call("bob", method, path, body)
        assert r.status_code in (403, 404), (path, r.text)
        assert w.users["alice"] not in r.text or path.endswith(w.users["alice"])
    assert w.server.sql("SELECT user_id FROM project_members WHERE project_id = %s", (q,)) == [(w.users["alice"],)]
    # members of P see each other, and only each other
    for cred in ("alice", "bob"):
        r = w.call(cred, "GET", f"/v1/me/projects/{w.projects['P']}/members")
        assert r.status_code == 200, r.text
        assert {m["userId"] for m in r.json()["members"]} == {w.users["alice"], w.users["bob"]}
    # a member may not delete the owner's project
    r = w.call("bob", "DELETE", f"/v1/me/projects/{w.projects['P']}")
    assert r.status_code == 403
    assert r.json() == {"error": "only the owner can delete a project"}
    # unused: a fresh id is simply unknown
    assert w.call("bob", "GET", f"/v1/me/projects/{missing}/members").status_code == 404


# --------------------------------------------------------------------------------------------------
# Lists: tokens, users, audit log


def test_token_lists_hold_only_the_callers_tokens(world: World) -> None:
    w = world
    for cred, owner in (("alice", "alice"), ("bob", "bob"), ("carol", "carol"), ("dave", "dave")):
        r = w.call(cred, "GET", "/v1/me/tokens")
        assert r.status_code == 200, r.text
        listed = {t["tokenHash"] for t in r.json()["tokens"]}
        (mine,) = zip(
            *w.server.sql("SELECT token_hash FROM user_tokens WHERE user_id = %s", (w.users[owner],)), strict=True
        )
        assert listed == set(mine)
        for other, token in w.tokens.items():
            assert (hash_secret(token) in listed) == (OWNER[other] == owner), other
        assert "nm_" not in r.text  # never the plaintext


def test_admin_user_lists_stay_in_the_admins_tenant(world: World) -> None:
    w = world
    for admin, mine, theirs in (
        ("alice", ("alice", "bob"), ("carol", "dave")),
        ("carol", ("carol", "dave"), ("alice", "bob")),
    ):
        r = w.call(admin, "GET", "/v1/admin/users")
        assert r.status_code == 200, r.text
        listed = {u["id"] for u in r.json()["users"]}
        assert {w.users[n] for n in mine} <= listed
        for n in theirs:
            assert w.users[n] not in r.text
            assert email_of(w.server, w.users[n]) not in r.text
        tenant = "t1" if admin == "alice" else "t2"
        (in_tenant,) = zip(*w.server.sql("SELECT id FROM users WHERE tenant_id = %s", (tenant,)), strict=True)
        assert listed == set(in_tenant)
        # entry counts are the tenant's own
        counts = {u["id"]: u["entryCount"] for u in r.json()["users"]}
        for n in mine:
            (own,) = w.server.sql("SELECT count(*) FROM memory_entries WHERE user_id = %s", (w.users[n],))[0]
            assert counts[w.users[n]] == own


def test_audit_logs_stay_in_their_tenant(world: World) -> None:
    w = world
    names = {cred: f"audited-{cred}-{secrets.token_hex(3)}" for cred in ("alice", "carol")}
    made = {}
    for cred, name in names.items():
        r = w.call(cred, "POST", "/v1/me/projects", {"name": name})
        assert r.status_code == 201, r.text
        made[cred] = r.json()["id"]
    logs = {}
    for cred in ("alice", "carol"):
        r = w.call(cred, "GET", "/v1/admin/audit-log", params={"limit": 500})
        assert r.status_code == 200, r.text
        logs[cred] = r.text
        actions = [e for e in r.json()["entries"] if e["action"] == "project.create"]
        assert any(made[cred] in (e["target"] or "") or made[cred] in str(e["metadata"]) for e in actions)
    assert made["carol"] not in logs["alice"] and names["carol"] not in logs["alice"]
    assert made["alice"] not in logs["carol"] and names["alice"] not in logs["carol"]
    assert w.users["alice"] not in logs["carol"] and w.users["carol"] not in logs["alice"]
    for cred, project in made.items():
        assert w.call(cred, "DELETE", f"/v1/me/projects/{project}").status_code == 200
    # bob is no admin
    r = w.call("bob", "GET", "/v1/admin/audit-log")
    assert r.status_code == 403
    assert r.json() == {"error": ADMIN_ONLY}


def test_a_tenant_admin_is_no_server_admin(world: World) -> None:
    w = world
    for cred in ("alice", "carol"):
        r = w.call(cred, "GET", "/v1/admin/tenants")
        assert r.status_code in (403, 404), r.text
        assert "t2" not in r.text or cred == "carol"
        body = {
            "name": f"rogue-{cred}",
            "adminEmail": f"rogue-{secrets.token_hex(3)}@example.com",
            "adminPassword": "correct horse battery staple",
        }
        r = w.call(cred, "POST", "/v1/admin/tenants", body)
        assert r.status_code in (403, 404), r.text
    assert w.server.sql("SELECT count(*) FROM tenants WHERE name LIKE 'rogue-%%'") == [(0,)]
    assert w.server.sql("SELECT count(*) FROM users WHERE email LIKE 'rogue-%%'") == [(0,)]


# --------------------------------------------------------------------------------------------------
# Identity fields in bodies never choose whose data is written

IDENTITY_FIELDS = ("userId", "user_id", "tenantId", "tenant_id", "organizationId", "ownerUserId")


def _spoof(w: World, victim: str) -> dict[str, str]:
    return {
        "userId": w.users[victim],
        "user_id": w.users[victim],
        "tenantId": "t2",
        "tenant_id": "t2",
        "organizationId": "acme",
        "ownerUserId": w.users[victim],
    }


@pytest.mark.parametrize("route", ["/v1/remember", "/v1/capture", "/v1/session-recap", "/v1/me/import"])
def test_identity_fields_in_write_bodies_are_ignored(world: World, route: str) -> None:
    w = world
    marker = f"spoof{secrets.token_hex(4)}"
    text = _content(marker, "bob")
    spoof = _spoof(w, "alice")
    body: dict[str, Any] = {
        "/v1/remember": {"content": text, "force": True, **spoof},
        "/v1/capture": {"content": text, "force": True, **spoof},
        "/v1/session-recap": {"decisions": [text], "force": True, **spoof},
        "/v1/me/import": {"entries": [{"content": text, **spoof}], **spoof},
    }[route]
    r = w.call("bob", "POST", route, body)
    # ignoring the fields or refusing the body (strict schemas) are both fine; writing as alice is not
    assert r.status_code in (201, 400), r.text
    rows = w.server.sql("SELECT id, tenant_id, user_id FROM memory_entries WHERE content LIKE %s", (f"%{marker}%",))
    if r.status_code == 201:
        assert len(rows) == 1
        assert rows[0][1:] == ("t1", w.users["bob"])
        w.server.sql("DELETE FROM memory_entries WHERE id = %s", (rows[0][0],))
    else:
        assert rows == []


def test_identity_fields_in_other_bodies_are_ignored(world: World) -> None:
    w = world
    spoof = _spoof(w, "alice")
    # update: the row stays bob's
    b_g = w.entries["b_g"]
    before = entry_row(w.server, b_g)
    assert before is not None
    r = w.call("bob", "PUT", f"/v1/memories/{b_g}", {"namespace": "default", **spoof})
    assert r.status_code in (200, 400), r.text
    after = entry_row(w.server, b_g)
    assert after is not None and after[:3] == before[:3]
    # search: still bob's scope only
    r = _read(w, "bob", "search", spoof)
    assert r.status_code in (200, 400), r.text
    if r.status_code == 200:
        assert result_names(w, r.json()["results"]) == DEFAULT_VIEW["bob"]
    # a minted token belongs to its caller
    r = w.call("bob", "POST", "/v1/me/tokens", {"label": "spoofed", **spoof})
    assert r.status_code in (201, 400), r.text
    if r.status_code == 201:
        minted = r.json()["token"]
        assert r.json()["userId"] == w.users["bob"]
        assert w.server.sql(
            "SELECT tenant_id, user_id FROM user_tokens WHERE token_hash = %s", (hash_secret(minted),)
        ) == [("t1", w.users["bob"])]
        assert w.call("bob", "DELETE", f"/v1/me/tokens/{hash_secret(minted)}").json() == {"deleted": True}
    # a created project is owned by its caller, in the caller's tenant
    name = f"spoofed-{secrets.token_hex(3)}"
    r = w.call("bob", "POST", "/v1/me/projects", {"name": name, **spoof})
    assert r.status_code in (201, 400), r.text
    rows = w.server.sql("SELECT id, tenant_id, owner_user_id FROM projects WHERE name = %s", (name,))
    if r.status_code == 201:
        assert [row[1:] for row in rows] == [("t1", w.users["bob"])]
        assert w.call("bob", "DELETE", f"/v1/me/projects/{rows[0][0]}").status_code == 200
    else:
        assert rows == []
    # an admin creates users in their own tenant only
    email = f"made-by-carol-{secrets.token_hex(3)}@t2.example.com"
    r = w.call(
        "carol", "POST", "/v1/admin/users", {"email": email, "password": "correct horse battery", "tenantId": "t1"}
    )
    assert r.status_code in (201, 400), r.text
    rows = w.server.sql("SELECT tenant_id FROM users WHERE lower(email) = %s", (email,))
    assert rows == ([("t2",)] if r.status_code == 201 else [])


# --------------------------------------------------------------------------------------------------
# Credentials: uniform 401, and every token kind against every route class

ROUTE_CLASSES: dict[str, tuple[str, str, Any]] = {
    "read": ("POST", "/v1/search", {"query": TOPIC}),
    "read_get": ("GET", "/v1/stats", None),
    "write": ("POST", "/v1/remember", None),  # body made per call (distinct content)
    "update": ("PUT", "/v1/memories/{a_p}", {"metadata": {"touched": True}}),
    "forget": ("POST", "/v1/forget", {"id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}),
    "me_read": ("GET", "/v1/me/tokens", None),
    "me_write": ("POST", "/v1/me/projects", None),  # body made per call
    "me_mint": ("POST", "/v1/me/tokens", {"label": "matrix"}),
    "admin": ("GET", "/v1/admin/users", None),
    "admin_audit": ("GET", "/v1/admin/audit-log", None),
    "admin_revoke": ("POST", "/v1/admin/tokens/revoke", {"token": "nm_notarealtokennotarealtokennotarealtoken000"}),
    "rotate": ("POST", "/v1/auth/rotate-token", {}),
    "hygiene": ("POST", "/v1/hygiene", {"k": 5}),
    "evaluate": ("POST", "/v1/evaluate", {"suite": "core"}),
}

# (credential, route class, status, error string or None)
MATRIX = [
    *[(c, "read", 200, None) for c in ("alice", "alice_ro", "alice_p", "alice_q", "alice_cookie", "bob", "carol")],
    *[(c, "read_get", 200, None) for c in ("alice", "alice_ro", "alice_cookie", "bob", "carol")],
    *[(c, "read_get", 403, CONFINED) for c in ("alice_p", "alice_q")],
    *[(c, "write", 201, None) for c in ("alice", "alice_p", "alice_q", "alice_cookie", "bob", "carol")],
    ("alice_ro", "write", 403, READ_ONLY),
    *[(c, "hygiene", 200, None) for c in ("alice", "alice_ro", "alice_cookie", "bob", "carol")],
    *[(c, r, 403, CONFINED) for c in ("alice_p", "alice_q") for r in ("hygiene", "evaluate")],
    *[(c, "evaluate", 200, None) for c in ("alice", "alice_cookie", "bob", "carol")],
    ("alice_ro", "evaluate", 200, None),  # read-shaped: its self-checks never write
    *[(c, "update", 200, None) for c in ("alice", "alice_p", "alice_cookie", "bob")],
    ("alice_ro", "update", 403, READ_ONLY),
    *[(c, "forget", 200, None) for c in ("alice", "alice_p", "alice_cookie", "bob", "carol")],
    ("alice_ro", "forget", 403, READ_ONLY),
    *[(c, "me_read", 200, None) for c in ("alice", "alice_ro", "alice_p", "alice_q", "alice_cookie", "bob", "carol")],
    *[(c, "me_write", 201, None) for c in ("alice", "alice_cookie", "bob", "carol")],
    ("alice_ro", "me_write", 403, READ_ONLY),
    *[(c, "me_mint", 201, None) for c in ("alice", "alice_cookie", "bob", "carol")],
    *[(c, "me_mint", 403, RESTRICTED) for c in ("alice_ro", "alice_p", "alice_q")],
    *[(c, r, 200, None) for c in ("alice", "alice_cookie", "carol") for r in ("admin", "admin_audit", "admin_revoke")],
    *[
        (c, r, 403, RESTRICTED)
        for c in ("alice_ro", "alice_p", "alice_q")
        for r in ("admin", "admin_audit", "admin_revoke")
    ],
    *[(c, r, 403, ADMIN_ONLY) for c in ("bob", "dave") for r in ("admin", "admin_audit", "admin_revoke")],
]
# rotation (every token kind may rotate itself; the replacement keeps its restrictions) is
# `test_rotation_kills_the_old_token_at_once`: here it would kill the shared credentials


@pytest.mark.parametrize(("cred", "route", "status", "error"), MATRIX)
def test_token_kinds_against_route_classes(world: World, cred: str, route: str, status: int, error: str | None) -> None:
    w = world
    method, path, body = ROUTE_CLASSES[route]
    path = path.format(a_p=w.entries["a_p"] if cred != "bob" else w.entries["b_p"])
    if route == "write":
        body = {"content": _content(f"mx{secrets.token_hex(4)}", cred), "force": True}
    if route == "me_write":
        body = {"name": f"matrix-{secrets.token_hex(4)}"}
    r = w.call(cred, method, path, body)
    assert r.status_code == status, r.text
    if error is not None:
        assert r.json() == {"error": error}
    # tidy up what a successful call created
    if r.status_code == 201 and route == "me_write":
        assert w.call(cred, "DELETE", f"/v1/me/projects/{r.json()['id']}").status_code == 200
    if r.status_code == 201 and route == "me_mint":
        assert w.call(cred, "DELETE", f"/v1/me/tokens/{hash_secret(r.json()['token'])}").status_code == 200
    if r.status_code == 201 and route == "write":
        where = w.server.sql("SELECT project_id FROM memory_entries WHERE id = %s", (r.json()["id"],))
        expected_project = {"alice_p": w.projects["P"], "alice_q": w.projects["Q"]}.get(cred)
        assert where == [(expected_project,)]
        w.server.sql("DELETE FROM memory_entries WHERE id = %s", (r.json()["id"],))


# confined tokens: explicit other scope on writes and reads
@pytest.mark.parametrize(
    ("cred", "method", "path", "body"),
    [
        ("alice_p", "POST", "/v1/remember", {"content": "Confined token tries another project", "project": "Q"}),
        ("alice_q", "POST", "/v1/capture", {"content": "Confined token tries another project", "project": "P"}),
        ("alice_p", "POST", "/v1/search", {"query": TOPIC, "project": "Q"}),
        ("alice_p", "POST", "/v1/recent", {"includeProjects": ["P", "Q"]}),
        ("alice_q", "POST", "/v1/context", {"message": TOPIC, "project": "P"}),
        (
            "alice_p",
            "POST",
            "/v1/session-recap",
            {"decisions": ["Confined token tries another project"], "project": "Q"},
        ),
        ("alice_p", "PUT", "/v1/memories/{a_q}", {"metadata": {"x": 1}, "project": "Q"}),
        ("alice_p", "POST", "/v1/forget", {"id": "{a_q}", "project": "Q"}),
        ("alice_p", "POST", "/v1/me/tokens", {"label": "escape", "project": "Q"}),
    ],
)
def test_confined_tokens_cannot_leave_their_project(
    world: World, cred: str, method: str, path: str, body: dict[str, Any]
) -> None:
    w = world

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            value = value.replace("{a_q}", w.entries["a_q"])
            return w.projects.get(value, value) if value in ("P", "Q") else value
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return value

    before = w.server.sql("SELECT count(*) FROM memory_entries")
    r = w.call(cred, method, fill(path), fill(body))
    assert r.status_code == 403, r.text
    expected = RESTRICTED if path == "/v1/me/tokens" else CONFINED
    assert r.json() == {"error": expected}
    assert w.server.sql("SELECT count(*) FROM memory_entries") == before
    assert entry_row(w.server, w.entries["a_q"]) is not None


def test_bad_credentials_get_one_uniform_401(world: World) -> None:
    w = world
    server = w.server
    alice = w.users["alice"]
    banned = add_user(server, "t1", "mallory", banned=True)
    bad: dict[str, dict[str, str]] = {
        "none": {},
        "unknown": w.bearer(new_api_token()),
        "revoked": w.bearer(add_token(server, "t1", alice, revoked=True)),
        "expired": w.bearer(add_token(server, "t1", alice, expired=True)),
        "banned": w.bearer(add_token(server, "t1", banned)),
        "garbage": {"authorization": "Bearer garbage"},
        "no-prefix": {"authorization": f"Bearer {w.tokens['alice'][3:]}"},
        "truncated": {"authorization": f"Bearer {w.tokens['alice'][:-1]}"},
        "basic": {"authorization": f"Basic {w.tokens['alice']}"},
        "empty-bearer": {"authorization": "Bearer"},
        "hash-as-token": w.bearer(hash_secret(w.tokens["alice"])),
        "cookie-bad-signature": {"cookie": sign_session_token("another secret of 32+ characters!!", "x" * 32)},
        "cookie-garbage": {"cookie": "garbage"},
        "cookie-expired": {"cookie": add_session(server, "t1", alice, expired=True)},
        "cookie-banned": {"cookie": add_session(server, "t1", banned)},
    }
    w.creds.update({f"bad:{k}": v for k, v in bad.items()})
    routes = [ROUTE_CLASSES[r] for r in ("read", "read_get", "forget", "me_read", "me_mint", "admin", "rotate")]
    routes += [
        ("POST", "/v1/remember", {"content": "Nobody may store this without credentials"}),
        ("GET", "/v1/me/export", None),
        ("GET", "/v1/me/changes", None),
        ("GET", f"/v1/me/projects/{w.projects['P']}/members", None),
        ("DELETE", f"/v1/admin/users/{w.users['bob']}", None),
    ]
    before = server.sql("SELECT count(*) FROM memory_entries")
    for name in bad:
        for method, path, body in routes:
            r = w.call(f"bad:{name}", method, path, body)
            assert r.status_code == 401, (name, path, r.status_code, r.text)
            assert r.json() == UNAUTHORIZED, (name, path)
    assert server.sql("SELECT count(*) FROM memory_entries") == before
    assert server.sql("SELECT count(*) FROM users WHERE id = %s", (w.users["bob"],)) == [(1,)]


# --------------------------------------------------------------------------------------------------
# Revocation, rotation and member removal take effect on the next request


def test_token_revocation_bites_on_the_next_request(world: World) -> None:
    w = world
    minted = w.call("bob", "POST", "/v1/me/tokens", {"label": "short-lived"})
    assert minted.status_code == 201, minted.text
    token = minted.json()["token"]
    w.creds["bob_minted"] = w.bearer(token)
    assert w.call("bob_minted", "POST", "/v1/recent", {}).status_code == 200
    assert w.call("bob", "DELETE", f"/v1/me/tokens/{hash_secret(token)}").json() == {"deleted": True}
    r = w.call("bob_minted", "POST", "/v1/recent", {})
    assert (r.status_code, r.json()) == (401, UNAUTHORIZED)
    # revoked tokens stay listed as revoked
    listed = {t["tokenHash"]: t for t in w.call("bob", "GET", "/v1/me/tokens").json()["tokens"]}
    assert listed[hash_secret(token)]["revoked"] is True

    # an admin kills a leaked token of their tenant by its plaintext
    leaked = add_token(w.server, "t1", w.users["bob"])
    w.creds["bob_leaked"] = w.bearer(leaked)
    assert w.call("bob_leaked", "GET", "/v1/me/tokens").status_code == 200
    r = w.call("alice", "POST", "/v1/admin/tokens/revoke", {"token": leaked})
    assert r.status_code == 200 and r.json()["revoked"] is True, r.text
    r = w.call("bob_leaked", "GET", "/v1/me/tokens")
    assert (r.status_code, r.json()) == (401, UNAUTHORIZED)

    # expiry is checked on every request too
    expiring = add_token(w.server, "t1", w.users["bob"])
    w.creds["bob_expiring"] = w.bearer(expiring)
    assert w.call("bob_expiring", "POST", "/v1/recent", {}).status_code == 200
    w.server.sql("UPDATE user_tokens SET expires_at = now() WHERE token_hash = %s", (hash_secret(expiring),))
    r = w.call("bob_expiring", "POST", "/v1/recent", {})
    assert (r.status_code, r.json()) == (401, UNAUTHORIZED)


@pytest.mark.parametrize("scope", ["full", "read_only", "confined"])
def test_rotation_kills_the_old_token_at_once(world: World, scope: str) -> None:
    w = world
    project = w.projects["P"] if scope == "confined" else None
    old = add_token(
        w.server, "t1", w.users["bob"], scope="read_only" if scope == "read_only" else "full", project=project
    )
    w.creds["rotating"] = w.bearer(old)
    r = w.call("rotating", "POST", "/v1/auth/rotate-token", {})
    # every kind rotates itself (reference 3.6); the replacement keeps the same restrictions
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["userId"] == w.users["bob"]
    new = body["token"]
    assert new != old and new.startswith("nm_")
    assert (w.call("rotating", "POST", "/v1/recent", {}).status_code) == 401
    w.creds["rotated"] = w.bearer(new)
    assert w.call("rotated", "POST", "/v1/recent", {}).status_code == 200
    row = w.server.sql(
        "SELECT tenant_id, user_id, scope, project_id FROM user_tokens WHERE token_hash = %s", (hash_secret(new),)
    )
    assert row == [("t1", w.users["bob"], "read_only" if scope == "read_only" else "full", project)]
    # rotating a dead token is a plain 401
    r = w.call("rotating", "POST", "/v1/auth/rotate-token", {})
    assert (r.status_code, r.json()) == (401, UNAUTHORIZED)


def test_member_removal_bites_on_the_next_request(world: World) -> None:
    """frank owns F, erin is a member with a full and an F-confined token; frank removes erin."""
    w = world
    frank, erin = add_user(w.server, "t1", "frank"), add_user(w.server, "t1", "erin")
    f = add_project(w.server, "t1", "frank-team", frank, (erin,))
    w.creds["frank"] = w.bearer(add_token(w.server, "t1", frank))
    w.creds["erin"] = w.bearer(add_token(w.server, "t1", erin))
    w.creds["erin_f"] = w.bearer(add_token(w.server, "t1", erin, project=f))
    wrote = w.call(
        "erin", "POST", "/v1/remember", {"content": _content("erinnote", "erin"), "force": True, "project": f}
    )
    assert wrote.status_code == 201, wrote.text
    note = wrote.json()["id"]
    r = w.call("erin_f", "POST", "/v1/recent", {})
    assert r.status_code == 200 and note in r.text
    assert w.call("erin", "GET", f"/v1/me/projects/{f}/members").status_code == 200
    # erin is the one being removed; the owner cannot leave
    r = w.call("frank", "DELETE", f"/v1/me/projects/{f}/members/{frank}")
    assert r.status_code == 400, r.text
    r = w.call("frank", "DELETE", f"/v1/me/projects/{f}/members/{erin}")
    assert r.status_code == 200 and r.json()["removed"] is True, r.text

    r = w.call("erin", "POST", "/v1/search", {"query": TOPIC, "project": f})
    assert r.status_code == 403
    assert r.json()["error"].startswith("not a member of project")
    r = w.call("erin_f", "POST", "/v1/recent", {})
    assert (r.status_code, r.json()) == (403, {"error": "not a member of the token's project"})
    r = w.call("erin", "PUT", f"/v1/memories/{note}", {"metadata": {"after": "removal"}})
    assert r.status_code == 404
    r = w.call("erin", "POST", "/v1/forget", {"id": note})
    assert r.json() == {"deleted": False, "coldDeleteOk": True}
    assert w.call("erin", "GET", f"/v1/me/projects/{f}/members").status_code in (403, 404)
    r = w.call("erin", "POST", "/v1/recent", {"k": 200})
    assert r.status_code == 200 and note not in r.text
    # the entry is the project's, and stays: frank still sees it
    r = w.call("frank", "POST", "/v1/recent", {"project": f})
    assert r.status_code == 200 and note in r.text


def test_active_project_is_dropped_when_membership_ends(world: World) -> None:
    w = world
    gina, owner = add_user(w.server, "t1", "gina"), add_user(w.server, "t1", "hank")
    g = add_project(w.server, "t1", "hank-team", owner, (gina,))
    w.creds["gina"] = w.bearer(add_token(w.server, "t1", gina))
    w.creds["hank"] = w.bearer(add_token(w.server, "t1", owner))
    r = w.call("gina", "PUT", "/v1/me/active-project", {"project": g})
    assert r.status_code == 200, r.text
    wrote = w.call("gina", "POST", "/v1/remember", {"content": _content("ginanote", "gina"), "force": True})
    assert wrote.status_code == 201
    assert w.server.sql("SELECT project_id FROM memory_entries WHERE id = %s", (wrote.json()["id"],)) == [(g,)]
    assert w.call("hank", "DELETE", f"/v1/me/projects/{g}/members/{gina}").status_code == 200
    # the next write no longer lands in the project, and reads no longer include it
    wrote = w.call("gina", "POST", "/v1/remember", {"content": _content("ginanote2", "gina"), "force": True})
    assert wrote.status_code == 201
    assert w.server.sql("SELECT project_id FROM memory_entries WHERE id = %s", (wrote.json()["id"],)) == [(None,)]
    r = w.call("gina", "GET", "/v1/me/active-project")
    assert r.status_code == 200 and r.json() == {"active": None}
