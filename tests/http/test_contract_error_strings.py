"""The contract's error strings and statuses, over HTTP (and MCP's JSON-RPC over HTTP) against a real server.

Each situation pins the exact string a client matches on and its status, for the strings that
`test_contract_errors.py` does not already pin: request limits, the restricted-token and lockout answers,
quotas and write rejections, the switched-off observer, the Better Auth routes (admin plugin included) and
the MCP tools' texts. Accounts, tokens and projects are made through the API itself; the only thing done
outside HTTP is clearing the sign-in throttle's counters between sign-ins.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer, start_server

SECRET = "Vb7nM2qW9eR4tY6uI8oP1aS3dF5gH0jK"
ADMIN, ADMIN_PW = "strings-admin@example.com", "strings-admin-pass-1"
USER_PW = "strings-user-pass-1"
APP = "http://localhost:5173"
COOKIE = "nm.session_token"
ACCEPT = "application/json, text/event-stream"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


@pytest.fixture(scope="module")
def srv(make_database: Callable[[], str]) -> Iterator[RunningServer]:
    server = start_server(
        make_database(),
        auth_mode="user",
        cookie_secret=SECRET,
        insecure_cookies=True,
        embeddings_provider="none",
        jobs_enabled=False,
        cors_origins=APP,
        bootstrap_admin_email=ADMIN,
        bootstrap_admin_password=ADMIN_PW,
    )
    yield server
    server.stop()


def _unthrottle(srv: RunningServer) -> None:
    srv.sql("DELETE FROM rate_counters WHERE key LIKE 'signin-ip:%%'")  # the throttle, not the behaviour


def _sign_in(srv: RunningServer, email: str, password: str) -> dict[str, str]:
    _unthrottle(srv)
    with srv.client() as anonymous:
        r = anonymous.post("/api/auth/sign-in/email", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        return {"origin": APP, "cookie": f"{COOKIE}={r.cookies[COOKIE]}"}


def _settled(srv: RunningServer, email: str, password: str) -> dict[str, str]:
    """Headers of a session of this account whose forced first password change is done."""
    headers = _sign_in(srv, email, password)
    with srv.client(headers=headers) as c:
        r = c.post("/api/auth/change-password", json={"currentPassword": password, "newPassword": password + "x"})
        assert r.status_code == 200, r.text
    return _sign_in(srv, email, password + "x")


class World:
    """The accounts of this module: the bootstrap admin, two users (sessions and tokens) and a project."""

    def __init__(self, srv: RunningServer) -> None:
        self.srv = srv
        self.admin = _settled(srv, ADMIN, ADMIN_PW)
        with srv.client(headers=self.admin) as admin:
            self.admin_id = admin.get("/api/auth/get-session").json()["user"]["id"]
            self.ids = {}
            for name in ("ana", "ben", "fresh"):
                r = admin.post(
                    "/api/auth/admin/create-user", json={"email": self.email(name), "password": USER_PW, "role": "user"}
                )
                assert r.status_code == 200, r.text
                self.ids[name] = r.json()["user"]["id"]
            self.admin_token = admin.post("/v1/me/tokens", json={"label": "admin"}).json()["token"]
        self.sessions = {name: _settled(srv, self.email(name), USER_PW) for name in ("ana", "ben")}
        with self.session("ana") as ana:
            self.project = ana.post("/v1/me/projects", json={"name": "strings-project"}).json()["id"]
            r = ana.post(f"/v1/me/projects/{self.project}/members", json={"username": self.email("ben")})
            assert r.status_code == 201, r.text
            self.tokens = {"ana": ana.post("/v1/me/tokens", json={"label": "ana"}).json()["token"]}
        with self.session("ben") as ben:
            self.tokens["ben"] = ben.post("/v1/me/tokens", json={"label": "ben"}).json()["token"]
            confined = ben.post("/v1/me/tokens", json={"label": "confined", "project": self.project})
            assert confined.status_code == 201, confined.text
            self.tokens["confined"] = confined.json()["token"]

    @staticmethod
    def email(name: str) -> str:
        return f"{name}-strings@example.com"

    def session(self, name: str) -> httpx.Client:
        return self.srv.client(headers=self.admin if name == "admin" else self.sessions[name])

    def bearer(self, name: str) -> httpx.Client:
        token = self.admin_token if name == "admin" else self.tokens[name]
        return self.srv.client(headers={"authorization": f"Bearer {token}"})


@pytest.fixture(scope="module")
def world(srv: RunningServer) -> World:
    return World(srv)


def refused(r: httpx.Response, status: int, error: str, **extra: Any) -> dict[str, Any]:
    """`status` with `{"error": error}` (plus exactly the `extra` fields given, where given)."""
    body = r.json()
    assert (r.status_code, body.get("error")) == (status, error), r.text
    for key, value in extra.items():
        assert body.get(key) == value, (key, r.text)
    return dict(body)


def better_auth(r: httpx.Response, status: int, code: str, message: str) -> None:
    """Better Auth's `{message, code}` shape."""
    assert (r.status_code, r.json()) == (status, {"message": message, "code": code}), r.text


