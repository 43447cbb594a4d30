"""Contract: `/mcp` session answers and cache hints as the reference gives them (HTTP only).

An unknown, closed or foreign `Mcp-Session-Id` answers HTTP 404 `{"error":"unknown sessionId"}` on
POST, GET and DELETE (reference §4.2). `server/discover` of the stateless revision advertises
`ttlMs: 3600000` and `cacheScope: "public"` (§4.3). Accounts and tokens are made through the API
itself; the only thing done outside HTTP is clearing the sign-in throttle's counters.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer, start_server

SECRET = "Hq2wE8rT4yU6iO0pA3sD5fG7hJ9kL1zX"
ADMIN = "mcp-contract-admin@example.com"
ADMIN_PW = "mcp-contract-admin-pass-1"
USER_PW = "mcp-contract-user-pass-1"
ORIGIN = "http://localhost:5173"
COOKIE = "nm.session_token"
ACCEPT = "application/json, text/event-stream"
UNKNOWN = {"error": "unknown sessionId"}
MODERN = "2026-07-28"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}


@pytest.fixture(scope="module")
def srv(make_database: Callable[[], str]) -> Iterator[RunningServer]:
    server = start_server(
        make_database(),
        auth_mode="user",
        cookie_secret=SECRET,
        insecure_cookies=True,
        embeddings_provider="none",
        jobs_enabled=False,
        bootstrap_admin_email=ADMIN,
        bootstrap_admin_password=ADMIN_PW,
    )
    yield server
    server.stop()


def _signed_in(srv: RunningServer, email: str, password: str, new: str) -> dict[str, str]:
    """Headers of a settled session of this account (the forced first password change done)."""
    srv.sql("DELETE FROM rate_counters WHERE key LIKE 'signin-ip:%%'")  # the throttle, not the behaviour
    with srv.client() as anonymous:
        r = anonymous.post("/api/auth/sign-in/email", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        headers = {"origin": ORIGIN, "cookie": f"{COOKIE}={r.cookies[COOKIE]}"}
    with srv.client(headers=headers) as client:
        r = client.post("/api/auth/change-password", json={"currentPassword": password, "newPassword": new})
        assert r.status_code == 200, r.text
    return headers


@pytest.fixture(scope="module")
def tokens(srv: RunningServer) -> dict[str, str]:
    """An API token each for two users, `ana` and `ben`, minted through `/v1/me/tokens`."""
    found: dict[str, str] = {}
    with srv.client(headers=_signed_in(srv, ADMIN, ADMIN_PW, ADMIN_PW + "-settled")) as admin:
        for name in ("ana", "ben"):
            email = f"{name}-mcp-contract@example.com"
            r = admin.post("/api/auth/admin/create-user", json={"email": email, "password": USER_PW, "role": "user"})
            assert r.status_code == 200, r.text
            with srv.client(headers=_signed_in(srv, email, USER_PW, USER_PW + "-settled")) as user:
                minted = user.post("/v1/me/tokens", json={"label": "mcp contract"})
                assert minted.status_code == 201, minted.text
                found[name] = minted.json()["token"]
    return found


def _mcp(
    srv: RunningServer, method: str, token: str, body: Any = None, session: str | None = None, **headers: str
) -> httpx.Response:
    sent = {"authorization": f"Bearer {token}", "accept": ACCEPT, **headers}
    if session is not None:
        sent["mcp-session-id"] = session
    if body is not None:
        sent["content-type"] = "application/json"
    content = json.dumps(body) if body is not None else None
    return httpx.request(method, f"{srv.base_url}/mcp", content=content, headers=sent, timeout=30)


def _open(srv: RunningServer, token: str) -> str:
    r = _mcp(srv, "POST", token, INIT)
    assert r.status_code == 200, r.text
    return r.headers["mcp-session-id"]


def _refusals(srv: RunningServer, token: str, session: str) -> list[httpx.Response]:
    """The same session id on each method that takes one."""
    return [
        _mcp(srv, "POST", token, LIST, session, **{"mcp-protocol-version": "2025-06-18"}),
        _mcp(srv, "GET", token, None, session, accept="text/event-stream"),
        _mcp(srv, "DELETE", token, None, session),
    ]


def _is_unknown(response: httpx.Response) -> bool:
    return (
        response.status_code == 404
        and response.headers["content-type"].startswith("application/json")
        and response.json() == UNKNOWN
    )


@pytest.mark.parametrize("bogus", ["not-a-session", "0" * 43, "x" * 500, "bad id with spaces"])
def test_an_unknown_session_id_answers_404_unknown_session_id(
    srv: RunningServer, tokens: dict[str, str], bogus: str
) -> None:
    for response in _refusals(srv, tokens["ana"], bogus):
        assert _is_unknown(response), (response.request.method, response.status_code, response.text)


def test_another_users_session_id_answers_exactly_like_an_unknown_one(
    srv: RunningServer, tokens: dict[str, str]
) -> None:
    session = _open(srv, tokens["ana"])
    for response in _refusals(srv, tokens["ben"], session):
        assert _is_unknown(response), (response.request.method, response.status_code, response.text)
    # the owner's session is untouched (the foreign DELETE closed nothing)
    listed = _mcp(srv, "POST", tokens["ana"], LIST, session, **{"mcp-protocol-version": "2025-06-18"})
    assert listed.status_code == 200 and "tools" in listed.json()["result"]


def test_a_closed_session_id_answers_404_unknown_session_id(srv: RunningServer, tokens: dict[str, str]) -> None:
    session = _open(srv, tokens["ana"])
    assert _mcp(srv, "DELETE", tokens["ana"], None, session).status_code == 204
    for response in _refusals(srv, tokens["ana"], session):
        assert _is_unknown(response), (response.request.method, response.status_code, response.text)


def _modern(srv: RunningServer, token: str, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    meta = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}}
    body = {"jsonrpc": "2.0", "id": 7, "method": method, "params": {**(params or {}), "_meta": meta}}
    r = _mcp(srv, "POST", token, body, **{"mcp-protocol-version": MODERN, "mcp-method": method})
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()["result"]
    return result


def test_server_discover_advertises_the_reference_cache_ttl(srv: RunningServer, tokens: dict[str, str]) -> None:
    found = _modern(srv, tokens["ana"], "server/discover")
    assert found["resultType"] == "complete"
    assert (found["ttlMs"], found["cacheScope"]) == (3_600_000, "public")
    assert MODERN in found["supportedVersions"]
    assert found["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "novamem"


def test_tools_list_is_fresh_for_an_hour_within_one_caller(srv: RunningServer, tokens: dict[str, str]) -> None:
    # the list depends on the caller's role, so a shared cache may not hand it to another caller
    listed = _modern(srv, tokens["ana"], "tools/list")
    assert (listed["ttlMs"], listed["cacheScope"]) == (3_600_000, "private")
    assert "memory_search" in {tool["name"] for tool in listed["tools"]}
