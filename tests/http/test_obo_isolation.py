"""On-behalf-of callers across two organizations and two subjects each, beside an ordinary user (HTTP and MCP).

One user-mode server with the built-in embedder. The admin registers one key per organization through the admin
API; tokens are minted here with `cryptography` as a platform would. `alice` exists in both organizations: the
same subject in another organization is another person. Then:

- every data-plane route and MCP tool shows each identity only its own entries, and the same content stored by
  every identity stays five entries (dedupe never crosses an identity);
- another identity's entry id answers exactly like an unknown id (PUT 404, forget `deleted:false`, neighbors empty);
- entries record the composite owner `org:<org>/<sub>` and the organization, whatever the body says;
- the data layer matches the organization too: rows whose user id collides but whose organization differs
  stay invisible (arranged with SQL, the only thing done outside HTTP);
- every malformed token answers the uniform 401, and the surfaces OBO callers never reach answer 403.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.conftest import RunningServer
from tests.http.obo import UNAUTHORIZED, Admin, bearer, mint, settle_admin, start

TOPIC = "quartz lanterns"
SHARED = "Shared fact: the office kettle is painted cobalt blue and hums."
ON_BEHALF_REFUSED = "not available to on-behalf-of tokens"
NO_PROJECTS = "on-behalf-of tokens cannot use projects"
ACCEPT = "application/json, text/event-stream"
# each identity's own word, found in every entry it stores and nowhere else
WORDS = {
    "acme/alice": "amberfox",
    "acme/bob": "bluecrane",
    "globex/alice": "cedarowl",
    "globex/carol": "dunemoth",
    "olga": "emberyak",
}


@dataclass
class Identity:
    name: str
    token: str
    owner: str  # the user id its entries carry
    organization: str | None
    ids: list[str] = field(default_factory=list)

    @property
    def word(self) -> str:
        return WORDS[self.name]

    def client(self, server: RunningServer) -> httpx.Client:
        return bearer(server, self.token)


@dataclass
class World:
    server: RunningServer
    admin: Admin
    keys: dict[str, tuple[Ed25519PrivateKey, str]]
    people: dict[str, Identity]

    def others(self, me: Identity) -> list[Identity]:
        return [p for p in self.people.values() if p is not me]

    def token(self, org: str, sub: str, **kwargs: Any) -> str:
        private, kid = self.keys[org]
        return mint(private, kid, org=org, sub=sub, **kwargs)


@pytest.fixture(scope="module")
def world(make_database: Callable[[], str]) -> Iterator[World]:
    server = start(make_database())
    try:
        admin = settle_admin(server)
        keys = {org: admin.register_key(server, org, f"{org} platform") for org in ("acme", "globex")}
        people: dict[str, Identity] = {}
        for name in ("acme/alice", "acme/bob", "globex/alice", "globex/carol"):
            org, sub = name.split("/")
            private, kid = keys[org]
            token = mint(private, kid, org=org, sub=sub, lifetime=900)
            people[name] = Identity(name, token, f"org:{org}/{sub}", org)
        olga_id, olga_token = admin.create_user(server, "olga")
        people["olga"] = Identity("olga", olga_token, olga_id, None)
        world = World(server, admin, keys, people)
        _seed(world)
        yield world
    finally:
        server.stop()


def _seed(world: World) -> None:
    """Every identity writes through remember, capture and session-recap (and the same shared fact)."""
    for person in world.people.values():
        w = person.word
        with person.client(world.server) as api:
            writes = [
                ("/v1/remember", {"content": f"{TOPIC}: {w} keeps the spare keys in the blue drawer"}),
                ("/v1/remember", {"content": f"{TOPIC}: {w} prefers green tea over coffee in the morning"}),
                ("/v1/capture", {"content": f"{TOPIC}: {w} deploys the garden service with make ship"}),
                ("/v1/remember", {"content": SHARED}),
            ]
            for path, body in writes:
                r = api.post(path, json=body)
                assert r.status_code == 201, r.text
                assert r.json()["id"] and not r.json().get("deduplicated"), r.text
                person.ids.append(r.json()["id"])
            recap = api.post("/v1/session-recap", json={"decisions": [f"{TOPIC}: {w} chose sqlite for the cache"]})
            assert recap.status_code == 201, recap.text
            person.ids.extend(item["id"] for item in recap.json()["results"])


def _text(response: httpx.Response) -> str:
    return response.text.lower()


def _assert_only_own(world: World, me: Identity, response: httpx.Response) -> None:
    """No other identity's word appears in the answer."""
    assert response.status_code in (200, 201), response.text
    body = _text(response)
    for other in world.others(me):
        assert other.word not in body, (me.name, other.name, response.text[:400])


