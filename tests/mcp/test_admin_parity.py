"""REST and MCP answer the same for every admin capability both doors offer.

Each admin MCP tool names the `/v1/admin/*` route it mirrors. Against one real server, the same admin calls
the route and the tool, and both answers must have the same shape (the same keys, recursively, with values
of the same JSON types) and be equal wherever the value cannot change between the two calls. A refusal must
read the same at both doors too. A field added, renamed or re-cased at one door only fails here.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from novamem.mcp.tools.admin import ADMIN_TOOLS
from tests.conftest import RunningServer
from tests.http.identity_helpers import add_user, as_token, mint, start_user_server

ADMIN = "parity-admin@example.com"
OWNER = "parity-owner@example.com"
FRIEND = "parity-friend@example.com"
EXPECTED_TOOLS = {
    "admin_list_users",
    "admin_list_projects",
    "admin_list_tokens",
    "admin_health",
    "admin_stats",
    "admin_audit_recent",
    "admin_ops_status",
}
# arguments each tool is called with (and the same values as the route's query parameters)
ARGUMENTS: dict[str, dict[str, Any]] = {"admin_audit_recent": {"limit": 7}}
# values that may change between the two calls: the admin's own token is touched by each request, the
# replica keeps running, and process memory moves; everything else must be equal
VOLATILE: dict[str, set[tuple[str, ...]]] = {
    "admin_list_tokens": {("tokens", "*", "lastUsedAt")},
    "admin_stats": {("uptime_ms",), ("rates", "*"), ("instance", "rss_bytes")},
}

Json = Any


@pytest.fixture(scope="module")
def srv(make_database: Callable[[], str]) -> Iterator[RunningServer]:
    server = start_user_server(make_database())
    add_user(server, ADMIN, role="admin")
    add_user(server, OWNER)
    add_user(server, FRIEND)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def admin(srv: RunningServer) -> str:
    """The admin's token, after the server holds something to list in every inventory."""
    owner = mint(srv, OWNER, "--label", "parity-owner", "--scope", "read_only")
    mint(srv, OWNER, "--label", "parity-owner-full")
    token = mint(srv, ADMIN, "--label", "parity-admin")
    with as_token(srv, mint(srv, OWNER, "--label", "parity-writer")) as api:
        project = api.post("/v1/me/projects", json={"name": "parity project"})
        assert project.status_code == 201, project.text
        pid = project.json()["id"]
        added = api.post(f"/v1/me/projects/{pid}/members", json={"username": FRIEND})
        assert added.status_code == 201, added.text
        stored = api.post("/v1/remember", json={"content": "The parity service answers on port 7412.", "project": pid})
        assert stored.status_code == 201, stored.text
    with as_token(srv, owner) as api:
        assert api.get("/v1/me/tokens").status_code == 200
    with as_token(srv, token) as api:
        owner_id = srv.sql("SELECT id FROM users WHERE email = %s", (OWNER,))[0][0]
        assert api.put(f"/v1/admin/users/{owner_id}/quota", json={"maxEntries": 500}).status_code == 200
        assert api.post("/v1/decay", json={"effectiveDays": 21}).status_code == 200
        assert api.post("/v1/reap-orphans").status_code == 200
    return token


@pytest.fixture(scope="module")
def user(srv: RunningServer) -> str:
    """A token of a plain user (no admin)."""
    return mint(srv, FRIEND, "--label", "parity-friend")


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


def shape(value: Json) -> Json:
    """The JSON type of every value, keeping every key: what a client of either door would parse."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def without(value: Json, paths: set[tuple[str, ...]]) -> Json:
    """`value` with the listed paths (`*` matches any key or index) replaced by a marker."""

    def walk(node: Json, path: tuple[str, ...]) -> Json:
        if any(len(p) == len(path) and all(a in ("*", b) for a, b in zip(p, path, strict=True)) for p in paths):
            return "<volatile>"
        if isinstance(node, dict):
            return {key: walk(item, (*path, key)) for key, item in node.items()}
        if isinstance(node, list):
            return [walk(item, (*path, str(i))) for i, item in enumerate(node)]
        return node

    return walk(value, ())


def rest(api: httpx.Client, path: str, arguments: dict[str, Any]) -> tuple[int, Json]:
    response = api.get(path, params=arguments)
    return response.status_code, response.json()


async def test_the_admin_tools_are_the_admin_routes() -> None:
    assert {spec.name for spec in ADMIN_TOOLS} == EXPECTED_TOOLS
    for spec in ADMIN_TOOLS:
        method, path = spec.route
        assert method == "GET" and path.startswith("/v1/admin/"), spec.name
        assert spec.needs_admin and spec.needs_account, spec.name


@pytest.mark.parametrize("name", sorted(EXPECTED_TOOLS))
async def test_rest_and_mcp_answer_the_same(srv: RunningServer, admin: str, name: str) -> None:
    spec = next(s for s in ADMIN_TOOLS if s.name == name)
    arguments = ARGUMENTS.get(name, {})
    with as_token(srv, admin) as api:
        status, over_rest = rest(api, spec.route[1], arguments)
    async with connect(srv, admin) as session:
        result = await session.call_tool(name, arguments)
    assert status == 200 and not result.is_error, (name, over_rest, result.content)
    over_mcp = result.structured_content
    assert isinstance(over_mcp, dict), name
    spec.output_model.model_validate(over_rest)
    assert shape(over_rest) == shape(over_mcp), f"{name}: the doors answer different shapes"
    volatile = VOLATILE.get(name, set())
    assert without(over_rest, volatile) == without(over_mcp, volatile), f"{name}: the doors answer differently"
    assert over_rest, name


async def test_the_answers_are_not_empty(srv: RunningServer, admin: str) -> None:
    """The comparison above is only worth something when the lists hold rows and the jobs have run."""
    with as_token(srv, admin) as api:
        assert len(api.get("/v1/admin/users").json()["users"]) >= 3
        assert len(api.get("/v1/admin/projects").json()["projects"]) == 1
        assert len(api.get("/v1/admin/tokens").json()["tokens"]) >= 4
        assert len(api.get("/v1/admin/audit-log", params={"limit": 7}).json()["entries"]) >= 2
        ops = api.get("/v1/admin/ops-status").json()
        assert ops["decay"] is not None and ops["orphanReaper"] is not None


@pytest.mark.parametrize("name", sorted(EXPECTED_TOOLS))
async def test_rest_and_mcp_refuse_a_non_admin_alike(srv: RunningServer, user: str, name: str) -> None:
    spec = next(s for s in ADMIN_TOOLS if s.name == name)
    arguments = ARGUMENTS.get(name, {})
    with as_token(srv, user) as api:
        status, over_rest = rest(api, spec.route[1], arguments)
    async with connect(srv, user) as session:
        result = await session.call_tool(name, arguments)
    assert result.is_error and result.structured_content is None, name
    assert result.content[0].type == "text", name
    # REST hides the deep health check's role gate: a non-admin hears the 401 of no credential (reference 3.2)
    assert status == (401 if name == "admin_health" else 403), name
    assert result.content[0].text == f"error: {over_rest['error']}", name
