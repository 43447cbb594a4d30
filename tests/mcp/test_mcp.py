"""The `/mcp` endpoint through the official MCP Python client over real HTTP, against a user-mode server."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import httpx2
import jsonschema
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from tests.conftest import RunningServer
from tests.http.identity_helpers import add_user, as_token, mint, start_user_server

ANA = "ana@example.com"
MEMORY_TOOLS = {
    "memory_context",
    "memory_search",
    "memory_remember",
    "memory_capture",
    "memory_session_recap",
    "memory_recent",
    "memory_today",
    "memory_neighbors",
    "memory_forget",
    "memory_update",
    "memory_stats",
    "memory_hygiene",
    "memory_evaluate",
    "memory_adoption",
}
PROJECT_TOOLS = {
    "project_list",
    "project_create",
    "project_delete",
    "project_activate",
    "project_deactivate",
    "project_share",
    "project_unshare",
}
READ_ONLY = {
    "memory_context",
    "memory_search",
    "memory_recent",
    "memory_today",
    "memory_neighbors",
    "memory_stats",
    "memory_hygiene",
    "memory_evaluate",
    "memory_adoption",
    "project_list",
}


@pytest.fixture(scope="module")
def srv(make_database: Callable[[], str]) -> Iterator[RunningServer]:
    server = start_user_server(make_database())
    add_user(server, ANA)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def token(srv: RunningServer) -> str:
    return mint(srv, ANA)


@pytest.fixture(scope="module")
def reader(srv: RunningServer) -> str:
    return mint(srv, ANA, "--scope", "read_only")


@contextlib.asynccontextmanager
async def connect(srv: RunningServer, bearer: str) -> AsyncIterator[ClientSession]:
    http = httpx2.AsyncClient(headers={"authorization": f"Bearer {bearer}"}, timeout=30)
    async with (
        http,
        streamable_http_client(f"{srv.base_url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    data = result.structured_content
    assert isinstance(data, dict)
    # the text content carries the same JSON
    assert json.loads(result.content[0].text) == data
    return data


def error_text(result: Any) -> str:
    assert result.is_error
    return str(result.content[0].text)


async def test_initialize_and_list_tools(srv: RunningServer, token: str) -> None:
    async with connect(srv, token) as session:
        init = await session.initialize()
        assert init.server_info.name == "novamem"
        assert "memory_context" in (init.instructions or "")
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
    assert set(tools) == MEMORY_TOOLS | PROJECT_TOOLS
    for name, tool in tools.items():
        assert tool.input_schema["type"] == "object", name
        assert tool.output_schema is not None and tool.output_schema["type"] == "object", name
        jsonschema.Draft202012Validator.check_schema(tool.input_schema)
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is (name in READ_ONLY), name
    assert tools["memory_search"].input_schema["required"] == ["query"]
    assert "maxSensitivity" in tools["memory_context"].input_schema["properties"]
    assert tools["memory_forget"].annotations.destructive_hint is True  # type: ignore[union-attr]


async def test_remember_search_forget_round_trip(srv: RunningServer, token: str) -> None:
    fact = "The staging database for project heliotrope runs on port 6543 behind pgbouncer."
    async with connect(srv, token) as session:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        stored = structured(await session.call_tool("memory_remember", {"content": fact, "namespace": "infra"}))
        jsonschema.validate(stored, tools["memory_remember"].output_schema)  # type: ignore[arg-type]
        entry_id = stored["id"]
        assert isinstance(entry_id, str)

        found = structured(await session.call_tool("memory_search", {"query": "heliotrope staging port", "k": 5}))
        jsonschema.validate(found, tools["memory_search"].output_schema)  # type: ignore[arg-type]
        hit = next(r for r in found["results"] if r["id"] == entry_id)
        assert hit["content"] == fact and hit["namespace"] == "infra"

        stats = structured(await session.call_tool("memory_stats", {}))
        assert stats["byNamespace"]["infra"]["warm"] == 1

        gone = structured(await session.call_tool("memory_forget", {"id": entry_id}))
        jsonschema.validate(gone, tools["memory_forget"].output_schema)  # type: ignore[arg-type]
        assert gone["deleted"] is True
        again = structured(await session.call_tool("memory_search", {"query": "heliotrope staging port", "k": 5}))
        assert entry_id not in [r["id"] for r in again["results"]]
        # idempotent: forgetting twice is not an error
        assert structured(await session.call_tool("memory_forget", {"id": entry_id}))["deleted"] is False
    # the REST door sees the same data: the memory is gone there too
    with as_token(srv, token) as client:
        assert client.get("/v1/stats").json()["byNamespace"].get("infra", {"warm": 0})["warm"] == 0


async def test_bad_arguments_and_unknown_tools(srv: RunningServer, token: str) -> None:
    async with connect(srv, token) as session:
        assert "invalid argument 'query'" in error_text(await session.call_tool("memory_search", {}))
        assert "invalid argument 'k'" in error_text(await session.call_tool("memory_search", {"query": "x", "k": 0}))
        both = await session.call_tool("memory_forget", {})
        assert "exactly one of id or sourceRef" in error_text(both)
        with pytest.raises(MCPError, match="Unknown tool: memory_nope"):
            await session.call_tool("memory_nope", {})


async def test_project_tools_scope_writes(srv: RunningServer, token: str) -> None:
    async with connect(srv, token) as session:
        project = structured(await session.call_tool("project_create", {"name": "mcp-proj"}))
        assert project["role"] == "owner"
        listed = structured(await session.call_tool("project_list", {}))
        assert project["id"] in [p["id"] for p in listed["projects"]]
        active = structured(await session.call_tool("project_activate", {"project": "mcp-proj"}))
        assert active["active"]["id"] == project["id"]
        fact = "Project mcp-proj deploys every Tuesday at noon from the release branch."
        stored = structured(await session.call_tool("memory_capture", {"content": fact}))
        assert stored["id"] and "saved" not in stored  # the shape of POST /v1/capture
        found = structured(await session.call_tool("memory_search", {"query": "mcp-proj deploys Tuesday"}))
        assert [r["project"] for r in found["results"] if r["content"] == fact] == [project["id"]]
        assert structured(await session.call_tool("project_deactivate", {})) == {"active": None}
        refused = await session.call_tool("project_share", {"project": "mcp-proj", "username": "nobody@example.com"})
        assert refused.is_error
        deleted = structured(await session.call_tool("project_delete", {"project": project["id"]}))
        assert deleted["deleted"] is True and deleted["entriesRemoved"] == 1


async def test_read_only_token_cannot_write(srv: RunningServer, reader: str) -> None:
    content = "A read-only token must never store this sentence about the ferry timetable."
    async with connect(srv, reader) as session:
        refused = await session.call_tool("memory_remember", {"content": content, "force": True})
        assert error_text(refused) == "error: read-only token"
        assert error_text(await session.call_tool("project_create", {"name": "nope"})) == "error: read-only token"
        # reads still work
        assert "results" in structured(await session.call_tool("memory_recent", {}))
    rows = srv.sql("SELECT count(*) FROM memory_entries WHERE content = %s", (content,))
    assert rows[0][0] == 0


def test_unauthenticated_gets_401_with_resource_metadata(srv: RunningServer) -> None:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    headers = {"accept": "application/json, text/event-stream"}
    for auth in (None, "Bearer nm_not-a-real-token"):
        sent = dict(headers, authorization=auth) if auth else headers
        response = httpx.post(f"{srv.base_url}/mcp", json=body, headers=sent)
        assert response.status_code == 401
        expected = f'Bearer resource_metadata="{srv.base_url}/.well-known/oauth-protected-resource"'
        assert response.headers["www-authenticate"] == expected
    meta = httpx.get(f"{srv.base_url}/.well-known/oauth-protected-resource")
    assert meta.status_code == 200
    assert meta.json() == {
        "resource": srv.base_url,
        "bearer_methods_supported": ["header"],
        "resource_name": "novamem",
        "resource_documentation": f"{srv.base_url}/api-docs",
    }
    assert meta.headers["cache-control"] == "public, max-age=3600"


def test_foreign_origin_is_refused(srv: RunningServer, token: str) -> None:
    response = httpx.post(
        f"{srv.base_url}/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
        headers={"authorization": f"Bearer {token}", "origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "Forbidden: origin 'https://evil.example' not in allowlist"