def _ids(results: list[dict[str, Any]]) -> set[str]:
    return {r["id"] for r in results}


# ---- storage ---------------------------------------------------------------------------------------------------


def test_entries_record_the_composite_owner_and_the_organization(world: World) -> None:
    for person in world.people.values():
        rows = world.server.sql(
            "SELECT DISTINCT tenant_id, user_id, organization_id FROM memory_entries WHERE id = ANY(%s)",
            (person.ids,),
        )
        assert rows == [("default", person.owner, person.organization)], person.name


def test_the_same_content_is_one_entry_per_identity(world: World) -> None:
    rows = world.server.sql("SELECT user_id FROM memory_entries WHERE content = %s", (SHARED,))
    assert sorted(r[0] for r in rows) == sorted(p.owner for p in world.people.values())
    for person in world.people.values():  # a second write is a duplicate of one's own entry only
        with person.client(world.server) as api:
            r = api.post("/v1/remember", json={"content": SHARED})
        assert r.json()["deduplicated"] is True and r.json()["id"] == person.ids[3], person.name


def test_identity_fields_in_bodies_are_ignored(world: World) -> None:
    alice, olga = world.people["acme/alice"], world.people["olga"]
    body = {
        "content": f"{TOPIC}: {alice.word} tried to write as someone else today",
        "userId": olga.owner,
        "organizationId": "globex",
        "tenantId": "other",
    }
    with alice.client(world.server) as api:
        r = api.post("/v1/remember", json=body)
    assert r.status_code == 201, r.text
    rows = world.server.sql("SELECT user_id, organization_id FROM memory_entries WHERE id = %s", (r.json()["id"],))
    assert rows == [(alice.owner, "acme")]
    alice.ids.append(r.json()["id"])


# ---- the REST data plane ---------------------------------------------------------------------------------------


def test_search_context_and_recent_show_only_ones_own(world: World) -> None:
    for me in world.people.values():
        with me.client(world.server) as api:
            search = api.post("/v1/search", json={"query": f"{TOPIC} {SHARED}", "k": 100})
            _assert_only_own(world, me, search)
            found = _ids(search.json()["results"])
            assert found and found <= set(me.ids), me.name
            context = api.post("/v1/context", json={"message": f"what about {TOPIC}?", "k": 50})
            _assert_only_own(world, me, context)
            assert _ids(context.json()["relevant"]["results"]) <= set(me.ids)
            recent = api.post("/v1/recent", json={"k": 200})
            _assert_only_own(world, me, recent)
            assert _ids(recent.json()["results"]) == set(me.ids), me.name


def test_stats_count_only_ones_own(world: World) -> None:
    for me in world.people.values():
        with me.client(world.server) as api:
            stats = api.get("/v1/stats")
        assert stats.status_code == 200, stats.text
        [(count,)] = world.server.sql("SELECT count(*) FROM memory_entries WHERE user_id = %s", (me.owner,))
        assert stats.json()["totalWarm"] + stats.json()["totalCold"] == count, me.name


