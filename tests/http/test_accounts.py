"""Accounts over the real server and database: sign-in, sessions and cookies, throttling and lockout
(shared by replicas through PostgreSQL), CSRF, admin user management, the audit log and bootstrap."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import RunningServer, start_server

SECRET = "Kq9vT2mB7xR4wL8pZ3nF6hJ1sD5gY0cA"
OTHER_SECRET = "Vb3nM8qW1eR6tY9uI2oP5aS7dF0gH4jK"
ADMIN = "root@example.com"
ADMIN_PW = "first-admin-pass-8472"
SETTINGS: dict[str, Any] = {
    "auth_mode": "user",
    "cookie_secret": SECRET,
    "insecure_cookies": True,
    "embeddings_provider": "none",
    "jobs_enabled": False,
    "bootstrap_admin_email": ADMIN,
    "bootstrap_admin_password": ADMIN_PW,
}


_SERVERS: list[RunningServer] = []  # the module's server, for arranging rows directly


@pytest.fixture(scope="module")
def srv(make_database: Callable[[], str]) -> Iterator[RunningServer]:
    running = start_server(make_database(), **SETTINGS)
    # the forced first password change has its own tests; here the admin starts settled
    running.sql("UPDATE users SET must_change_password = false WHERE email = %s", (ADMIN,))
    _SERVERS[:] = [running]
    yield running
    running.stop()


def server_log(caplog: pytest.LogCaptureFixture) -> str:
    """What the server logged (the test's own HTTP client logs headers at debug level; it is not the server)."""
    return "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''}"
        for r in caplog.records
        if not r.name.startswith(("httpx", "httpcore"))
    )


def _unthrottle(server: RunningServer) -> None:
    server.sql("DELETE FROM rate_counters WHERE key LIKE 'signin-ip:%%'")