# ---- the envelope and the request limits ------------------------------------------------------------------


def test_request_limits_answer_their_strings(srv: RunningServer, world: World) -> None:
    with world.bearer("ana") as ana:
        r = ana.post("/v1/search", content=b"", headers={"content-type": "application/json"})
        refused(r, 400, "Body cannot be empty when content-type is set to 'application/json'")
        r = ana.post("/v1/remember", content=b"x" * (2 * 1024 * 1024 + 1), headers={"content-type": "text/plain"})
        refused(r, 413, "request body is too large")
        refused(ana.get("/v1/stats?" + "q" * 3000), 414, "request URI too long")
        deep: Any = "leaf"
        for _ in range(40):
            deep = [deep]
        refused(
            ana.post("/v1/remember", json={"content": "deep", "metadata": {"x": deep}}), 400, "JSON nesting too deep"
        )
        r = ana.get("/v1/no-such-route")
        assert (r.status_code, r.json()) == (
            404,
            {"message": "Route GET:/v1/no-such-route not found", "error": "Not Found", "statusCode": 404},
        )
    with srv.client() as anonymous:
        r = anonymous.options("/v1/search", headers={"origin": APP})  # no Access-Control-Request-Method
        assert (r.status_code, r.text) == (400, "Invalid Preflight Request")


# ---- credentials: confined tokens, lockouts, pending password changes ----------------------------------


def test_a_rest_401_points_at_the_resource_metadata(srv: RunningServer) -> None:
    with srv.client(headers={"authorization": "Bearer nm_" + "B" * 43}) as unknown:
        r = unknown.post("/v1/recent", json={})
        refused(r, 401, "unauthorized")
        metadata = f'Bearer resource_metadata="{srv.base_url}/.well-known/oauth-protected-resource"'
        assert r.headers["www-authenticate"] == metadata


def test_a_confined_token_hears_the_confinement_strings(srv: RunningServer, world: World) -> None:
    with world.bearer("confined") as confined:
        r = confined.post("/v1/search", json={"query": "anything", "includeProjects": ["no-such-name"]})
        refused(r, 404, "no such project 'no-such-name' — call project_list to see ids")
        with world.session("ben") as ben:
            other = ben.post("/v1/me/projects", json={"name": "strings-other"}).json()["id"]
        refused(
            confined.post("/v1/search", json={"query": "x", "project": other}), 403, "token is confined to its project"
        )
        refused(confined.get("/v1/stats"), 403, "token is confined to its project")
        refused(confined.get("/v1/admin/users"), 403, "restricted token")
        with world.session("ana") as ana:  # the owner removes ben: his confined token loses the project
            assert ana.delete(f"/v1/me/projects/{world.project}/members/{world.ids['ben']}").status_code == 200
        try:
            refused(confined.post("/v1/recent", json={}), 403, "not a member of the token's project")
        finally:
            with world.session("ana") as ana:
                ana.post(f"/v1/me/projects/{world.project}/members", json={"username": world.email("ben")})


