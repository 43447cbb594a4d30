"""Reused credential resolutions never outlive a change, on any replica.

Two servers share one database. Each one reuses a token's resolution while the deployment-wide auth
epoch stands still; every change below is made through the *other* server (or straight in SQL, as an
operator would) and must bite on the very next request to the first one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from novamem.domain.credentials import hash_secret
from tests.conftest import RunningServer
from tests.http.identity_helpers import add_user, as_token, mint, start_user_server


@pytest.fixture(scope="module")
def pair(make_database: Callable[[], str]) -> Iterator[tuple[RunningServer, RunningServer]]:
    url = make_database()
    first = start_user_server(url)
    second = start_user_server(url)
    yield first, second
    second.stop()
    first.stop()


def test_revocation_on_one_replica_bites_on_the_other(pair: tuple[RunningServer, RunningServer]) -> None:
    a, b = pair
    add_user(a, "rev@example.com")
    token = mint(a, "rev@example.com")
    with as_token(a, token) as on_a, as_token(b, token) as on_b:
        for _ in range(3):  # resolved once, then reused
            assert on_a.post("/v1/recent", json={}).status_code == 200
        assert on_b.delete(f"/v1/me/tokens/{hash_secret(token)}").json() == {"deleted": True}
        r = on_a.post("/v1/recent", json={})
        assert (r.status_code, r.json()) == (401, {"error": "unauthorized"})


def test_bans_role_changes_and_membership_bite_at_once(pair: tuple[RunningServer, RunningServer]) -> None:
    a, b = pair
    owner = add_user(a, "owner@example.com")
    member = add_user(a, "member@example.com")
    owner_token = mint(a, "owner@example.com")
    member_token = mint(a, "member@example.com")
    with as_token(b, owner_token) as owner_on_b:
        project = owner_on_b.post("/v1/me/projects", json={"name": "epoch"}).json()["id"]
        added = owner_on_b.post(f"/v1/me/projects/{project}/members", json={"username": "member@example.com"})
        assert added.status_code == 201
    confined = mint(a, "member@example.com", "--project", project)
    with as_token(a, confined) as confined_on_a, as_token(a, member_token) as member_on_a:
        assert confined_on_a.post("/v1/recent", json={}).status_code == 200
        assert member_on_a.post("/v1/recent", json={"project": project}).status_code == 200
        with as_token(b, owner_token) as owner_on_b:
            assert owner_on_b.delete(f"/v1/me/projects/{project}/members/{member}").status_code == 200
        r = confined_on_a.post("/v1/recent", json={})
        assert (r.status_code, r.json()) == (403, {"error": "not a member of the token's project"})
        assert member_on_a.post("/v1/recent", json={"project": project}).status_code == 403
        # an operator's SQL counts too: the triggers move the epoch in the same transaction
        assert member_on_a.get("/v1/admin/users").status_code == 403
        b.sql("UPDATE users SET role = 'admin' WHERE id = %s", (member,))
        assert member_on_a.get("/v1/admin/users").status_code == 200
        b.sql("UPDATE users SET banned = true WHERE id = %s", (member,))
        assert member_on_a.post("/v1/recent", json={}).status_code == 401
        b.sql("UPDATE users SET banned = false WHERE id = %s", (owner,))  # unrelated change: still banned
        assert member_on_a.post("/v1/recent", json={}).status_code == 401


def test_last_use_stamps_do_not_move_the_epoch(pair: tuple[RunningServer, RunningServer]) -> None:
    a, _ = pair
    add_user(a, "stamp@example.com")
    token = mint(a, "stamp@example.com")
    before = a.sql("SELECT value FROM auth_epoch")[0][0]
    a.sql("UPDATE user_tokens SET last_used_at = now() WHERE token_hash = %s", (hash_secret(token),))
    assert a.sql("SELECT value FROM auth_epoch")[0][0] == before
    a.sql("UPDATE user_tokens SET scope = 'read_only' WHERE token_hash = %s", (hash_secret(token),))
    assert a.sql("SELECT value FROM auth_epoch")[0][0] > before