def test_neighbors_walk_only_ones_own_graph(world: World) -> None:
    for me in world.people.values():
        with me.client(world.server) as api:
            own = api.post("/v1/neighbors", json={"id": me.ids[0], "depth": 3, "k": 50})
            _assert_only_own(world, me, own)
            assert _ids(own.json()["results"]) <= set(me.ids)
            for other in world.others(me):
                foreign = api.post("/v1/neighbors", json={"id": other.ids[0], "depth": 3, "k": 50})
                assert (foreign.status_code, foreign.json()["results"]) == (200, []), (me.name, other.name)
    edges = world.server.sql(
        "SELECT count(*) FROM memory_relations r JOIN memory_entries a ON a.id = r.from_id"
        " JOIN memory_entries b ON b.id = r.to_id WHERE a.user_id <> b.user_id"
        " OR a.organization_id IS DISTINCT FROM b.organization_id"
    )
    assert edges == [(0,)]
    linked = world.server.sql(
        "SELECT count(*) FROM memory_relations r JOIN memory_entries a ON a.id = r.from_id"
        " WHERE a.organization_id IS NOT NULL"
    )
    assert linked[0][0] > 0  # OBO entries are linked among themselves


def test_diagnostics_see_only_ones_own(world: World) -> None:
    for me in world.people.values():
        with me.client(world.server) as api:
            _assert_only_own(world, me, api.post("/v1/hygiene", json={"k": 100}))
            _assert_only_own(world, me, api.post("/v1/evaluate", json={}))
            _assert_only_own(world, me, api.post("/v1/adoption", json={"client": "claudeCode"}))


def test_another_identitys_entry_is_like_an_unknown_id(world: World) -> None:
    for me in world.people.values():
        with me.client(world.server) as api:
            for other in world.others(me):
                victim = other.ids[0]
                put = api.put(f"/v1/memories/{victim}", json={"content": f"{me.word} overwrote this entry"})
                assert (put.status_code, put.json()) == (404, {"error": "no such memory in your scope"})
                gone = api.post("/v1/forget", json={"id": victim})
                assert (gone.status_code, gone.json()) == (200, {"deleted": False, "coldDeleteOk": True})
    for person in world.people.values():
        assert world.server.sql("SELECT count(*) FROM memory_entries WHERE id = %s", (person.ids[0],)) == [(1,)]


def test_update_and_forget_ones_own(world: World) -> None:
    for me in world.people.values():
        with me.client(world.server) as api:
            target = me.ids[1]
            put = api.put(f"/v1/memories/{target}", json={"content": f"{TOPIC}: {me.word} now prefers rooibos tea"})
            assert put.status_code == 200 and put.json()["updated"] is True, put.text
            stored = world.server.sql(
                "SELECT user_id, organization_id, content FROM memory_entries WHERE id = %s", (target,)
            )
            assert stored == [(me.owner, me.organization, f"{TOPIC}: {me.word} now prefers rooibos tea")]
            extra = api.post("/v1/remember", json={"content": f"{TOPIC}: {me.word} will forget this note soon"})
            gone = api.post("/v1/forget", json={"id": extra.json()["id"]})
            assert gone.json() == {"deleted": True, "coldDeleteOk": True}, me.name


def test_forget_by_source_stays_in_ones_scope(world: World) -> None:
    ref = "ticket:OBO-1"
    for me in world.people.values():
        with me.client(world.server) as api:
            r = api.post(
                "/v1/remember", json={"content": f"{TOPIC}: {me.word} filed the obo ticket", "sourceRefs": [ref]}
            )
            assert r.status_code == 201, r.text
    first, *rest = world.people.values()
    with first.client(world.server) as api:
        gone = api.post("/v1/forget", json={"sourceRef": ref})
    assert gone.json()["count"] == 1, gone.text
    for person in rest:
        rows = world.server.sql(
            "SELECT count(*) FROM memory_entries e JOIN memory_source_refs r ON r.entry_id = e.id"
            " WHERE r.source_ref = %s AND e.user_id = %s",
            (ref, person.owner),
        )
        assert rows == [(1,)], person.name