def sign_in(server: RunningServer, email: str, password: str) -> httpx.Client:
    """A client holding a fresh session of this user (trusted Origin for state-changing calls)."""
    _unthrottle(server)
    client = server.client(headers={"origin": server.base_url})
    r = client.post("/api/auth/sign-in/email", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return client


@pytest.fixture
def admin(srv: RunningServer) -> Iterator[httpx.Client]:
    client = sign_in(srv, ADMIN, ADMIN_PW)
    yield client
    client.close()


def make_user(
    admin: httpx.Client, email: str, password: str = "user-pass-12345", role: str = "user", settled: bool = True
) -> str:
    """An admin-created user; `settled` skips the forced first password change (tested on its own)."""
    r = admin.post("/api/auth/admin/create-user", json={"email": email, "password": password, "role": role})
    assert r.status_code == 200, r.text
    assert r.json()["user"]["mustChangePassword"] is True
    user_id = str(r.json()["user"]["id"])
    if settled:
        _SERVERS[0].sql("UPDATE users SET must_change_password = false WHERE id = %s", (user_id,))
    return user_id


# ---- sign-in, cookies, sessions ----------------------------------------------------------------


def test_sign_in_sets_an_httponly_lax_cookie_and_get_session_returns_the_user(
    srv: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _unthrottle(srv)
    with srv.client() as client:
        r = client.post("/api/auth/sign-in/email", json={"email": ADMIN.upper(), "password": ADMIN_PW})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["redirect"] is False and body["user"]["email"] == ADMIN and body["user"]["role"] == "admin"
        assert "passwordHash" not in body["user"] and "password_hash" not in str(body)
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("nm.session_token=")
        flags = {part.strip().lower() for part in cookie.split(";")}
        assert {"httponly", "samesite=lax", "path=/", "max-age=604800"} <= flags
        assert "secure" not in flags  # NOVAMEM_INSECURE_COOKIES
        session = client.get("/api/auth/get-session")
        assert session.status_code == 200 and session.headers["cache-control"] == "no-store"
        assert session.json()["user"]["email"] == ADMIN
        assert session.json()["session"]["userId"] == body["user"]["id"]
    # the database keeps only the token's SHA-256
    token = body["token"]
    assert srv.sql("SELECT count(*) FROM auth_sessions WHERE token_hash = %s", (token,)) == [(0,)]
    assert srv.sql(
        "SELECT count(*) FROM auth_sessions WHERE token_hash = encode(sha256(%s::bytea), 'hex')", (token,)
    ) == [(1,)]
    logged = server_log(caplog)
    assert ADMIN_PW not in logged and token not in logged


def test_get_session_without_a_cookie_is_null_and_post_is_405(srv: RunningServer) -> None:
    with srv.client() as client:
        r = client.get("/api/auth/get-session")
        assert r.status_code == 200 and r.json() is None
        r = client.post("/api/auth/get-session")
        assert r.status_code == 405 and r.json()["code"] == "METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED"
        forged = client.get("/api/auth/get-session", headers={"cookie": "nm.session_token=abc.def"})
        assert forged.json() is None


def test_wrong_password_and_unknown_user_get_the_same_401(srv: RunningServer) -> None:
    answers = []
    for email, password in ((ADMIN, "wrong-password-1"), ("nobody@example.com", "wrong-password-1")):
        _unthrottle(srv)
        r = httpx.post(srv.base_url + "/api/auth/sign-in/email", json={"email": email, "password": password})
        assert r.status_code == 401
        answers.append(r.json())
    assert answers[0] == answers[1] == {"message": "Invalid email or password", "code": "INVALID_EMAIL_OR_PASSWORD"}
    _unthrottle(srv)
    r = httpx.post(srv.base_url + "/api/auth/sign-in/email", json={"email": "not-an-email", "password": "x" * 9})
    assert r.status_code == 400 and r.json()["code"] == "INVALID_EMAIL"
    srv.sql("DELETE FROM rate_counters")


def test_sign_out_deletes_the_session_row_and_clears_the_cookie(srv: RunningServer) -> None:
    client = sign_in(srv, ADMIN, ADMIN_PW)
    cookie = dict(client.cookies)
    before = srv.sql("SELECT count(*) FROM auth_sessions")[0][0]
    r = client.post("/api/auth/sign-out")
    assert r.status_code == 200 and r.json() == {"success": True}
    assert "max-age=0" in r.headers["set-cookie"].lower()
    assert srv.sql("SELECT count(*) FROM auth_sessions")[0][0] == before - 1
    # the old cookie value is dead even if a client kept it
    with srv.client(cookies=cookie) as stale:
        assert stale.get("/api/auth/get-session").json() is None
    client.close()


def test_list_and_revoke_own_sessions(srv: RunningServer, admin: httpx.Client) -> None:
    second = sign_in(srv, ADMIN, ADMIN_PW)
    sessions = admin.get("/api/auth/list-sessions").json()
    assert len(sessions) >= 2
    mine = admin.get("/api/auth/get-session").json()["session"]["id"]
    other = next(s for s in sessions if s["id"] == second.get("/api/auth/get-session").json()["session"]["id"])
    assert admin.post("/api/auth/revoke-session", json={"token": other["token"]}).json() == {"status": True}
    assert second.get("/api/auth/get-session").json() is None
    assert admin.get("/api/auth/get-session").json()["session"]["id"] == mine
    second.close()


# ---- throttling and lockout --------------------------------------------------------------------


def test_sign_in_is_throttled_per_ip_and_path(srv: RunningServer) -> None:
    _unthrottle(srv)
    codes = []
    for _ in range(4):
        r = httpx.post(srv.base_url + "/api/auth/sign-in/email", json={"email": "t@example.com", "password": "p" * 9})
        codes.append(r.status_code)
    assert codes == [401, 401, 401, 429]
    assert r.json() == {"message": "Too many requests. Please try again later."}
    assert 1 <= int(r.headers["x-retry-after"]) <= 10
    srv.sql("DELETE FROM rate_counters")


def test_lockout_is_shared_by_two_servers_on_one_database(
    srv: RunningServer, admin: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    email = "locked@example.com"
    make_user(admin, email, "right-password-1")
    caplog.set_level(logging.WARNING)
    replica = start_server(srv.database_url, **SETTINGS)
    try:
        # the second start found an admin: the still-set bootstrap password is warned about
        assert "NOVAMEM_BOOTSTRAP_ADMIN_PASSWORD is still set" in caplog.text
        assert ADMIN_PW not in server_log(caplog)
        for i in range(5):
            _unthrottle(srv)
            target = (srv, replica)[i % 2]
            r = httpx.post(target.base_url + "/api/auth/sign-in/email", json={"email": email, "password": "bad-pass-1"})
            assert r.status_code == 401
        for target in (srv, replica):
            _unthrottle(srv)
            r = httpx.post(
                target.base_url + "/api/auth/sign-in/email", json={"email": email, "password": "right-password-1"}
            )
            assert r.status_code == 429
            body = r.json()
            assert body["error"] == "too many failed attempts — try again later"
            assert 0 < body["retryAfter"] <= 900
    finally:
        replica.stop()
    srv.sql("DELETE FROM rate_counters")
    _unthrottle(srv)
    r = httpx.post(srv.base_url + "/api/auth/sign-in/email", json={"email": email, "password": "right-password-1"})
    assert r.status_code == 200


# ---- CSRF ----------------------------------------------------------------------------------------


def test_cookie_bearing_state_changes_need_a_trusted_origin(srv: RunningServer, admin: httpx.Client) -> None:
    cookies = dict(admin.cookies)
    with srv.client(cookies=cookies) as bare:
        r = bare.post("/api/auth/revoke-other-sessions")
        assert r.status_code == 403 and r.json()["code"] == "MISSING_OR_NULL_ORIGIN"
        r = bare.post("/api/auth/revoke-other-sessions", headers={"origin": "null"})
        assert r.status_code == 403 and r.json()["code"] == "MISSING_OR_NULL_ORIGIN"
        r = bare.post("/api/auth/revoke-other-sessions", headers={"origin": "https://evil.example"})
        assert r.status_code == 403 and r.json()["code"] == "INVALID_ORIGIN"
        r = bare.post("/api/auth/revoke-other-sessions", headers={"referer": "https://evil.example/page"})
        assert r.json()["code"] == "INVALID_ORIGIN"
        r = bare.post("/api/auth/revoke-other-sessions", headers={"referer": srv.base_url + "/admin/x"})
        assert r.status_code == 200
        # reads are not checked
        assert bare.get("/api/auth/get-session").json() is not None
    # no cookie at all (curl, servers): no origin needed
    _unthrottle(srv)
    r = httpx.post(srv.base_url + "/api/auth/sign-in/email", json={"email": ADMIN, "password": ADMIN_PW})
    assert r.status_code == 200


# ---- routing ----------------------------------------------------------------------------------


def test_unrouted_auth_paths_are_404_and_sign_up_does_not_exist(srv: RunningServer) -> None:
    r = httpx.post(srv.base_url + "/api/auth/sign-up/email", json={"email": "x@example.com", "password": "p" * 9})
    assert r.status_code == 404 and r.json() == {"error": "not found"}
    assert httpx.get(srv.base_url + "/api/auth/whatever").json() == {"error": "not found"}
    wrong_method = httpx.get(srv.base_url + "/api/auth/sign-in/email")
    assert wrong_method.status_code == 404 and wrong_method.content == b""
    assert srv.sql("SELECT count(*) FROM users WHERE email = 'x@example.com'") == [(0,)]


def test_admin_routes_need_a_session_and_the_admin_role(srv: RunningServer, admin: httpx.Client) -> None:
    r = httpx.get(srv.base_url + "/api/auth/admin/list-users")
    assert r.status_code == 401
    make_user(admin, "plain@example.com", "plain-pass-123")
    plain = sign_in(srv, "plain@example.com", "plain-pass-123")
    r = plain.get("/api/auth/admin/list-users")
    assert r.status_code == 403
    assert r.json() == {"message": "You are not allowed to list users", "code": "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS"}
    r = plain.post("/api/auth/admin/create-user", json={"email": "e@example.com", "password": "p" * 9})
    assert r.json()["code"] == "YOU_ARE_NOT_ALLOWED_TO_CREATE_USERS"
    # the cookie works on the REST admin API too, with its own envelope
    assert plain.get("/v1/admin/users").json() == {"error": "admin only"}
    plain.close()
    page = admin.get("/api/auth/admin/list-users", params={"limit": 1, "offset": 0}).json()
    assert page["limit"] == 1 and page["offset"] == 0 and len(page["users"]) == 1 and page["total"] >= 2
    dup = admin.post("/api/auth/admin/create-user", json={"email": "PLAIN@example.com", "password": "p" * 9})
    assert dup.status_code == 400 and dup.json()["code"] == "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL"
    short = admin.post("/api/auth/admin/create-user", json={"email": "s@example.com", "password": "short"})
    assert short.status_code == 400 and short.json()["code"] == "PASSWORD_TOO_SHORT"


# ---- last admin, ban, change password ---------------------------------------------------------------


def test_the_last_admin_can_be_neither_demoted_nor_removed(srv: RunningServer, admin: httpx.Client) -> None:
    me = admin.get("/api/auth/get-session").json()["user"]["id"]
    srv.sql("UPDATE users SET role = 'user' WHERE role = 'admin' AND id <> %s", (me,))
    r = admin.post("/api/auth/admin/set-role", json={"userId": me, "role": "user"})
    assert r.status_code == 400
    assert r.json() == {
        "error": "cannot demote the last admin — promote another user first",
        "code": "LAST_ADMIN_PROTECTED",
    }
    # the last-admin guard answers before the self check, as the reference evaluates it first
    r = admin.post("/api/auth/admin/remove-user", json={"userId": me})
    assert r.status_code == 400
    assert r.json() == {
        "error": "cannot delete the last admin — promote another user first",
        "code": "LAST_ADMIN_PROTECTED",
    }
    r = admin.delete(f"/v1/admin/users/{me}")
    assert (r.status_code, r.json()["error"]) == (400, "admins cannot delete themselves")
    r = admin.post("/api/auth/admin/set-role", json={"userId": "01NOSUCHUSER0000000000000", "role": "admin"})
    assert r.status_code == 404 and r.json()["code"] == "USER_NOT_FOUND"
    assert srv.sql("SELECT role FROM users WHERE id = %s", (me,)) == [("admin",)]


def test_two_admins_demoting_each_other_at_once_leave_one_admin(srv: RunningServer, admin: httpx.Client) -> None:
    me = admin.get("/api/auth/get-session").json()["user"]["id"]
    srv.sql("UPDATE users SET role = 'user' WHERE role = 'admin' AND id <> %s", (me,))
    other = make_user(admin, "second-admin@example.com", "second-pass-1", role="admin")
    second = sign_in(srv, "second-admin@example.com", "second-pass-1")
    results: list[int] = []

    def demote(client: httpx.Client, target: str) -> None:
        results.append(client.post("/api/auth/admin/set-role", json={"userId": target, "role": "user"}).status_code)

    threads = [threading.Thread(target=demote, args=a) for a in ((admin, other), (second, me))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results)[0] == 200 and sorted(results)[1] in (400, 403)
    assert srv.sql("SELECT count(*) FROM users WHERE role = 'admin'") == [(1,)]
    survivor = srv.sql("SELECT id FROM users WHERE role = 'admin'")[0][0]
    if survivor != me:  # put the module's admin back
        srv.sql("UPDATE users SET role = 'admin' WHERE id = %s", (me,))
    second.close()


def test_ban_ends_sessions_and_tokens_and_unban_restores(srv: RunningServer, admin: httpx.Client) -> None:
    created = admin.post("/v1/admin/users", json={"email": "banme@example.com", "password": "banme-pass-1"})
    assert created.status_code == 201, created.text
    uid, token = created.json()["userId"], created.json()["token"]
    user = sign_in(srv, "banme@example.com", "banme-pass-1")
    bearer = {"authorization": f"Bearer {token}"}
    assert httpx.post(srv.base_url + "/v1/recent", json={}, headers=bearer).status_code == 200
    r = admin.post("/api/auth/admin/ban-user", json={"userId": uid, "banReason": "spam"})
    assert r.status_code == 200 and r.json()["user"]["banned"] is True
    assert user.get("/api/auth/get-session").json() is None
    assert httpx.post(srv.base_url + "/v1/recent", json={}, headers=bearer).status_code == 401
    _unthrottle(srv)
    r = httpx.post(
        srv.base_url + "/api/auth/sign-in/email", json={"email": "banme@example.com", "password": "banme-pass-1"}
    )
    assert r.status_code == 403 and r.json()["code"] == "BANNED_USER"
    # a ban whose time has passed no longer applies
    srv.sql("UPDATE users SET ban_expires = now() - interval '1 minute' WHERE id = %s", (uid,))
    sign_in(srv, "banme@example.com", "banme-pass-1").close()
    srv.sql("UPDATE users SET ban_expires = NULL WHERE id = %s", (uid,))
    assert admin.post("/api/auth/admin/unban-user", json={"userId": uid}).json()["user"]["banned"] is False
    assert httpx.post(srv.base_url + "/v1/recent", json={}, headers=bearer).status_code == 200
    me = admin.get("/api/auth/get-session").json()["user"]["id"]
    r = admin.post("/api/auth/admin/ban-user", json={"userId": me})
    assert r.status_code == 400 and r.json()["code"] == "YOU_CANNOT_BAN_YOURSELF"
    actions = [e["action"] for e in admin.get("/v1/admin/audit-log").json()["entries"]]
    assert actions.index("user.unban") < actions.index("user.ban")
    user.close()


def test_change_password_checks_the_current_one_and_clears_must_change(srv: RunningServer, admin: httpx.Client) -> None:
    make_user(admin, "changer@example.com", "initial-pass-1", role="admin", settled=False)
    client = sign_in(srv, "changer@example.com", "initial-pass-1")
    other = sign_in(srv, "changer@example.com", "initial-pass-1")
    assert client.get("/api/auth/get-session").json()["user"]["mustChangePassword"] is True
    # until the password is changed, the session reaches nothing but /api/auth's own session routes
    for method, path in (("GET", "/v1/me/tokens"), ("POST", "/v1/recent"), ("GET", "/v1/admin/users")):
        r = client.request(method, path)
        assert (r.status_code, r.json()) == (403, {"error": "password change required"}), path
    r = client.get("/api/auth/admin/list-users")
    assert (r.status_code, r.json()["code"]) == (403, "PASSWORD_CHANGE_REQUIRED")
    r = client.post("/api/auth/change-password", json={"currentPassword": "initial-pass-1", "newPassword": "short"})
    assert r.status_code == 400 and r.json()["code"] == "PASSWORD_TOO_SHORT"
    r = client.post("/api/auth/change-password", json={"currentPassword": "initial-pass-1", "newPassword": "x" * 257})
    assert r.json()["code"] == "PASSWORD_TOO_LONG"
    r = client.post(
        "/api/auth/change-password", json={"currentPassword": "wrong-pass-1", "newPassword": "better-pass-2"}
    )
    assert r.status_code == 400 and r.json()["code"] == "INVALID_PASSWORD"
    r = client.post(
        "/api/auth/change-password",
        json={"currentPassword": "initial-pass-1", "newPassword": "better-pass-2", "revokeOtherSessions": True},
    )
    assert r.status_code == 200, r.text
    assert r.json()["user"]["mustChangePassword"] is False and r.json()["token"]
    assert "nm.session_token=" in r.headers["set-cookie"]
    # every other session ended; this client holds the fresh one
    assert other.get("/api/auth/get-session").json() is None
    assert client.get("/api/auth/get-session").json()["user"]["mustChangePassword"] is False
    assert client.get("/v1/me/tokens").status_code == 200
    assert client.get("/api/auth/admin/list-users").status_code == 200
    _unthrottle(srv)
    old = httpx.post(
        srv.base_url + "/api/auth/sign-in/email", json={"email": "changer@example.com", "password": "initial-pass-1"}
    )
    assert old.status_code == 401
    sign_in(srv, "changer@example.com", "better-pass-2").close()
    anonymous = httpx.post(
        srv.base_url + "/api/auth/change-password", json={"currentPassword": "a", "newPassword": "b" * 9}
    )
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "UNAUTHORIZED"
    client.close()
    other.close()


# ---- admin REST: users, erase, audit ----------------------------------------------------------------


def test_admin_rest_creates_lists_and_erases_users(
    srv: RunningServer, admin: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    r = admin.post(
        "/v1/admin/users", json={"email": "erase@example.com", "password": "erase-pass-1", "tokenLabel": "cli"}
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert set(created) == {"userId", "email", "token"} and created["token"].startswith("nm_")
    uid, token = created["userId"], created["token"]
    duplicate = admin.post("/v1/admin/users", json={"email": "ERASE@example.com", "password": "erase-pass-1"})
    assert duplicate.status_code == 409 and duplicate.json()["error"] == "User already exists"
    assert admin.post("/v1/admin/users", json={"email": "nope", "password": "erase-pass-1"}).status_code == 400
    assert admin.post("/v1/admin/users", json={"email": "a@b.c", "password": "short"}).status_code == 400
    assert srv.sql("SELECT name, must_change_password FROM users WHERE id = %s", (uid,)) == [("provisioned-user", True)]
    bearer = {"authorization": f"Bearer {token}"}
    for i in range(3):
        stored = httpx.post(
            srv.base_url + "/v1/remember", json={"content": f"Durable fact number {i} about erasing"}, headers=bearer
        )
        assert stored.status_code == 201, stored.text
    listed = {u["id"]: u for u in admin.get("/v1/admin/users").json()["users"]}
    assert listed[uid]["entryCount"] == 3 and listed[uid]["tokenCount"] == 1 and listed[uid]["role"] == "user"
    assert set(listed[uid]) == {"id", "email", "name", "role", "createdAt", "entryCount", "tokenCount"}

    dry = admin.delete(f"/v1/admin/users/{uid}", params={"dryRun": "true"}).json()
    assert dry == {
        "dryRun": True,
        "wouldDelete": {"userId": uid, "email": "erase@example.com", "entries": 3, "tokens": 1, "ownedProjects": 0},
    }
    assert srv.sql("SELECT count(*) FROM memory_entries WHERE user_id = %s", (uid,)) == [(3,)]
    done = admin.delete(f"/v1/admin/users/{uid}").json()
    assert done == {
        "deleted": True,
        "entriesRemoved": 3,
        "tokensRemoved": 1,
        "projectsDeleted": [],
        "coldCleanup": [],
        "coldCleanupOk": True,
    }
    for table in ("memory_entries", "user_tokens", "auth_sessions", "users"):
        column = "id" if table == "users" else "user_id"
        assert srv.sql(f"SELECT count(*) FROM {table} WHERE {column} = %s", (uid,)) == [(0,)], table
    assert httpx.post(srv.base_url + "/v1/recent", json={}, headers=bearer).status_code == 401
    assert admin.delete(f"/v1/admin/users/{uid}").json() == {"error": "no such user", "code": "USER_NOT_FOUND"}

    entries = admin.get("/v1/admin/audit-log", params={"limit": 500}).json()["entries"]
    mine = [e for e in entries if e["target"] == uid]
    assert [e["action"] for e in mine] == ["admin.user.delete", "admin.user.create"]  # newest first
    assert mine[0]["actorLabel"] == f"user:{ADMIN}" and mine[0]["requestIp"] == "127.0.0.1"
    assert mine[0]["metadata"]["entries"] == 3
    assert admin.get("/v1/admin/audit-log", params={"limit": 0}).status_code == 400
    assert len(admin.get("/v1/admin/audit-log", params={"limit": 1}).json()["entries"]) == 1
    logged = server_log(caplog)
    assert "erase-pass-1" not in logged and token not in logged


def call(srv: RunningServer, method: str, path: str, headers: dict[str, str], body: object = None) -> Any:
    """A request that must succeed; its JSON answer."""
    r = httpx.request(method, srv.base_url + path, json=body, headers=headers)
    assert r.status_code in (200, 201), r.text
    return r.json()


def shared_project(
    srv: RunningServer, admin: httpx.Client, domain: str, name: str
) -> tuple[str, tuple[dict[str, str], str], tuple[dict[str, str], str]]:
    """A project of a new owner with a new member (both users of `domain`): its id, then the owner's and the
    member's (bearer headers, user id)."""
    made = []
    for who in ("owner", "member"):
        body = {"email": f"{who}@{domain}", "password": "feed-pass-12", "tokenLabel": "t"}
        answer = admin.post("/v1/admin/users", json=body).json()
        made.append(({"authorization": f"Bearer {answer['token']}"}, str(answer["userId"])))
    project = call(srv, "POST", "/v1/me/projects", made[0][0], {"name": name})["id"]
    call(srv, "POST", f"/v1/me/projects/{project}/members", made[0][0], {"username": f"member@{domain}"})
    return project, made[0], made[1]


def test_erasing_a_member_tells_the_project_feed_and_leaves_no_trace_of_them(
    srv: RunningServer, admin: httpx.Client
) -> None:
    project, (keeper, _), (leaver, leaver_id) = shared_project(srv, admin, "feed.example.com", "feed-kept")
    theirs = call(
        srv,
        "POST",
        "/v1/remember",
        leaver,
        {"content": "The staging bucket is emptied every night", "project": project},
    )
    kept = call(
        srv, "POST", "/v1/remember", keeper, {"content": "Staging deploys need the release tag", "project": project}
    )
    private = call(srv, "POST", "/v1/remember", leaver, {"content": "My own note about the dentist on Friday"})

    def feed() -> list[dict[str, object]]:
        changes = call(srv, "GET", "/v1/me/changes?limit=500", keeper)["changes"]
        return [c for c in changes if c["projectId"] == project]

    before = feed()
    assert {(c["entryId"], c["change"]) for c in before} == {(theirs["id"], "created"), (kept["id"], "created")}

    assert admin.delete(f"/v1/admin/users/{leaver_id}").json()["entriesRemoved"] == 2
    after = feed()
    # the history stays, and the erased member's memory is reported gone, once
    assert after[: len(before)] == before
    assert [(c["entryId"], c["change"], c["detail"]) for c in after[len(before) :]] == [
        (theirs["id"], "deleted", {"reason": "user_erased"})
    ]
    assert srv.sql("SELECT count(*) FROM memory_changes WHERE user_id = %s", (leaver_id,)) == [(0,)]
    assert srv.sql("SELECT count(*) FROM memory_changes WHERE entry_id = %s", (private["id"],)) == [(0,)]
    assert srv.sql("SELECT id FROM memory_entries WHERE project_id = %s", (project,)) == [(kept["id"],)]


def test_erasing_a_removed_member_leaves_their_removal_notices_with_nobody(
    srv: RunningServer, admin: httpx.Client
) -> None:
    project, (owner, _), (_, former_id) = shared_project(srv, admin, "gone.example.com", "gone-notes")
    entry = call(srv, "POST", "/v1/remember", owner, {"content": "Gone notes are archived yearly", "project": project})[
        "id"
    ]
    call(srv, "DELETE", f"/v1/me/projects/{project}/members/{former_id}", owner)
    assert srv.sql("SELECT user_id FROM memory_changes WHERE addressed AND entry_id = %s", (entry,)) == [(former_id,)]

    assert admin.delete(f"/v1/admin/users/{former_id}").status_code == 200
    # the notice addressed to the erased user goes with them; it is never handed to the project's owner
    assert srv.sql("SELECT count(*) FROM memory_changes WHERE addressed AND entry_id = %s", (entry,)) == [(0,)]
    rows = call(srv, "GET", "/v1/me/changes?limit=500", owner)["changes"]
    assert [(r["entryId"], r["change"]) for r in rows if r["entryId"] == entry] == [(entry, "created")]


def test_erasing_an_owner_tells_the_members_of_their_projects(srv: RunningServer, admin: httpx.Client) -> None:
    project, (founder, founder_id), (staying, _) = shared_project(srv, admin, "owned.example.com", "owned-notes")
    texts = (("Owned notes are kept in the vault", founder), ("The vault opens at nine", staying))
    ids = {call(srv, "POST", "/v1/remember", who, {"content": text, "project": project})["id"] for text, who in texts}
    mark = max(c["seq"] for c in call(srv, "GET", "/v1/me/changes", staying)["changes"])

    assert admin.delete(f"/v1/admin/users/{founder_id}").json()["entriesRemoved"] == 2
    rows = call(srv, "GET", f"/v1/me/changes?afterSeq={mark}", staying)["changes"]
    assert sorted((r["entryId"], r["projectId"], r["change"], r["detail"]["reason"]) for r in rows) == sorted(
        (i, project, "deleted", "project_deleted") for i in ids
    )
    assert srv.sql("SELECT count(*) FROM memory_changes WHERE user_id = %s", (founder_id,)) == [(0,)]


def test_audit_rows_cannot_be_changed_or_deleted(srv: RunningServer) -> None:
    with pytest.raises(psycopg.errors.RaiseException):
        srv.sql("UPDATE admin_audit_log SET action = 'forged'")
    with pytest.raises(psycopg.errors.RaiseException):
        srv.sql("DELETE FROM admin_audit_log")


def test_admin_rest_refuses_non_admins_and_tenant_routes_are_404_in_user_mode(
    srv: RunningServer, admin: httpx.Client
) -> None:
    assert httpx.get(srv.base_url + "/v1/admin/users").json() == {"error": "unauthorized"}
    created = admin.post("/v1/admin/users", json={"email": "rest-plain@example.com", "password": "rest-plain-1"}).json()
    bearer = {"authorization": f"Bearer {created['token']}"}
    assert httpx.get(srv.base_url + "/v1/admin/users", headers=bearer).json() == {"error": "admin only"}
    assert httpx.get(srv.base_url + "/v1/admin/audit-log", headers=bearer).status_code == 403
    r = admin.get("/v1/admin/tenants")
    assert r.status_code == 404 and r.json()["error"] == "Not Found"
    assert admin.post("/v1/admin/tenants", json={"name": "x"}).status_code == 404
    # an admin's own full token reaches the admin API (non-interactive provisioning)
    admin_id = admin.get("/api/auth/get-session").json()["user"]["id"]
    r = admin.put(f"/v1/admin/users/{created['userId']}/role", json={"role": "admin"})
    assert r.status_code == 200 and r.json()["role"] == "admin"
    assert httpx.get(srv.base_url + "/v1/admin/users", headers=bearer).status_code == 200
    assert admin.put(f"/v1/admin/users/{created['userId']}/role", json={"role": "user"}).json()["role"] == "user"
    assert admin.put(f"/v1/admin/users/{admin_id}/role", json={"role": "root"}).status_code == 400


# ---- admin update-user, impersonation ---------------------------------------------------------------


def _audit(admin: httpx.Client, target: str, action: str) -> list[dict[str, Any]]:
    entries = admin.get("/v1/admin/audit-log", params={"limit": 500}).json()["entries"]
    return [e for e in entries if e["target"] == target and e["action"] == action]


def test_admin_update_user_changes_name_and_email(srv: RunningServer, admin: httpx.Client) -> None:
    uid = make_user(admin, "rename-me@example.com", "rename-pass-1")
    before = admin.get("/api/auth/admin/list-users", params={"limit": 1000}).json()["users"]
    old = next(u for u in before if u["id"] == uid)
    r = admin.post(
        "/api/auth/admin/update-user",
        json={"userId": uid, "data": {"name": "  Renamed Person ", "email": "Renamed@Example.com"}},
    )
    assert r.status_code == 200, r.text
    user = r.json()["user"]
    assert set(user) == set(old)  # the same user shape as create-user / list-users
    assert (user["id"], user["name"], user["email"]) == (uid, "Renamed Person", "renamed@example.com")
    assert user["role"] == "user" and user["banned"] is False and user["updatedAt"] >= old["updatedAt"]
    # sign-in follows the new email; the old one is gone
    _unthrottle(srv)
    gone = httpx.post(
        srv.base_url + "/api/auth/sign-in/email", json={"email": "rename-me@example.com", "password": "rename-pass-1"}
    )
    assert gone.status_code == 401
    renamed = sign_in(srv, "renamed@example.com", "rename-pass-1")
    assert renamed.get("/api/auth/get-session").json()["user"]["name"] == "Renamed Person"
    renamed.close()
    # a name alone leaves the email as it is
    r = admin.post("/api/auth/admin/update-user", json={"userId": uid, "data": {"name": "Only Name"}})
    assert r.status_code == 200 and r.json()["user"]["email"] == "renamed@example.com"
    assert srv.sql("SELECT name, email, role FROM users WHERE id = %s", (uid,)) == [
        ("Only Name", "renamed@example.com", "user")
    ]
    rows = _audit(admin, uid, "user.update")
    assert [e["metadata"] for e in rows] == [{"fields": ["name"]}, {"fields": ["email", "name"]}]  # newest first
    assert rows[1]["actorLabel"] == f"user:{ADMIN}" and rows[1]["requestIp"] == "127.0.0.1"


def test_admin_update_user_refuses_clashes_bad_data_and_users_it_cannot_see(
    srv: RunningServer, admin: httpx.Client
) -> None:
    uid = make_user(admin, "keep-me@example.com", "keep-pass-123")
    make_user(admin, "taken@example.com", "taken-pass-123")

    def update(data: Any, user_id: str = uid, client: httpx.Client = admin) -> httpx.Response:
        return client.post("/api/auth/admin/update-user", json={"userId": user_id, "data": data})

    r = update({"email": "TAKEN@example.com"})
    assert r.status_code == 400
    assert r.json() == {
        "message": "User already exists. Use another email.",
        "code": "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL",
    }
    assert update({"email": ADMIN}).json()["code"] == "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL"
    for bad in ("not-an-email", "", "a @b.c", None, 7):
        r = update({"email": bad})
        assert (r.status_code, r.json()["code"]) == (400, "INVALID_EMAIL"), bad
    for bad in ("", "   ", "x" * 129, None, ["a"]):
        r = update({"name": bad})
        assert r.status_code == 400 and r.json()["message"] == "name must be 1-128 characters", bad
    assert update({"name": "x" * 128}).status_code == 200
    # role, password and ban have their own routes: nothing of a mixed request is applied
    for data in ({"role": "admin"}, {"name": "Sneaky", "password": "new-pass-123"}, {"banned": True}):
        r = update(data)
        assert r.status_code == 400 and r.json()["code"] == "FIELD_NOT_ALLOWED", data
        assert "only name and email" in r.json()["message"]
    assert [i["path"] for i in update({"emailVerified": True, "role": "admin"}).json()["issues"]] == [
        ["data", "emailVerified"],
        ["data", "role"],
    ]
    r = update({})
    assert (r.status_code, r.json()) == (400, {"message": "No data to update", "code": "NO_DATA_TO_UPDATE"})
    assert update("name").status_code == 400  # data must be an object
    assert srv.sql("SELECT email, name, role, banned FROM users WHERE id = %s", (uid,)) == [
        ("keep-me@example.com", "x" * 128, "user", False)
    ]
    # unknown ids and users of another tenant are the same USER_NOT_FOUND, and stay untouched
    srv.sql("INSERT INTO tenants (id, name) VALUES ('t-upd-other', 'other') ON CONFLICT DO NOTHING")
    srv.sql(
        "INSERT INTO users (id, tenant_id, email, name) VALUES ('u-upd-other', 't-upd-other', 'far@example.com', 'Far')"
        " ON CONFLICT DO NOTHING"
    )
    for target in ("01NOSUCHUSER0000000000000", "u-upd-other"):
        r = update({"name": "Hijacked"}, user_id=target)
        assert (r.status_code, r.json()) == (404, {"message": "User not found", "code": "USER_NOT_FOUND"}), target
    assert srv.sql("SELECT name, email FROM users WHERE id = 'u-upd-other'") == [("Far", "far@example.com")]
    # only admins, only with a session, only from a trusted origin
    plain = sign_in(srv, "taken@example.com", "taken-pass-123")
    r = update({"name": "Hijacked"}, client=plain)
    assert r.status_code == 403
    assert r.json() == {"message": "You are not allowed to update users", "code": "YOU_ARE_NOT_ALLOWED_TO_UPDATE_USERS"}
    plain.close()
    r = httpx.post(srv.base_url + "/api/auth/admin/update-user", json={"userId": uid, "data": {"name": "Anon"}})
    assert r.status_code == 401
    with srv.client(cookies=dict(admin.cookies), headers={"origin": "https://evil.example"}) as evil:
        assert update({"name": "Evil"}, client=evil).json()["code"] == "INVALID_ORIGIN"
    assert srv.sql("SELECT name FROM users WHERE id = %s", (uid,)) == [("x" * 128,)]
    # refused attempts leave no audit row; the one accepted change left one
    assert [e["metadata"] for e in _audit(admin, uid, "user.update")] == [{"fields": ["name"]}]
    assert _audit(admin, "u-upd-other", "user.update") == []


def test_impersonation_is_disabled_for_everyone_and_records_nothing(srv: RunningServer, admin: httpx.Client) -> None:
    uid = make_user(admin, "impersonated@example.com", "imp-pass-1234")
    plain = sign_in(srv, "impersonated@example.com", "imp-pass-1234")
    audit_rows = srv.sql("SELECT count(*) FROM admin_audit_log")
    sessions = srv.sql("SELECT count(*) FROM auth_sessions")
    refusal = {
        "message": "impersonation is not available: admins manage identities, not memories",
        "code": "IMPERSONATION_DISABLED",
    }
    anonymous = srv.client()
    for client in (admin, plain, anonymous):
        for path, body in (("impersonate-user", {"userId": uid}), ("stop-impersonating", None)):
            r = client.post(f"/api/auth/admin/{path}", json=body)
            assert (r.status_code, r.json()) == (403, refusal), path
            assert "set-cookie" not in r.headers
    anonymous.close()
    # the CSRF check still comes first
    with srv.client(cookies=dict(admin.cookies), headers={"origin": "https://evil.example"}) as evil:
        assert evil.post("/api/auth/admin/impersonate-user", json={"userId": uid}).json()["code"] == "INVALID_ORIGIN"
    assert srv.sql("SELECT count(*) FROM admin_audit_log") == audit_rows
    assert srv.sql("SELECT count(*) FROM auth_sessions") == sessions
    assert admin.get("/api/auth/get-session").json()["user"]["email"] == ADMIN
    wrong_method = httpx.get(srv.base_url + "/api/auth/admin/impersonate-user")
    assert wrong_method.status_code == 404 and wrong_method.content == b""
    plain.close()