def test_a_rotation_lockout_answers_error_and_retry_after(srv: RunningServer) -> None:
    unknown = "nm_" + "A" * 43
    with srv.client(headers={"authorization": f"Bearer {unknown}"}) as c:
        for _ in range(5):
            refused(c.post("/v1/auth/rotate-token"), 401, "unauthorized")
        r = c.post("/v1/auth/rotate-token")
        body = refused(r, 429, "too many failed attempts — try again later")
        assert set(body) == {"error", "retryAfter"} and body["retryAfter"] > 0
        assert r.headers["retry-after"] == str(body["retryAfter"])


def test_sign_in_answers_the_better_auth_strings(srv: RunningServer) -> None:
    wrong = {"email": "nobody-strings@example.com", "password": "not-the-password"}
    with srv.client() as anonymous:
        for _ in range(5):
            _unthrottle(srv)
            better_auth(
                anonymous.post("/api/auth/sign-in/email", json=wrong),
                401,
                "INVALID_EMAIL_OR_PASSWORD",
                "Invalid email or password",
            )
        _unthrottle(srv)
        body = refused(
            anonymous.post("/api/auth/sign-in/email", json=wrong), 429, "too many failed attempts — try again later"
        )
        assert set(body) == {"error", "retryAfter"}
        _unthrottle(srv)
        other = {"email": "throttled-strings@example.com", "password": "not-the-password"}
        answers = [anonymous.post("/api/auth/sign-in/email", json=other) for _ in range(4)]
        assert [a.status_code for a in answers] == [401, 401, 401, 429]
        assert answers[-1].json() == {"message": "Too many requests. Please try again later."}
        assert int(answers[-1].headers["x-retry-after"]) > 0
        _unthrottle(srv)
        r = anonymous.post("/api/auth/sign-in/email", json={"email": "not-an-email", "password": "whatever-1"})
        better_auth(r, 400, "INVALID_EMAIL", "Invalid email")


def test_an_account_that_must_change_its_password_hears_so(srv: RunningServer, world: World) -> None:
    with srv.client(headers=_sign_in(srv, world.email("fresh"), USER_PW)) as fresh:
        refused(fresh.get("/v1/me/tokens"), 403, "password change required")
        r = fresh.post("/api/auth/change-password", json={"currentPassword": "wrong-pass-1", "newPassword": "x" * 12})
        better_auth(r, 400, "INVALID_PASSWORD", "Invalid password")
        r = fresh.post("/api/auth/change-password", json={"currentPassword": USER_PW, "newPassword": "short"})
        better_auth(r, 400, "PASSWORD_TOO_SHORT", "Password too short")


# ---- the data plane -----------------------------------------------------------------------------------------


def test_quotas_and_rejections_answer_their_strings(srv: RunningServer, world: World) -> None:
    with world.bearer("admin") as admin, world.bearer("ben") as ben:
        quota = f"/v1/admin/users/{world.ids['ben']}/quota"
        stored = srv.sql("SELECT count(*) FROM memory_entries WHERE user_id = %s", (world.ids["ben"],))[0][0]
        assert admin.put(quota, json={"maxEntries": stored + 1, "writesPerMinute": None}).status_code == 200
        assert ben.post("/v1/remember", json={"content": "Ben keeps exactly one durable fact here"}).status_code == 201
        r = ben.post("/v1/remember", json={"content": "A second durable fact that does not fit"})
        refused(r, 429, f"entry quota exceeded: {stored + 1} stored entries — forget something first")
        assert admin.put(quota, json={"maxEntries": None, "writesPerMinute": 1}).status_code == 200
        assert ben.post("/v1/remember", json={"content": "A first write within the minute is fine"}).status_code == 201
        r = ben.post("/v1/remember", json={"content": "A second write in the same minute is refused"})
        refused(r, 429, "write quota exceeded: 1 writes/minute — retry after the window resets")
        assert admin.put(quota, json={"maxEntries": None, "writesPerMinute": None}).status_code == 200
    with world.bearer("ana") as ana:
        r = ana.post("/v1/remember", json={"content": "ok"})
        assert (r.status_code, r.json()["id"], r.json()["rejected"]) == (201, None, "too short — not durable knowledge")
        r = ana.post("/v1/remember", json={"content": "y" * 4001, "force": True})
        rejected = "too long (4001 chars, max 4000) — split into one fact per entry"
        assert (r.status_code, r.json()["id"], r.json()["rejected"]) == (201, None, rejected)