def test_the_data_layer_also_matches_the_organization(world: World) -> None:
    """Rows whose owner collides but whose organization differs are invisible (defence in depth)."""
    alice, olga = world.people["acme/alice"], world.people["olga"]
    planted = {
        "colliding-user": (alice.owner, None, f"{TOPIC}: planted under alice's id without an organization"),
        "foreign-org": (alice.owner, "globex", f"{TOPIC}: planted under alice's id in another organization"),
        "olga-in-org": (olga.owner, "acme", f"{TOPIC}: planted under olga's id inside an organization"),
    }
    for entry_id, (owner, org, content) in planted.items():
        world.server.sql(
            "INSERT INTO memory_entries (id, tenant_id, user_id, scope_key, organization_id, content, content_hash)"
            " VALUES (%s, 'default', %s, %s, %s, %s, md5(%s))",
            (f"PLANTED{entry_id}", owner, f"u:{owner}", org, content, content),
        )
    try:
        for me in (alice, olga):
            with me.client(world.server) as api:
                recent = api.post("/v1/recent", json={"k": 200}).json()["results"]
                search = api.post("/v1/search", json={"query": "planted under", "k": 50}).json()["results"]
                assert not [r for r in recent + search if r["id"].startswith("PLANTED")], me.name
                for entry_id in planted:
                    put = api.put(f"/v1/memories/PLANTED{entry_id}", json={"content": "taken over by someone"})
                    assert put.status_code == 404
                    assert api.post("/v1/forget", json={"id": f"PLANTED{entry_id}"}).json()["deleted"] is False
        assert world.server.sql("SELECT count(*) FROM memory_entries WHERE id LIKE 'PLANTED%%'") == [(3,)]
    finally:
        world.server.sql("DELETE FROM memory_entries WHERE id LIKE 'PLANTED%%'")


# ---- MCP -------------------------------------------------------------------------------------------------------


