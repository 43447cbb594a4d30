"""API tokens against a real user-mode server: minting (API and CLI), listing, revocation, rotation,
admin revocation, and what read-only, project-confined and expired tokens may do."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest

from novamem.domain.credentials import hash_secret
from tests.conftest import RunningServer
from tests.http.identity_helpers import (
    add_user,
    as_token,
    cli,
    error,
    mint,
    session_cookie,
    start_user_server,
)

ALICE, BOB, ADMIN, EVE = "alice@tokens.test", "bob@tokens.test", "admin@tokens.test", "eve@globex.test"
CONFINED = "token is confined to its project"


@pytest.fixture(scope="module")
def srv(make_database: Callable[[], str]) -> Iterator[RunningServer]:
    running = start_user_server(make_database())
    ids = {
        "alice": add_user(running, ALICE),
        "bob": add_user(running, BOB),
        "admin": add_user(running, ADMIN, role="admin"),
        "eve": add_user(running, EVE, tenant="globex", role="admin"),
    }
    running.ids = ids  # type: ignore[attr-defined]
    yield running
    running.stop()


@pytest.fixture(scope="module")
def alice(srv: RunningServer) -> str:
    return mint(srv, ALICE, "--label", "alice main")


def test_cli_mint_prints_the_token_once_and_stores_only_its_hash(srv: RunningServer) -> None:
    code, out, err = cli(srv, "token", "create", "--email", BOB.upper(), "--label", "laptop")
    assert code == 0
    token = out.strip()
    assert token.startswith("nm_") and len(token) == 3 + 43 and "\n" not in token
    assert "shown only once" in err
    stored = srv.sql("SELECT token_hash, label, scope FROM user_tokens WHERE user_id = %s", (srv.ids["bob"],))  # type: ignore[attr-defined]
    assert (hash_secret(token), "laptop", "full") in stored
    assert not srv.sql("SELECT 1 FROM user_tokens WHERE token_hash = %s OR label = %s", (token, token))

    code, out, _ = cli(srv, "token", "list", "--email", BOB)
    assert code == 0 and hash_secret(token) in out and token not in out
    with as_token(srv, token) as client:
        assert client.get("/v1/me/tokens").status_code == 200

    code, out, _ = cli(srv, "token", "revoke", "--token", token)
    assert (code, out.strip()) == (0, "revoked")
    code, out, _ = cli(srv, "token", "revoke", "--token", token)
    assert code == 1
    with as_token(srv, token) as client:
        assert client.get("/v1/me/tokens").status_code == 401


def test_cli_mints_restricted_tokens(srv: RunningServer, alice: str) -> None:
    with as_token(srv, alice) as client:
        project = client.post("/v1/me/projects", json={"name": "cli-project"}).json()["id"]
    code, out, err = cli(
        srv, "token", "create", "--email", ALICE, "--scope", "read_only", "--project", "cli-project",
        "--expires-in-days", "2", "--label", "cli", "--json",
    )  # fmt: skip
    assert code == 0, err
    minted = json.loads(out)
    assert (minted["scope"], minted["projectId"], minted["userId"]) == ("read_only", project, srv.ids["alice"])  # type: ignore[attr-defined]
    with as_token(srv, minted["token"]) as client:
        assert client.post("/v1/remember", json={"content": "the cli token tries a write"}).status_code == 403
    # a project the user is not a member of is refused
    code, _, err = cli(srv, "token", "create", "--email", BOB, "--project", project)
    assert code == 2 and "not a member" in err


def test_cli_refuses_unknown_accounts_and_other_tenants(srv: RunningServer) -> None:
    code, _, err = cli(srv, "token", "create", "--email", "nobody@tokens.test")
    assert code == 2 and "no such user" in err
    # the address exists, but in another tenant: never found from the default one
    code, _, err = cli(srv, "token", "create", "--email", EVE)
    assert code == 2 and "no such user" in err
    code, _, err = cli(srv, "token", "create", "--email", ALICE, "--expires-in-days", "0")
    assert code == 2


def test_mint_list_and_revoke_through_the_api(srv: RunningServer, alice: str) -> None:
    with as_token(srv, alice) as client:
        created = client.post("/v1/me/tokens", json={"label": "ci", "scope": "read_only", "expiresInDays": 30})
        assert created.status_code == 201
        body = created.json()
        assert set(body) == {"token", "userId", "createdAt", "scope", "projectId", "expiresAt", "warning"}
        assert body["userId"] == srv.ids["alice"]  # type: ignore[attr-defined]
        assert (body["scope"], body["projectId"]) == ("read_only", None)
        assert "once" in body["warning"]
        assert body["expiresAt"] > body["createdAt"]

        listed = client.get("/v1/me/tokens").json()["tokens"]
        hashes = [t["tokenHash"] for t in listed]
        assert hashes.index(hash_secret(alice)) < hashes.index(hash_secret(body["token"]))  # oldest first
        row = next(t for t in listed if t["tokenHash"] == hash_secret(body["token"]))
        assert set(row) == {
            "tokenHash", "label", "scope", "projectId", "expiresAt", "createdAt", "lastUsedAt", "revoked"
        }  # fmt: skip
        assert (row["label"], row["scope"], row["revoked"], row["expiresAt"]) == (
            "ci", "read_only", False, body["expiresAt"]
        )  # fmt: skip
        assert all(body["token"] not in str(t) for t in listed)

        deleted = client.delete(f"/v1/me/tokens/{hash_secret(body['token'])}")
        assert deleted.status_code == 200 and deleted.json() == {"deleted": True}
        assert client.delete(f"/v1/me/tokens/{hash_secret(body['token'])}").status_code == 404
        row = next(t for t in client.get("/v1/me/tokens").json()["tokens"] if t["tokenHash"] == row["tokenHash"])
        assert row["revoked"] is True  # listings keep revoked tokens
    with as_token(srv, body["token"]) as client:
        assert client.post("/v1/search", json={"query": "anything"}).status_code == 401


@pytest.mark.parametrize(
    "payload",
    [
        {"label": "x" * 129},
        {"scope": "admin"},
        {"expiresInDays": 0},
        {"expiresInDays": 3651},
        {"expiresInDays": "7"},
        {"project": ""},
    ],
)
def test_mint_rejects_bad_input(srv: RunningServer, alice: str, payload: dict[str, object]) -> None:
    with as_token(srv, alice) as client:
        before = len(client.get("/v1/me/tokens").json()["tokens"])
        r = client.post("/v1/me/tokens", json=payload)
        assert r.status_code == 400 and r.json()["error"] == "invalid request body"
        assert len(client.get("/v1/me/tokens").json()["tokens"]) == before


def test_mint_for_a_project_needs_membership(srv: RunningServer, alice: str) -> None:
    bob = mint(srv, BOB)
    with as_token(srv, bob) as client:
        bobs = client.post("/v1/me/projects", json={"name": "bob-only"}).json()["id"]
    with as_token(srv, alice) as client:
        r = client.post("/v1/me/tokens", json={"project": "no-such-project"})
        assert r.status_code == 404
        assert error(r) == "no such project 'no-such-project' — call project_list to see ids"
        r = client.post("/v1/me/tokens", json={"project": bobs})
        assert r.status_code == 403 and error(r) == f"not a member of project '{bobs}' (id {bobs})"
        # a name only resolves among your own projects
        assert client.post("/v1/me/tokens", json={"project": "bob-only"}).status_code == 404


def test_delete_refuses_bad_hashes_and_other_users_tokens(srv: RunningServer, alice: str) -> None:
    bob = mint(srv, BOB)
    with as_token(srv, alice) as client:
        assert client.delete("/v1/me/tokens/not-a-hash").status_code == 400
        assert client.delete(f"/v1/me/tokens/{hash_secret(bob).upper()}").status_code == 400
        r = client.delete(f"/v1/me/tokens/{hash_secret(bob)}")
        assert r.status_code == 404 and error(r) == "token not found"
        assert client.delete(f"/v1/me/tokens/{'0' * 64}").status_code == 404
    with as_token(srv, bob) as client:
        assert client.get("/v1/me/tokens").status_code == 200  # untouched


def test_rotation_kills_the_old_token_at_once_and_keeps_its_restrictions(srv: RunningServer, alice: str) -> None:
    with as_token(srv, alice) as client:
        old = client.post("/v1/me/tokens", json={"label": "to-rotate", "expiresInDays": 10}).json()
    with as_token(srv, old["token"]) as client:
        rotated = client.post("/v1/auth/rotate-token")
        assert rotated.status_code == 201
        new = rotated.json()
        assert set(new) == {"token", "userId", "createdAt", "warning"}
        assert new["userId"] == srv.ids["alice"] and new["token"] != old["token"]  # type: ignore[attr-defined]
        assert client.get("/v1/me/tokens").status_code == 401  # the old one is dead on the next request
    with as_token(srv, new["token"]) as client:
        listed = {t["tokenHash"]: t for t in client.get("/v1/me/tokens").json()["tokens"]}
    replacement, previous = listed[hash_secret(new["token"])], listed[hash_secret(old["token"])]
    assert replacement["label"] == "rotated" and previous["revoked"] is True
    assert (replacement["scope"], replacement["projectId"], replacement["expiresAt"]) == (
        "full", None, old["expiresAt"]
    )  # fmt: skip


def test_a_restricted_token_rotates_itself_and_stays_restricted(srv: RunningServer, alice: str) -> None:
    """Rotation is not minting: a read-only, project-confined token may replace itself (reference 3.6)."""
    with as_token(srv, alice) as client:
        project = client.post("/v1/me/projects", json={"name": "rotation"}).json()["id"]
        minted = client.post(
            "/v1/me/tokens", json={"scope": "read_only", "project": project, "expiresInDays": 5, "label": "ro"}
        ).json()
    with as_token(srv, minted["token"]) as client:
        r = client.post("/v1/auth/rotate-token")
        assert r.status_code == 201, r.text
        new = r.json()
        assert set(new) == {"token", "userId", "createdAt", "warning"} and new["token"] != minted["token"]
        assert client.get("/v1/me/tokens").status_code == 401  # the old one is dead on the next request
    with as_token(srv, new["token"]) as client:
        r = client.post("/v1/remember", json={"content": "A rotated reader still may not write anything"})
        assert r.status_code == 403 and error(r) == "read-only token"
        assert client.post("/v1/auth/rotate-token").status_code == 201  # and may rotate again
    with as_token(srv, alice) as client:
        listed = {t["tokenHash"]: t for t in client.get("/v1/me/tokens").json()["tokens"]}
    replacement, previous = listed[hash_secret(new["token"])], listed[hash_secret(minted["token"])]
    assert previous["revoked"] is True and replacement["revoked"] is True  # rotated once more above
    assert (replacement["scope"], replacement["projectId"], replacement["expiresAt"], replacement["label"]) == (
        "read_only", project, minted["expiresAt"], "rotated"
    )  # fmt: skip


def test_rotation_failures_lock_the_presented_token_out(srv: RunningServer) -> None:
    bogus = "nm_" + "A" * 43
    with srv.client(headers={"authorization": f"Bearer {bogus}"}) as client:
        for _ in range(5):
            r = client.post("/v1/auth/rotate-token")
            assert r.status_code == 401 and r.json() == {"error": "unauthorized"}
        locked = client.post("/v1/auth/rotate-token")
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    assert srv.sql("SELECT count FROM rate_counters WHERE key = %s", (f"lock:rotate:{hash_secret(bogus)}",)) == [(5,)]
    # the lock is per token: a real token still rotates
    token = mint(srv, ALICE)
    with as_token(srv, token) as client:
        assert client.post("/v1/auth/rotate-token").status_code == 201


def test_rotation_of_a_revoked_token_fails_and_counts(srv: RunningServer) -> None:
    token = mint(srv, ALICE)
    cli(srv, "token", "revoke", "--token", token)
    with as_token(srv, token) as client:
        assert client.post("/v1/auth/rotate-token").status_code == 401
    assert srv.sql("SELECT count FROM rate_counters WHERE key = %s", (f"lock:rotate:{hash_secret(token)}",)) == [(1,)]


def test_rotation_needs_a_bearer_not_a_session(srv: RunningServer) -> None:
    cookies = session_cookie(srv, srv.ids["alice"])  # type: ignore[attr-defined]
    with srv.client(cookies=cookies) as client:
        assert client.get("/v1/me/tokens").status_code == 200  # the session itself is valid
        r = client.post("/v1/auth/rotate-token")
        assert r.status_code == 400 and "bearer token is required" in error(r)
    with srv.client() as client:
        assert client.post("/v1/auth/rotate-token").status_code == 401


def test_rotation_is_refused_outside_account_modes(server: RunningServer) -> None:
    with server.client(headers={"authorization": "Bearer nm_whatever"}) as client:
        r = client.post("/v1/auth/rotate-token")
    assert r.status_code == 400 and "auth mode" in error(r)
    with server.client() as client:  # the self-service routes do not exist there at all
        assert client.get("/v1/me/tokens").json()["statusCode"] == 404


def test_read_only_tokens_search_but_never_write(srv: RunningServer, alice: str) -> None:
    with as_token(srv, alice) as client:
        stored = client.post("/v1/remember", json={"content": "The staging database lives on host pg-stage-3"})
        assert stored.status_code == 201
        reader = client.post("/v1/me/tokens", json={"scope": "read_only"}).json()["token"]
    with as_token(srv, reader) as client:
        hits = client.post("/v1/search", json={"query": "staging database host"})
        assert hits.status_code == 200 and stored.json()["id"] in [h["id"] for h in hits.json()["results"]]
        assert client.get("/v1/me/tokens").status_code == 200
        for method, path, body in [
            ("POST", "/v1/remember", {"content": "A read-only token tries to write this"}),
            ("POST", "/v1/forget", {"id": stored.json()["id"]}),
            ("PUT", f"/v1/memories/{stored.json()['id']}", {"content": "changed by a reader"}),
            ("POST", "/v1/me/projects", {"name": "nope"}),
        ]:
            r = client.request(method, path, json=body)
            assert r.status_code == 403 and error(r) == "read-only token", path
        for method, path, body in [
            ("POST", "/v1/me/tokens", {"label": "escalate"}),
            ("DELETE", f"/v1/me/tokens/{hash_secret(alice)}", None),
            ("POST", "/v1/admin/tokens/revoke", {"token": alice}),
        ]:
            r = client.request(method, path, json=body)
            assert r.status_code == 403 and error(r) == "restricted token", path
    assert srv.sql("SELECT count(*) FROM memory_entries WHERE content LIKE 'A read-only%%'") == [(0,)]
    with as_token(srv, alice) as client:
        assert client.get("/v1/me/tokens").status_code == 200  # the reader could not revoke it


def test_confined_tokens_are_held_to_their_project(srv: RunningServer, alice: str) -> None:
    with as_token(srv, alice) as client:
        inside = client.post("/v1/me/projects", json={"name": "confined-inside"}).json()["id"]
        outside = client.post("/v1/me/projects", json={"name": "confined-outside"}).json()["id"]
        client.post("/v1/remember", json={"content": "Alice's private note about the dentist on Monday"})
        confined = client.post("/v1/me/tokens", json={"project": "confined-inside"}).json()
    assert confined["projectId"] == inside
    with as_token(srv, confined["token"]) as client:
        stored = client.post("/v1/remember", json={"content": "Inside the project the build uses Bazel 7"})
        assert stored.status_code == 201
        row = srv.sql("SELECT project_id FROM memory_entries WHERE id = %s", (stored.json()["id"],))
        assert row == [(inside,)]  # forced into its project
        for path, body in [
            ("/v1/remember", {"content": "An escape attempt into another project", "project": outside}),
            ("/v1/search", {"query": "dentist", "project": outside}),
            ("/v1/search", {"query": "dentist", "includeProjects": [outside]}),
        ]:
            r = client.post(path, json=body)
            assert r.status_code == 403 and error(r) == CONFINED, path
        hits = client.post("/v1/search", json={"query": "dentist Monday"}).json()["results"]
        assert hits == []  # user-global entries are outside the project
        assert client.get("/v1/stats").status_code == 403
        assert [p["id"] for p in client.get("/v1/me/projects").json()["projects"]] == [inside]
        r = client.post("/v1/me/projects", json={"name": "a way out"})
        assert r.status_code == 403 and error(r) == CONFINED
        for method, path, body in [
            ("POST", "/v1/me/tokens", {}),
            ("POST", "/v1/admin/tokens/revoke", {"token": alice}),
        ]:
            r = client.request(method, path, json=body)
            assert r.status_code == 403 and error(r) == "restricted token", path


def test_admin_revokes_a_leaked_token_within_their_tenant(srv: RunningServer, alice: str) -> None:
    admin = mint(srv, ADMIN)
    eve = mint(srv, EVE, tenant="globex")
    leaked = mint(srv, BOB)
    with as_token(srv, alice) as client:
        r = client.post("/v1/admin/tokens/revoke", json={"token": leaked})
        assert r.status_code == 403 and error(r) == "admin only"
    with srv.client() as client:
        assert client.post("/v1/admin/tokens/revoke", json={"token": leaked}).status_code == 401
    with as_token(srv, eve) as client:  # an admin of another tenant cannot touch it
        assert client.post("/v1/admin/tokens/revoke", json={"token": leaked}).json() == {"revoked": False}
    with as_token(srv, leaked) as client:
        assert client.get("/v1/me/tokens").status_code == 200
    with as_token(srv, admin) as client:
        assert client.post("/v1/admin/tokens/revoke", json={"token": leaked}).json() == {"revoked": True}
        assert client.post("/v1/admin/tokens/revoke", json={"token": leaked}).json() == {"revoked": False}
        assert client.post("/v1/admin/tokens/revoke", json={"token": eve}).json() == {"revoked": False}
        assert client.post("/v1/admin/tokens/revoke", json={}).status_code == 400
    with as_token(srv, leaked) as client:
        assert client.get("/v1/me/tokens").status_code == 401
    with as_token(srv, eve) as client:
        assert client.get("/v1/me/tokens").status_code == 200
    audit = srv.sql(
        "SELECT actor_user_id, target, metadata->>'revoked' FROM admin_audit_log"
        " WHERE action = 'admin.token.revoke' AND tenant_id = 'default' ORDER BY id"
    )
    assert (srv.ids["admin"], hash_secret(leaked), "true") in audit  # type: ignore[attr-defined]
    assert all(leaked not in str(row) for row in audit)


def test_expired_tokens_are_refused(srv: RunningServer, alice: str) -> None:
    with as_token(srv, alice) as client:
        short = client.post("/v1/me/tokens", json={"expiresInDays": 1}).json()["token"]
    with as_token(srv, short) as client:
        assert client.get("/v1/me/tokens").status_code == 200
        srv.sql(
            "UPDATE user_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = %s",
            (hash_secret(short),),
        )
        for method, path in [("GET", "/v1/me/tokens"), ("POST", "/v1/recent"), ("POST", "/v1/auth/rotate-token")]:
            r = client.request(method, path, json={} if method == "POST" else None)
            assert r.status_code == 401 and r.json() == {"error": "unauthorized"}, path


def _last_used(srv: RunningServer, token: str) -> object:
    return srv.sql("SELECT last_used_at FROM user_tokens WHERE token_hash = %s", (hash_secret(token),))[0][0]


def _wait_for(predicate: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 5
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def test_last_used_is_written_at_most_once_a_minute(srv: RunningServer) -> None:
    token = mint(srv, BOB)
    assert _last_used(srv, token) is None
    with as_token(srv, token) as client:
        client.get("/v1/me/tokens")
        _wait_for(lambda: _last_used(srv, token) is not None)
        first = _last_used(srv, token)
        for _ in range(3):
            assert client.get("/v1/me/tokens").status_code == 200
        time.sleep(0.2)
        assert _last_used(srv, token) == first
        srv.sql(
            "UPDATE user_tokens SET last_used_at = now() - interval '2 minutes' WHERE token_hash = %s",
            (hash_secret(token),),
        )
        aged = _last_used(srv, token)
        # a minute "passes" for this process too (it also remembers when it last stamped)
        srv.container.authenticator.forget_resolutions()
        client.get("/v1/me/tokens")
        _wait_for(lambda: _last_used(srv, token) != aged)
        assert _last_used(srv, token) > first  # type: ignore[operator]