def test_the_missing_observer_is_switched_off(world: World) -> None:
    with world.bearer("admin") as admin, world.bearer("ana") as ana:
        refused(admin.post("/v1/observe", json={"limit": 5}), 503, "observer disabled")
        refused(ana.get("/v1/context-prefix"), 404, "observer disabled")


# ---- Better Auth: sessions, origins, the admin plugin -------------------------------------------------------


def test_session_routes_answer_the_better_auth_strings(srv: RunningServer, world: World) -> None:
    cookie = world.sessions["ana"]["cookie"]
    with srv.client(headers={"cookie": cookie}) as no_origin:
        r = no_origin.post("/api/auth/revoke-other-sessions")
        better_auth(r, 403, "MISSING_OR_NULL_ORIGIN", "Missing or null Origin")
    with srv.client(headers={"cookie": cookie, "origin": "https://evil.example.net"}) as foreign:
        better_auth(foreign.post("/api/auth/revoke-other-sessions"), 403, "INVALID_ORIGIN", "Invalid origin")
    with srv.client() as anonymous:
        r = anonymous.post("/api/auth/change-password", json={"currentPassword": "a" * 9, "newPassword": "b" * 9})
        better_auth(r, 401, "UNAUTHORIZED", "Unauthorized")
        refused(anonymous.post("/api/auth/not-on-the-allowlist", json={}), 404, "not found")
        r = anonymous.post("/api/auth/get-session", json={})
        message = "POST method requires deferSessionRefresh to be enabled in session config"
        better_auth(r, 405, "METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED", message)