class Mcp:
    """A raw MCP client over one bearer, with the session it opened."""

    def __init__(self, server: RunningServer, token: str) -> None:
        self.url = f"{server.base_url}/mcp"
        self.headers = {"accept": ACCEPT, "content-type": "application/json", "authorization": f"Bearer {token}"}
        self.session: dict[str, str] = {}

    def post(self, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(self.url, content=json.dumps(body), headers={**self.headers, **self.session}, timeout=60)

    def open(self) -> Mcp:
        init = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        }
        response = self.post(init)
        assert response.status_code == 200, response.text
        self.session = {"mcp-session-id": response.headers["mcp-session-id"], "mcp-protocol-version": "2025-06-18"}
        return self

    def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        body = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
        response = self.post(body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()["result"]
        return result


def test_mcp_tools_show_only_ones_own(world: World) -> None:
    reads: list[tuple[str, dict[str, Any]]] = [
        ("memory_search", {"query": TOPIC, "k": 100}),
        ("memory_context", {"message": f"tell me about {TOPIC}"}),
        ("memory_recent", {"k": 200}),
        ("memory_today", {"k": 200}),
        ("memory_stats", {}),
        ("memory_hygiene", {"k": 100}),
    ]
    for me in world.people.values():
        mcp = Mcp(world.server, me.token).open()
        for tool, arguments in reads:
            result = mcp.call(tool, arguments)
            assert not result.get("isError"), (tool, result)
            text = json.dumps(result).lower()
            for other in world.others(me):
                assert other.word not in text, (me.name, tool, other.name)
        recent = mcp.call("memory_recent", {"k": 200})["structuredContent"]["results"]
        assert recent and _ids(recent).isdisjoint({i for o in world.others(me) for i in o.ids})
        neighbors = mcp.call("memory_neighbors", {"id": world.others(me)[0].ids[0]})["structuredContent"]
        assert neighbors["results"] == []
        stored = mcp.call("memory_remember", {"content": f"{TOPIC}: {me.word} wrote this over mcp"})
        new_id = stored["structuredContent"]["id"]
        rows = world.server.sql("SELECT user_id, organization_id FROM memory_entries WHERE id = %s", (new_id,))
        assert rows == [(me.owner, me.organization)]
        foreign = mcp.call("memory_update", {"id": world.others(me)[0].ids[0], "content": "overwritten via mcp"})
        assert foreign.get("isError"), foreign
        forgot = mcp.call("memory_forget", {"id": world.others(me)[0].ids[0]})
        assert forgot["structuredContent"]["deleted"] is False


def test_mcp_project_tools_are_refused(world: World) -> None:
    mcp = Mcp(world.server, world.people["acme/bob"].token).open()
    for tool, arguments in [("project_list", {}), ("project_create", {"name": "obo project"})]:
        result = mcp.call(tool, arguments)
        assert result.get("isError") and ON_BEHALF_REFUSED in json.dumps(result), (tool, result)
    search = mcp.call("memory_search", {"query": TOPIC, "project": "anything"})
    assert search.get("isError") and NO_PROJECTS in json.dumps(search)


# ---- refusals --------------------------------------------------------------------------------------------------


def _malformed(world: World) -> dict[str, str]:
    acme_private, acme_kid = world.keys["acme"]
    other_private = Ed25519PrivateKey.generate()
    good = world.token("acme", "alice")
    head, body, signature = good.split(".")
    tampered_body = mint(acme_private, acme_kid, org="acme", sub="bob").split(".")[1]
    return {
        "bad signature": mint(other_private, acme_kid, org="acme", sub="alice"),
        "tampered claims": f"{head}.{tampered_body}.{signature}",
        "truncated signature": f"{head}.{body}.{signature[:40]}",
        "unknown kid": mint(acme_private, "01JUNKNOWNKID0000000000000", org="acme", sub="alice"),
        "missing kid": world.token("acme", "alice", header={"kid": None}),
        "wrong aud": world.token("acme", "alice", aud="other-service"),
        "aud list without novamem": world.token("acme", "alice", aud=["a", "b"]),
        "missing aud": world.token("acme", "alice", aud=None),
        "org mismatch": world.token("acme", "alice", claims={"org": "globex"}),
        "missing org": world.token("acme", "alice", claims={"org": None}),
        "org default": world.token("acme", "alice", claims={"org": "default"}),
        "expired": world.token("acme", "alice", issued_offset=-1000),
        "expired past the leeway": world.token("acme", "alice", issued_offset=-335),
        "iat in future": world.token("acme", "alice", issued_offset=120),
        "lifetime over 15 min": world.token("acme", "alice", lifetime=901),
        "lifetime zero": world.token("acme", "alice", lifetime=0),
        "exp before iat": world.token("acme", "alice", lifetime=-60),
        "iat not a number": world.token("acme", "alice", claims={"iat": "now"}),
        "exp missing": world.token("acme", "alice", claims={"exp": None}),
        "bad sub": world.token("acme", "-alice"),
        "sub with space": world.token("acme", "alice smith"),
        "sub too long": world.token("acme", "a" * 129),
        "sub not a string": world.token("acme", "alice", claims={"sub": 42}),
        "alg none": world.token("acme", "alice", header={"alg": "none"}).rsplit(".", 1)[0] + ".",
        "alg none signed": world.token("acme", "alice", header={"alg": "none"}),
        "alg HS256": world.token("acme", "alice", header={"alg": "HS256"}),
        "crit header": world.token("acme", "alice", header={"crit": ["exp"]}),
        "garbage": "not-a-token",
        "garbage with dots": "a.b.c",
        "json garbage": "eyJ9.eyJ9.AAAA",
        "padded parts": f"{head}=.{body}.{signature}",
    }


def test_every_malformed_token_answers_the_uniform_401(world: World) -> None:
    for case, token in _malformed(world).items():
        with bearer(world.server, token) as api:
            r = api.post("/v1/recent", json={})
            assert (r.status_code, r.json()) == UNAUTHORIZED, case
            r = api.post("/v1/remember", json={"content": f"{TOPIC}: written with a malformed token"})
            assert (r.status_code, r.json()) == UNAUTHORIZED, case
    response = httpx.post(
        f"{world.server.base_url}/mcp",
        content=json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        headers={"accept": ACCEPT, "content-type": "application/json", "authorization": "Bearer a.b.c"},
    )
    assert response.status_code == 401


def test_the_clock_leeway_admits_small_skew(world: World) -> None:
    for token in (
        world.token("acme", "alice", issued_offset=-310),  # expired 10 s ago, inside the 30 s leeway
        world.token("acme", "alice", issued_offset=20),  # issued 20 s in the future
        world.token("acme", "alice", lifetime=900),  # exactly fifteen minutes
        world.token("acme", "alice", aud=["billing", "novamem"]),
    ):
        with bearer(world.server, token) as api:
            assert api.post("/v1/recent", json={}).status_code == 200


def test_forbidden_surfaces_answer_403(world: World) -> None:
    me = world.people["globex/carol"]
    forbidden: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", "/v1/admin/users", None),
        ("GET", "/v1/admin/service-keys", None),
        ("POST", "/v1/admin/service-keys", {"name": "x", "organizationId": "globex", "publicKey": "A" * 43}),
        ("GET", "/v1/admin/audit-log", None),
        ("GET", "/v1/me/tokens", None),
        ("POST", "/v1/me/tokens", {"label": "escalate"}),
        ("GET", "/v1/me/projects", None),
        ("POST", "/v1/me/projects", {"name": "obo project"}),
        ("GET", "/v1/me/export", None),
        ("GET", "/v1/me/usage", None),
        ("POST", "/v1/auth/rotate-token", None),
    ]
    with me.client(world.server) as api:
        for method, path, body in forbidden:
            r = api.request(method, path, json=body)
            assert (r.status_code, r.json()) == (403, {"error": ON_BEHALF_REFUSED}), (method, path, r.text)
        projects: list[tuple[str, str, dict[str, Any]]] = [
            ("POST", "/v1/search", {"query": TOPIC, "project": "anything"}),
            ("POST", "/v1/search", {"query": TOPIC, "includeProjects": ["anything"]}),
            ("POST", "/v1/recent", {"project": "anything"}),
            ("POST", "/v1/context", {"message": TOPIC, "includeProjects": ["anything"]}),
            ("POST", "/v1/remember", {"content": f"{TOPIC}: {me.word} into a project", "project": "anything"}),
            ("POST", "/v1/capture", {"content": f"{TOPIC}: {me.word} into a project", "project": "anything"}),
            ("POST", "/v1/forget", {"id": me.ids[0], "project": "anything"}),
            ("PUT", f"/v1/memories/{me.ids[0]}", {"content": "moved", "project": "anything"}),
        ]
        for method, path, body in projects:
            r = api.request(method, path, json=body)
            assert (r.status_code, r.json()) == (403, {"error": NO_PROJECTS}), (method, path, r.text)
        dashboard = api.get("/admin/", headers={"accept": "text/html"})
        assert dashboard.status_code == 403 and ON_BEHALF_REFUSED[1:] in dashboard.text  # shown capitalised
        for path in ("/admin", "/admin/memories"):
            assert api.get(path).status_code == 403, path
        # the hidden role gates stay hidden: an OBO caller is neither an operator nor an admin
        decay = api.post("/v1/decay", json={})
        assert (decay.status_code, decay.json()) == UNAUTHORIZED
        deep = api.get("/v1/admin/health/deep")
        assert (deep.status_code, deep.json()) == UNAUTHORIZED
