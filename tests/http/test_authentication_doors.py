"""One authentication for every door: a credential is the same caller over REST and MCP, a revoked or
refused credential is refused by both in each door's shape, and public routes ignore credentials."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from novamem.domain.credentials import hash_secret
from tests.conftest import RunningServer
from tests.http.identity_helpers import add_user, as_token, mint, session_cookie, start_user_server

ANA, BEN, OWNER = "door-ana@example.com", "door-ben@example.com", "door-owner@example.com"
ACCEPT = "application/json, text/event-stream"
INIT: dict[str, Any] = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
UNAUTHORIZED = (401, {"error": "unauthorized"})
PUBLIC = ("/live", "/ready", "/health", "/openapi.json", "/api-docs", "/.well-known/oauth-protected-resource")


@pytest.fixture(scope="module")
def srv(make_database: Callable[[], str]) -> Iterator[RunningServer]:
    server = start_user_server(make_database())
    server.ids = {email: add_user(server, email) for email in (ANA, BEN, OWNER)}  # type: ignore[attr-defined]
    yield server
    server.stop()


class Mcp:
    """A raw MCP client over one credential (headers), with the session it opened."""

    def __init__(self, srv: RunningServer, headers: dict[str, str]) -> None:
        self.url = f"{srv.base_url}/mcp"
        self.headers = {"accept": ACCEPT, "content-type": "application/json", **headers}
        self.session: dict[str, str] = {}

    def post(self, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(self.url, content=json.dumps(body), headers={**self.headers, **self.session}, timeout=30)

    def open(self) -> None:
        response = self.post(INIT)
        assert response.status_code == 200, response.text
        self.session = {"mcp-session-id": response.headers["mcp-session-id"], "mcp-protocol-version": "2025-06-18"}

    def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        body = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
        response = self.post(body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()["result"]
        return result


def owner_of(srv: RunningServer, content: str) -> list[tuple[Any, ...]]:
    return srv.sql("SELECT tenant_id, user_id FROM memory_entries WHERE content = %s", (content,))


def recent_ids_over_rest(client: httpx.Client) -> set[str]:
    return {r["id"] for r in client.post("/v1/recent", json={"k": 100}).json()["results"]}


def recent_ids_over_mcp(mcp: Mcp) -> set[str]:
    return {r["id"] for r in mcp.call("memory_recent", {"k": 100})["structuredContent"]["results"]}


@pytest.mark.parametrize("credential", ["token", "session"])
def test_a_credential_is_the_same_caller_on_both_doors(srv: RunningServer, credential: str) -> None:
    user = srv.ids[ANA]  # type: ignore[attr-defined]
    if credential == "token":
        headers = {"authorization": f"Bearer {mint(srv, ANA)}"}
    else:
        headers = {"cookie": "; ".join(f"{k}={v}" for k, v in session_cookie(srv, user).items())}
    case = {"token": "alpha", "session": "beta"}[credential]  # (credential words would make it sensitive)
    over_mcp, over_rest = f"Written over MCP in case {case}.", f"Written over REST in case {case}."
    mcp = Mcp(srv, headers)
    mcp.open()
    written = mcp.call("memory_remember", {"content": over_mcp, "force": True})
    assert not written["isError"], written
    with srv.client(headers=headers) as rest:
        stored = rest.post("/v1/remember", json={"content": over_rest, "force": True})
        assert stored.status_code == 201
        seen_by_rest = recent_ids_over_rest(rest)
    seen_by_mcp = recent_ids_over_mcp(mcp)
    assert owner_of(srv, over_mcp) == owner_of(srv, over_rest) == [("default", user)]
    assert seen_by_rest == seen_by_mcp and stored.json()["id"] in seen_by_mcp
    with as_token(srv, mint(srv, BEN)) as ben:  # and nobody else's
        assert not recent_ids_over_rest(ben) & seen_by_rest


def test_a_read_only_token_is_read_only_on_both_doors(srv: RunningServer) -> None:
    reader = mint(srv, ANA, "--scope", "read_only")
    content = "A read-only token tries to write this through either door."
    with as_token(srv, reader) as rest:
        r = rest.post("/v1/remember", json={"content": content})
        assert (r.status_code, r.json()) == (403, {"error": "read-only token"})
        assert rest.post("/v1/recent", json={}).status_code == 200
    mcp = Mcp(srv, {"authorization": f"Bearer {reader}"})
    mcp.open()
    refused = mcp.call("memory_remember", {"content": content})
    assert refused["isError"] and refused["content"][0]["text"] == "error: read-only token"
    assert owner_of(srv, content) == []


def test_a_revoked_token_is_refused_by_both_doors(srv: RunningServer) -> None:
    token = mint(srv, ANA)
    mcp = Mcp(srv, {"authorization": f"Bearer {token}"})
    mcp.open()  # an MCP session opened before the revocation
    with as_token(srv, token) as rest:
        for _ in range(2):  # resolved once, then reused
            assert rest.post("/v1/recent", json={}).status_code == 200
            assert not mcp.call("memory_stats", {})["isError"]
        assert rest.delete(f"/v1/me/tokens/{hash_secret(token)}").json() == {"deleted": True}
        r = rest.post("/v1/recent", json={})
        assert (r.status_code, r.json()) == UNAUTHORIZED
    for response in (mcp.post(INIT), mcp.post({"jsonrpc": "2.0", "id": 3, "method": "tools/list"})):
        assert (response.status_code, response.json()) == UNAUTHORIZED
        assert response.headers["www-authenticate"].startswith('Bearer resource_metadata="')


def test_a_refused_credential_gets_each_doors_403(srv: RunningServer) -> None:
    with as_token(srv, mint(srv, OWNER)) as owner:
        project = owner.post("/v1/me/projects", json={"name": "doors"}).json()["id"]
        assert owner.post(f"/v1/me/projects/{project}/members", json={"username": BEN}).status_code == 201
        confined = mint(srv, BEN, "--project", project)
        mcp = Mcp(srv, {"authorization": f"Bearer {confined}"})
        mcp.open()
        member = srv.ids[BEN]  # type: ignore[attr-defined]
        assert owner.delete(f"/v1/me/projects/{project}/members/{member}").status_code == 200
    message = "not a member of the token's project"
    with as_token(srv, confined) as rest:
        r = rest.post("/v1/recent", json={})
        assert (r.status_code, r.json()) == (403, {"error": message})
        for path in PUBLIC:  # public routes never ask for the caller
            assert rest.get(path).status_code == 200, path
    response = mcp.post({"jsonrpc": "2.0", "id": 4, "method": "tools/list"})
    assert response.status_code == 403
    assert response.json() == {"jsonrpc": "2.0", "id": None, "error": {"code": -32000, "message": message}}


@pytest.mark.parametrize(
    "headers",
    [
        {"authorization": "Bearer nm_not-a-real-token"},
        {"authorization": "Basic Zm9vOmJhcg=="},
        {"cookie": "nm.session_token=forged.value"},
        {"authorization": "Bearer nm_expired", "cookie": "nm.session_token="},
    ],
)
def test_public_routes_answer_whatever_credential_is_presented(srv: RunningServer, headers: dict[str, str]) -> None:
    for path in PUBLIC:
        assert httpx.get(srv.base_url + path, headers=headers, timeout=30).status_code == 200, path
    session = httpx.get(srv.base_url + "/api/auth/get-session", headers=headers, timeout=30)
    assert (session.status_code, session.json()) == (200, None)
    r = httpx.post(srv.base_url + "/v1/recent", json={}, headers=headers, timeout=30)
    assert (r.status_code, r.json()) == UNAUTHORIZED