def test_the_admin_plugin_refuses_with_its_codes(srv: RunningServer, world: World) -> None:
    with srv.client() as anonymous:
        r = anonymous.get("/api/auth/admin/list-users")
        assert (r.status_code, r.content) == (401, b"")  # Better Auth's bare 401
    with world.session("ana") as ana:
        r = ana.get("/api/auth/admin/list-users")
        better_auth(r, 403, "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS", "You are not allowed to list users")
        r = ana.post("/api/auth/admin/create-user", json={"email": "x-strings@example.com", "password": USER_PW})
        better_auth(r, 403, "YOU_ARE_NOT_ALLOWED_TO_CREATE_USERS", "You are not allowed to create users")
    with world.session("admin") as admin:
        r = admin.post("/api/auth/admin/create-user", json={"email": world.email("ana"), "password": USER_PW})
        better_auth(r, 400, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL", "User already exists. Use another email.")
        r = admin.post("/api/auth/admin/set-role", json={"userId": "01NOSUCHUSER00000000000000", "role": "user"})
        better_auth(r, 404, "USER_NOT_FOUND", "User not found")
        r = admin.post("/api/auth/admin/ban-user", json={"userId": world.admin_id})
        better_auth(r, 400, "YOU_CANNOT_BAN_YOURSELF", "You cannot ban yourself")
        r = admin.post("/api/auth/admin/update-user", json={"userId": world.ids["ana"], "data": {}})
        better_auth(r, 400, "NO_DATA_TO_UPDATE", "No data to update")


def test_the_last_admin_guard_answers_before_the_self_check(srv: RunningServer, world: World) -> None:
    with world.session("admin") as admin:
        assert [u["role"] for u in admin.get("/api/auth/admin/list-users").json()["users"]].count("admin") == 1
        r = admin.post("/api/auth/admin/remove-user", json={"userId": world.admin_id})
        last = {"error": "cannot delete the last admin — promote another user first", "code": "LAST_ADMIN_PROTECTED"}
        assert (r.status_code, r.json()) == (400, last)
        r = admin.post("/api/auth/admin/set-role", json={"userId": world.admin_id, "role": "user"})
        last = {"error": "cannot demote the last admin — promote another user first", "code": "LAST_ADMIN_PROTECTED"}
        assert (r.status_code, r.json()) == (400, last)
        r = admin.post("/api/auth/admin/create-user", json={"email": "second-strings@example.com", "password": USER_PW})
        second = r.json()["user"]["id"]
        assert admin.post("/api/auth/admin/set-role", json={"userId": second, "role": "admin"}).status_code == 200
        try:  # with another admin, removing yourself is Better Auth's own refusal
            r = admin.post("/api/auth/admin/remove-user", json={"userId": world.admin_id})
            better_auth(r, 400, "YOU_CANNOT_REMOVE_YOURSELF", "You cannot remove yourself")
        finally:
            assert admin.post("/api/auth/admin/remove-user", json={"userId": second}).json() == {"success": True}


# ---- MCP: the tools' texts and the transport's refusals ------------------------------------------------------


def _rpc(srv: RunningServer, token: str, body: dict[str, Any], session: str | None, **headers: str) -> httpx.Response:
    sent = {"authorization": f"Bearer {token}", "accept": ACCEPT, "content-type": "application/json", **headers}
    if session is not None:
        sent["mcp-session-id"] = session
    return httpx.post(f"{srv.base_url}/mcp", content=json.dumps(body), headers=sent, timeout=30)


def _answer(r: httpx.Response) -> dict[str, Any]:
    """The JSON-RPC answer, sent as JSON or as one server-sent event."""
    assert r.status_code == 200, r.text
    if r.headers["content-type"].startswith("application/json"):
        return dict(r.json())
    data = [line[5:].strip() for line in r.text.splitlines() if line.startswith("data:")]
    return dict(json.loads(data[-1]))


@pytest.fixture(scope="module")
def mcp(srv: RunningServer, world: World) -> Callable[[str, dict[str, Any]], dict[str, Any]]:
    """Calls a tool as ana over one MCP session; answers the JSON-RPC answer."""
    token = world.tokens["ana"]
    r = _rpc(srv, token, INIT, None)
    session = r.headers["mcp-session-id"]
    _rpc(srv, token, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
    ids = iter(range(100, 10_000))

    def call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        body = {
            "jsonrpc": "2.0",
            "id": next(ids),
            "method": "tools/call",
            "params": {"name": name, "arguments": arguments},
        }
        return _answer(_rpc(srv, token, body, session, **{"mcp-protocol-version": "2025-06-18"}))

    return call


def _tool_error(answer: dict[str, Any]) -> str:
    result = answer["result"]
    assert result["isError"] is True, answer
    return str(result["content"][0]["text"])


def test_project_tools_keep_the_references_wording(
    world: World, mcp: Callable[[str, dict[str, Any]], dict[str, Any]]
) -> None:
    share = {"project": world.project, "username": "nobody-strings@example.com"}
    assert _tool_error(mcp("project_share", share)) == (
        "error: unknown user 'nobody-strings@example.com' — share by exact email address"
    )
    mine = {"project": world.project, "username": world.email("ana")}
    assert _tool_error(mcp("project_unshare", mine)) == (
        "error: the owner cannot unshare themselves — delete the project instead"
    )
    assert _tool_error(mcp("project_delete", {"project": "no-such-name"})) == (
        "error: no such project 'no-such-name' — call project_list to see ids"
    )
    assert _tool_error(mcp("memory_search", {})) == "error: invalid argument 'query': Field required"
    assert _tool_error(mcp("admin_list_users", {})) == "error: admin only"
    unknown = mcp("no_such_tool", {})
    assert unknown["error"] == {"code": -32602, "message": "Unknown tool: no_such_tool"}


def test_the_mcp_transport_refuses_with_its_strings(srv: RunningServer, world: World) -> None:
    token = world.tokens["ana"]
    listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    r = _rpc(srv, token, listing, None)
    missing = "Bad Request: missing Mcp-Session-Id (only POST initialize may omit it)"
    assert (r.status_code, r.json()["error"]) == (400, {"code": -32000, "message": missing})
    r = _rpc(srv, token, INIT, None, origin="https://evil.example.net")
    forbidden = "Forbidden: origin 'https://evil.example.net' not in allowlist"
    assert (r.status_code, r.json()["error"]) == (403, {"code": -32000, "message": forbidden})
    r = httpx.post(f"{srv.base_url}/mcp", json=INIT, headers={"accept": ACCEPT}, timeout=30)
    assert (r.status_code, r.json()) == (401, {"error": "unauthorized"})
    assert r.headers["www-authenticate"].startswith('Bearer resource_metadata="')
