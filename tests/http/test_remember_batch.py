"""`POST /v1/remember/batch` (extension): many raw writes in one call, in every auth mode, over real HTTP.

Each entry gets the guards of a single `POST /v1/remember`: worthiness gate, length cap (the bulk path
splits), sensitivity, exact dedup (also inside the batch), quotas, sourceRefs, expiresAt, project and
namespace scoping; a read-only token is refused. The server embeds with the local OpenAI-compatible fake.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from novamem.error_messages import NO_SUCH_PROJECT, READ_ONLY_TOKEN, REJECTED_TOO_SHORT
from tests.conftest import RunningServer, start_server
from tests.fake_embedder import DIM, FakeEmbeddingServer
from tests.http.identities import COOKIE_SECRET, add_project, add_user, mint

BEARER_TOKEN = "batch-bearer-token-for-tests-0123456789"
MAX_CHARS = 300
MODES = ["none", "bearer", "user", "tenant"]
ROUTE = "/v1/remember/batch"
NO_PROJECT = NO_SUCH_PROJECT.format(ref="no-such-project")


class ModeServer:
    """A server in one auth mode and the headers of a full-scope caller there."""

    def __init__(self, server: RunningServer, headers: dict[str, str], tenant: str, user: str | None) -> None:
        self.server = server
        self.headers = headers
        self.tenant = tenant
        self.user = user

    def client(self, headers: dict[str, str] | None = None) -> httpx.Client:
        return self.server.client(headers=self.headers if headers is None else headers)

    def batch(self, entries: list[dict[str, Any]], headers: dict[str, str] | None = None) -> httpx.Response:
        with self.client(headers) as api:
            return api.post(ROUTE, json={"entries": entries})

    def count(self) -> int:
        return int(self.server.sql("SELECT count(*) FROM memory_entries")[0][0])


def _start(mode: str, database_url: str, embedder: FakeEmbeddingServer) -> ModeServer:
    env: dict[str, Any] = {
        "auth_mode": mode,
        "jobs_enabled": False,
        "max_content_chars": MAX_CHARS,
        "embeddings_provider": "openai-compatible",
        "embeddings_endpoint": embedder.url,
        "embeddings_model": "fake-hash",
        "embeddings_dim": DIM,
    }
    if mode == "bearer":
        env["auth_token"] = BEARER_TOKEN
    if mode in ("user", "tenant"):
        env.update(cookie_secret=COOKIE_SECRET, insecure_cookies=True)
    server = start_server(database_url, **env)
    if mode == "none":
        return ModeServer(server, {}, "default", None)
    if mode == "bearer":
        return ModeServer(server, {"authorization": f"Bearer {BEARER_TOKEN}"}, "default", None)
    tenant = "default" if mode == "user" else "t-batch"
    server.sql("INSERT INTO tenants (id, name) VALUES (%s, %s) ON CONFLICT DO NOTHING", (tenant, tenant))
    user = add_user(server, "writer", tenant=tenant)
    return ModeServer(server, {"authorization": f"Bearer {mint(server, user, tenant=tenant)}"}, tenant, user)


@pytest.fixture(scope="module")
def servers(make_database: Callable[[], str], fake_embedder: FakeEmbeddingServer) -> Iterator[dict[str, ModeServer]]:
    """One server per auth mode, each started the first time a test asks for it."""
    started: dict[str, ModeServer] = {}

    class Lazy(dict[str, ModeServer]):
        def __missing__(self, mode: str) -> ModeServer:
            started[mode] = self[mode] = _start(mode, make_database(), fake_embedder)
            return started[mode]

    fake_embedder.down = False
    yield Lazy()
    for running in started.values():
        running.server.stop()


@pytest.fixture
def fresh(servers: dict[str, ModeServer]) -> Callable[[str], ModeServer]:
    """The server of a mode, with no memories and no quota counters left by an earlier test."""

    def get(mode: str) -> ModeServer:
        s = servers[mode]
        s.server.sql("TRUNCATE memory_entries, memory_changes, rate_counters CASCADE")
        return s

    return get


def _fact(tag: str) -> str:
    return f"Batch fact {tag}: the staging database listens on port {5400 + len(tag)} behind the bastion"


@pytest.mark.parametrize("mode", MODES)
def test_each_entry_gets_the_rules_of_a_single_remember(fresh: Callable[[str], ModeServer], mode: str) -> None:
    s = fresh(mode)
    with s.client() as api:
        earlier = api.post("/v1/remember", json={"content": _fact("stored-before"), "namespace": "notes"})
    assert earlier.status_code == 201, earlier.text
    long_text = " ".join(f"Sentence {i} of the long transcript explains one more setup detail." for i in range(12))
    entries: list[dict[str, Any]] = [
        {"content": _fact("one"), "namespace": "notes"},
        {"content": "ok"},  # the worthiness gate rejects it
        {"content": _fact("two"), "sensitivity": "public", "sourceRefs": ["chat:42"]},
        {"content": f"  {_fact('one')}  ", "namespace": "notes"},  # the same fact again, inside the batch
        {"content": _fact("stored-before"), "namespace": "notes"},  # a fact stored by an earlier call
        {"content": "The deploy key is sk-live-0123456789abcdefghijklmnopqrstuv for the build"},
        {"content": _fact("expiring"), "expiresAt": "2099-01-01T00:00:00Z"},
        {"content": "ok fine", "force": True},  # force skips the gate (the length cap still applies)
        {"content": long_text},  # over the length cap: split into pieces on the bulk path
    ]
    r = s.batch(entries)
    assert r.status_code == 201, r.text
    body = r.json()
    results = body["results"]
    assert len(results) == len(entries)
    first, filler, two, twin, again, secret, expiring, forced, split = results
    assert first["id"] and first["embedded"] is True and "deduplicated" not in first
    assert filler == {"id": None, "rejected": REJECTED_TOO_SHORT}
    assert twin == {"id": first["id"], "deduplicated": True, "embedded": True}
    assert again["id"] == earlier.json()["id"] and again["deduplicated"] is True
    assert forced["id"] and split["id"] and len(split["pieces"]) >= 2
    assert body["saved"] == len(entries) - 1
    rows = {
        row[0]: row[1:]
        for row in s.server.sql(
            "SELECT id, sensitivity, expires_at IS NOT NULL, tenant_id, user_id, embedded_at IS NOT NULL"
            " FROM memory_entries"
        )
    }
    assert rows[two["id"]][0] == 0  # public
    assert rows[secret["id"]][0] == 3  # inferred sensitive
    assert rows[expiring["id"]][1] is True and rows[first["id"]][1] is False
    owners = {row[2:] for row in rows.values()}
    assert len(owners) == 1 and owners == {(s.tenant, s.user or next(iter(owners))[1], True)}
    with s.client() as api:
        forgotten = api.post("/v1/forget", json={"sourceRef": "chat:42"})
        assert forgotten.json()["ids"] == [two["id"]]
        pieces = api.post("/v1/forget", json={"sourceRef": split["sourceRef"]})
        assert sorted(pieces.json()["ids"]) == sorted(split["pieces"])


@pytest.mark.parametrize("mode", MODES)
def test_one_invalid_entry_refuses_the_whole_batch(fresh: Callable[[str], ModeServer], mode: str) -> None:
    s = fresh(mode)
    r = s.batch([{"content": _fact("valid")}, {"content": _fact("also valid")}, {"content": ""}])
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid request body"
    assert [i["path"] for i in r.json()["issues"]] == ["entries.2.content"]
    r = s.batch([{"content": _fact("valid")}, {"content": _fact("x"), "sourceRefs": ["bad\x01ref"]}])
    assert (r.status_code, r.json()["issues"][0]["path"]) == (400, "entries.1.sourceRefs.0")
    assert s.count() == 0


@pytest.mark.parametrize("mode", [m for m in MODES if m != "none"])  # `none` has no credentials to leave out
def test_a_batch_without_credentials_is_unauthorized(fresh: Callable[[str], ModeServer], mode: str) -> None:
    s = fresh(mode)
    r = s.batch([{"content": _fact("anonymous")}], headers={})
    assert (r.status_code, r.json()) == (401, {"error": "unauthorized"})
    assert s.count() == 0


def test_the_batch_limits_are_the_contract_envelope(fresh: Callable[[str], ModeServer]) -> None:
    s = fresh("user")
    for entries in ([], [{"content": _fact(str(i))} for i in range(201)]):
        r = s.batch(entries)
        assert r.status_code == 400, r.text
        assert [i["path"] for i in r.json()["issues"]] == ["entries"]
    with s.client() as api:
        r = api.post(ROUTE, json={"entries": [{"content": "x" * 200_000, "force": True} for _ in range(12)]})
    assert (r.status_code, r.json()) == (413, {"error": "request body is too large"})
    with s.client() as api:
        assert api.post(ROUTE, json={"content": _fact("not a batch")}).json()["issues"][0]["path"] == "entries"
    assert s.count() == 0


def test_a_read_only_token_is_refused_and_nothing_is_stored(fresh: Callable[[str], ModeServer]) -> None:
    s = fresh("user")
    assert s.user is not None
    reader = {"authorization": f"Bearer {mint(s.server, s.user, scope='read_only')}"}
    r = s.batch([{"content": _fact("read only")}], headers=reader)
    assert (r.status_code, r.json()["error"]) == (403, READ_ONLY_TOKEN)
    assert s.count() == 0


def test_projects_are_resolved_per_entry(fresh: Callable[[str], ModeServer]) -> None:
    s = fresh("user")
    assert s.user is not None
    project = add_project(s.server, f"batch-{secrets.token_hex(3)}", s.user)
    stranger = add_user(s.server, "stranger")
    foreign = add_project(s.server, f"foreign-{secrets.token_hex(3)}", stranger)
    r = s.batch(
        [
            {"content": _fact("in project"), "project": project},
            {"content": _fact("no such project"), "project": "no-such-project"},
            {"content": _fact("foreign project"), "project": foreign},
            {"content": _fact("user global")},
        ]
    )
    assert r.status_code == 201, r.text
    stored, missing, refused, global_ = r.json()["results"]
    assert missing == {"id": None, "error": NO_PROJECT}
    assert refused["id"] is None and refused["error"]
    assert s.server.sql("SELECT project_id FROM memory_entries WHERE id = %s", (stored["id"],)) == [(project,)]
    assert s.server.sql("SELECT project_id FROM memory_entries WHERE id = %s", (global_["id"],)) == [(None,)]
    r = s.batch([{"content": _fact("nowhere"), "project": "no-such-project"}])
    assert (r.status_code, r.json()["error"]) == (
        404,
        NO_PROJECT,
    )


def _set_quota(s: ModeServer, user: str, **quota: int) -> None:
    admin = add_user(s.server, "admin", role="admin")
    with s.server.client(headers={"authorization": f"Bearer {mint(s.server, admin)}"}) as api:
        assert api.put(f"/v1/admin/users/{user}/quota", json=quota).status_code == 200


def test_the_entry_cap_stores_what_fits_and_refuses_the_rest(fresh: Callable[[str], ModeServer]) -> None:
    s = fresh("user")
    user = add_user(s.server, "capped")
    _set_quota(s, user, maxEntries=3)
    headers = {"authorization": f"Bearer {mint(s.server, user)}"}
    r = s.batch([{"content": _fact(f"capped {i}")} for i in range(5)], headers=headers)
    assert r.status_code == 201, r.text
    cap = "entry quota exceeded: 3 stored entries — forget something first"
    assert [x.get("error") for x in r.json()["results"]] == [None, None, None, cap, cap]
    assert r.json()["saved"] == 3
    r = s.batch([{"content": _fact("capped 9")}], headers=headers)
    assert (r.status_code, r.json()) == (429, {"error": cap})
    assert r.headers["retry-after"]


def test_writes_per_minute_count_every_entry(fresh: Callable[[str], ModeServer]) -> None:
    s = fresh("user")
    user = add_user(s.server, "hurried")
    _set_quota(s, user, writesPerMinute=4)
    headers = {"authorization": f"Bearer {mint(s.server, user)}"}
    r = s.batch([{"content": _fact(f"hurried {i}")} for i in range(6)], headers=headers)
    assert r.status_code == 201, r.text
    limit = "write quota exceeded: 4 writes/minute — retry after the window resets"
    assert [x.get("error") for x in r.json()["results"]] == [None] * 4 + [limit] * 2
    assert s.batch([{"content": _fact("hurried 9")}], headers=headers).status_code == 429


def test_the_route_is_in_the_openapi_document(fresh: Callable[[str], ModeServer]) -> None:
    s = fresh("user")
    with s.server.client() as api:
        spec = api.get("/openapi.json").json()
    op = spec["paths"][ROUTE]["post"]
    assert set(op["responses"]) >= {"201", "400"}
    schema = spec["components"]["schemas"]["RememberBatchRequest"]
    assert schema["properties"]["entries"]["maxItems"] == 200
