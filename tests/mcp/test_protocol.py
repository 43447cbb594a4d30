"""Protocol versions and bad input on `/mcp`: every malformed request gets the protocol's error answer, never a
500, and never touches stored data."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import RunningServer
from tests.http.identity_helpers import add_user, cli, mint, start_user_server

ANA = "ana@example.com"
ACCEPT = "application/json, text/event-stream"
INIT: dict[str, Any] = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
SEED = "Protocol test seed: the billing service retries webhooks three times with exponential backoff."


@pytest.fixture(scope="module")
def srv(make_database: Callable[[], str]) -> Iterator[RunningServer]:
    server = start_user_server(make_database())
    add_user(server, ANA)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def token(srv: RunningServer) -> str:
    value = mint(srv, ANA)
    with srv.client(headers={"authorization": f"Bearer {value}"}) as client:
        assert client.post("/v1/remember", json={"content": SEED, "force": True}).status_code == 201
    return value


@pytest.fixture(autouse=True)
def _no_sessions(srv: RunningServer) -> None:
    srv.sql("DELETE FROM mcp_sessions")


def snapshot(srv: RunningServer) -> list[tuple[Any, ...]]:
    return srv.sql("SELECT id, content, updated_at FROM memory_entries ORDER BY id")


def raw(srv: RunningServer, token: str, body: bytes | str, **headers: str) -> httpx.Response:
    sent = {"authorization": f"Bearer {token}", "accept": ACCEPT, "content-type": "application/json", **headers}
    return httpx.post(f"{srv.base_url}/mcp", content=body, headers=sent, timeout=30)


def session_of(srv: RunningServer, token: str, version: str = "2025-06-18") -> dict[str, str]:
    body = dict(INIT, params=dict(INIT["params"], protocolVersion=version))
    response = raw(srv, token, json.dumps(body))
    assert response.status_code == 200, response.text
    return {"mcp-session-id": response.headers["mcp-session-id"], "mcp-protocol-version": version}


@pytest.mark.parametrize("version", ["2024-11-05", "2025-06-18", "2025-11-25"])
def test_handshake_versions_are_negotiated(srv: RunningServer, token: str, version: str) -> None:
    body = dict(INIT, params=dict(INIT["params"], protocolVersion=version))
    response = raw(srv, token, json.dumps(body))
    assert response.status_code == 200
    result = response.json()["result"]
    assert result["protocolVersion"] == version
    assert result["serverInfo"]["name"] == "novamem"
    assert "memory_context" in result["instructions"]


def test_unknown_requested_version_gets_the_latest_handshake_version(srv: RunningServer, token: str) -> None:
    body = dict(INIT, params=dict(INIT["params"], protocolVersion="2023-01-01"))
    response = raw(srv, token, json.dumps(body))
    assert response.status_code == 200
    assert response.json()["result"]["protocolVersion"] == "2025-11-25"


def test_unsupported_protocol_version_header_answers_400(srv: RunningServer, token: str) -> None:
    before = snapshot(srv)
    call = {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "memory_stats", "arguments": {}}}
    response = raw(srv, token, json.dumps(call), **{"mcp-protocol-version": "1999-01-01"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == -32022
    assert "2026-07-28" in error["data"]["supported"] and error["data"]["requested"] == "1999-01-01"
    assert snapshot(srv) == before


@contextlib.asynccontextmanager
async def modern(srv: RunningServer, token: str) -> AsyncIterator[ClientSession]:
    http = httpx2.AsyncClient(headers={"authorization": f"Bearer {token}"}, timeout=30)
    async with (
        http,
        streamable_http_client(f"{srv.base_url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        yield session


async def test_stateless_revision_discovers_and_calls_tools(srv: RunningServer, token: str) -> None:
    async with modern(srv, token) as session:
        found = await session.discover()
        assert "2026-07-28" in found.supported_versions
        assert "memory_context" in (found.instructions or "")
        tools = {tool.name for tool in (await session.list_tools()).tools}
        assert {"memory_search", "project_list"} <= tools
        result = await session.call_tool("memory_search", {"query": "billing webhooks retries", "k": 3})
        assert not result.is_error, result.content
        assert SEED in [r["content"] for r in (result.structured_content or {})["results"]]
    # no session bookkeeping for the stateless revision
    assert (
        srv.sql("SELECT count(*) FROM mcp_sessions WHERE user_id = (SELECT id FROM users WHERE email = %s)", (ANA,))[0][
            0
        ]
        == 0
    )


BAD_BODIES: list[tuple[str, bytes, int, int]] = [
    ("not json", b"{not json", 400, -32700),
    ("truncated", b'{"jsonrpc": "2.0", "id": 1, "method": "tools/li', 400, -32700),
    ("batch", json.dumps([INIT, INIT]).encode(), 400, -32600),
    ("empty batch", b"[]", 400, -32600),
    ("empty body", b"", 400, -32700),
]


@pytest.mark.parametrize(("label", "body", "status", "code"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_malformed_bodies(srv: RunningServer, token: str, label: str, body: bytes, status: int, code: int) -> None:
    before = snapshot(srv)
    for headers in ({}, session_of(srv, token)):
        response = raw(srv, token, body, **headers)
        assert response.status_code == status, (label, response.text)
        assert response.json()["error"]["code"] == code
    assert snapshot(srv) == before


@pytest.mark.parametrize(
    "message",
    [
        {"jsonrpc": "2.0", "id": 5},  # no method
        {"jsonrpc": "1.0", "id": 5, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": "nope"},
        {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"arguments": {}}},  # no tool name
        {"jsonrpc": "2.0", "id": {"nested": 1}, "method": "tools/list"},
        "just a string",
        42,
    ],
)
def test_invalid_json_rpc_messages_get_protocol_errors(srv: RunningServer, token: str, message: Any) -> None:
    before = snapshot(srv)
    response = raw(srv, token, json.dumps(message), **session_of(srv, token))
    assert response.status_code < 500, response.text
    assert response.status_code in (200, 400)
    assert response.json()["error"]["code"] in (-32600, -32602, -32700)
    assert snapshot(srv) == before


def test_unknown_method_and_tool(srv: RunningServer, token: str) -> None:
    headers = session_of(srv, token)
    response = raw(srv, token, json.dumps({"jsonrpc": "2.0", "id": 9, "method": "resources/list"}), **headers)
    assert response.json()["error"]["code"] == -32601
    call = {"jsonrpc": "2.0", "id": 10, "method": "tools/call", "params": {"name": "memory_nope", "arguments": {}}}
    answer = raw(srv, token, json.dumps(call), **headers).json()
    assert answer["error"] == {"code": -32602, "message": "Unknown tool: memory_nope"}


def test_bad_arguments_name_the_field(srv: RunningServer, token: str) -> None:
    headers = session_of(srv, token)
    cases = [
        ({"query": ""}, "invalid argument 'query'"),
        ({"query": "x", "k": "many"}, "invalid argument 'k'"),
        ({"query": "x", "weights": {"keyword": -1}}, "invalid argument 'weights.keyword'"),
    ]
    for arguments, expected in cases:
        call = {
            "jsonrpc": "2.0",
            "id": 11,
            "method": "tools/call",
            "params": {"name": "memory_search", "arguments": arguments},
        }
        result = raw(srv, token, json.dumps(call), **headers).json()["result"]
        assert result["isError"] is True, arguments
        assert expected in result["content"][0]["text"], (arguments, result)


def test_notifications_are_accepted_without_an_answer(srv: RunningServer, token: str) -> None:
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    response = raw(srv, token, json.dumps(note), **session_of(srv, token))
    assert response.status_code == 202


def test_oversized_body_answers_413_and_stores_nothing(srv: RunningServer, token: str) -> None:
    before = snapshot(srv)
    content = "x" * (2 * 1024 * 1024 + 10)
    call = {
        "jsonrpc": "2.0",
        "id": 12,
        "method": "tools/call",
        "params": {"name": "memory_remember", "arguments": {"content": content}},
    }
    response = raw(srv, token, json.dumps(call), **session_of(srv, token))
    assert response.status_code == 413
    assert snapshot(srv) == before


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_wrong_content_type_answers_415(srv: RunningServer, token: str, content_type: str) -> None:
    response = raw(srv, token, json.dumps(INIT), **{"content-type": content_type})
    assert response.status_code == 415
    assert response.json()["error"]["message"] == "Unsupported Media Type: Content-Type must be application/json"
    assert "mcp-session-id" not in response.headers


def test_wrong_accept_header_is_refused_and_leaves_no_session(srv: RunningServer, token: str) -> None:
    user_sessions = "SELECT count(*) FROM mcp_sessions WHERE user_id = (SELECT id FROM users WHERE email = %s)"
    before = srv.sql(user_sessions, (ANA,))[0][0]
    response = raw(srv, token, json.dumps(INIT), accept="text/html")
    assert response.status_code == 406
    assert srv.sql(user_sessions, (ANA,))[0][0] == before


def test_other_methods_are_not_allowed(srv: RunningServer, token: str) -> None:
    response = httpx.put(f"{srv.base_url}/mcp", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 405


def test_revoked_token_gets_401_mid_session(srv: RunningServer) -> None:
    doomed = mint(srv, ANA, "--label", "doomed")
    headers = session_of(srv, doomed)
    listed = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    assert raw(srv, doomed, json.dumps(listed), **headers).status_code == 200
    code, _, err = cli(srv, "token", "revoke", "--token", doomed)
    assert code == 0, err
    before = snapshot(srv)
    call = {
        "jsonrpc": "2.0",
        "id": 3,
        "method": "tools/call",
        "params": {
            "name": "memory_remember",
            "arguments": {"content": "after revocation this must never be stored anywhere"},
        },
    }
    response = raw(srv, doomed, json.dumps(call), **headers)
    assert response.status_code == 401
    assert snapshot(srv) == before
