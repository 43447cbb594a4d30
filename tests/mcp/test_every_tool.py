"""Every MCP tool called over real HTTP with the official client, against one user-mode server.

Each successful call's `structuredContent` is validated against the `outputSchema` the server lists for
that tool (JSON Schema 2020-12, with format checks), and its text content must parse to the same JSON.
A second account is used to prove that `project_share` / `project_unshare` really grant and revoke
access. Each test checks that it called every tool of its group.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx2
import jsonschema
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import RunningServer
from tests.http.identity_helpers import add_user, mint, start_user_server

OWNER = "every-owner@example.com"
BOSS = "every-boss@example.com"
FRIEND = "every-friend@example.com"
NAMESPACE = "every-tool"
MEMORY_TOOLS = {
    "memory_context",
    "memory_session_recap",
    "memory_neighbors",
    "memory_update",
    "memory_today",
    "memory_recent",
    "memory_capture",
    "memory_remember",
    "memory_search",
    "memory_forget",
    "memory_stats",
    "memory_hygiene",
    "memory_evaluate",
    "memory_adoption",
}
PROJECT_TOOLS = {
    "project_create",
    "project_list",
    "project_activate",
    "project_deactivate",
    "project_share",
    "project_unshare",
    "project_delete",
}
ADMIN_TOOLS = {
    "admin_list_users",
    "admin_list_projects",
    "admin_list_tokens",
    "admin_health",
    "admin_stats",
    "admin_audit_recent",
    "admin_ops_status",
}


@pytest.fixture(scope="module")
def srv(make_database: Callable[[], str]) -> Iterator[RunningServer]:
    server = start_user_server(make_database())
    add_user(server, OWNER)
    add_user(server, FRIEND)
    add_user(server, BOSS, role="admin")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def owner(srv: RunningServer) -> str:
    return mint(srv, OWNER)


@pytest.fixture(scope="module")
def friend(srv: RunningServer) -> str:
    return mint(srv, FRIEND)


class Client:
    """A connected session that validates every result against the tool's listed outputSchema."""

    def __init__(self, session: ClientSession, schemas: dict[str, dict[str, Any]]) -> None:
        self.session = session
        self.schemas = schemas
        self.called: set[str] = set()

    async def ok(self, name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        result = await self.session.call_tool(name, arguments or {})
        assert not result.is_error, f"{name}: {result.content}"
        data = result.structured_content
        assert isinstance(data, dict), name
        validator = jsonschema.Draft202012Validator(
            self.schemas[name], format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        )
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)]
        assert not errors, f"{name} answered outside its outputSchema: {errors}"
        assert len(result.content) == 1 and result.content[0].type == "text", name
        assert json.loads(result.content[0].text) == data, f"{name}: text and structured content differ"
        self.called.add(name)
        return data

    async def refused(self, name: str, arguments: dict[str, Any]) -> str:
        result = await self.session.call_tool(name, arguments)
        assert result.is_error, f"{name} should have failed: {result.structured_content}"
        assert result.structured_content is None, name
        self.called.add(name)
        return str(result.content[0].text)


@contextlib.asynccontextmanager
async def connect(srv: RunningServer, bearer: str) -> AsyncIterator[Client]:
    http = httpx2.AsyncClient(headers={"authorization": f"Bearer {bearer}"}, timeout=30)
    async with (
        http,
        streamable_http_client(f"{srv.base_url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        tools = (await session.list_tools()).tools
        schemas = {tool.name: tool.output_schema for tool in tools if tool.output_schema is not None}
        assert set(schemas) - ADMIN_TOOLS == MEMORY_TOOLS | PROJECT_TOOLS
        assert not ADMIN_TOOLS & set(schemas) or ADMIN_TOOLS <= set(schemas)
        for schema in schemas.values():
            jsonschema.Draft202012Validator.check_schema(schema)
        yield Client(session, schemas)


def ids(data: dict[str, Any]) -> list[str]:
    return [r["id"] for r in data["results"]]


async def test_every_memory_tool(srv: RunningServer, owner: str) -> None:
    facts = {
        "port": "The quokka billing service listens on port 7311 in the staging cluster.",
        "ticket": "Ticket QUOKKA-12 tracks the slow invoice export in the quokka billing service.",
        "twin": "The quokka invoice export retries three times before paging the on-call engineer.",
        "drop": "The quokka billing dashboard lives in the finance folder of the metrics server.",
    }
    async with connect(srv, owner) as mcp:
        stored = {}
        for key, fact in facts.items():
            refs = ["jira:QUOKKA-12"] if key in {"ticket", "twin"} else []
            body = {"content": fact, "namespace": NAMESPACE, "force": True, "sourceRefs": refs}
            stored[key] = await mcp.ok("memory_remember", body)
            assert stored[key]["id"] and not stored[key].get("deduplicated")
        port_id = stored["port"]["id"]

        captured = await mcp.ok(
            "memory_capture",
            {"content": "Decision: the quokka billing service moves to weekly releases.", "namespace": NAMESPACE},
        )
        assert captured["id"] and "saved" not in captured  # the shape of POST /v1/capture
        recap = await mcp.ok(
            "memory_session_recap",
            {
                "decisions": ["Quokka invoices are generated by the nightly export job only."],
                "setupFacts": ["The quokka export job reads from the replica database, never the primary."],
                "namespace": NAMESPACE,
                "force": True,
            },
        )
        assert recap["saved"] == 2 and all(r["id"] for r in recap["results"])

        found = await mcp.ok("memory_search", {"query": "quokka billing port", "namespace": NAMESPACE})
        assert port_id in ids(found)
        assert next(r for r in found["results"] if r["id"] == port_id)["content"] == facts["port"]
        context = await mcp.ok("memory_context", {"message": "which port does quokka billing listen on?"})
        assert port_id in ids(context["relevant"])
        assert isinstance(context["guidance"], str) and context["guidance"]
        recent = await mcp.ok("memory_recent", {"namespace": NAMESPACE, "k": 50})
        assert len(recent["results"]) == 7
        today = await mcp.ok("memory_today", {"k": 50})
        assert set(ids(recent)) <= set(ids(today))
        neighbors = await mcp.ok("memory_neighbors", {"id": port_id, "depth": 2})
        assert port_id not in ids(neighbors)

        changed = "The quokka billing service listens on port 7312 since the March migration."
        updated = await mcp.ok("memory_update", {"id": port_id, "content": changed})
        assert updated["id"] == port_id and updated["updated"] is True
        after = await mcp.ok("memory_search", {"query": "quokka billing port", "namespace": NAMESPACE})
        assert next(r for r in after["results"] if r["id"] == port_id)["content"] == changed

        stats = await mcp.ok("memory_stats")
        assert stats["byNamespace"][NAMESPACE]["warm"] == 7

        by_id = await mcp.ok("memory_forget", {"id": stored["drop"]["id"]})
        assert by_id["deleted"] is True
        by_ref = await mcp.ok("memory_forget", {"sourceRef": "jira:QUOKKA-12"})
        assert by_ref["sourceRef"] == "jira:QUOKKA-12" and by_ref["count"] == 2
        assert sorted(by_ref["ids"]) == sorted([stored["ticket"]["id"], stored["twin"]["id"]])
        again = await mcp.ok("memory_forget", {"sourceRef": "jira:QUOKKA-12"})
        assert again["count"] == 0 and again["ids"] == []
        assert (await mcp.ok("memory_stats"))["byNamespace"][NAMESPACE]["warm"] == 4

        hygiene = await mcp.ok("memory_hygiene", {"k": 5})
        assert hygiene["summary"]["scanned"] == 4
        evaluation = await mcp.ok("memory_evaluate", {"suite": "core"})
        assert evaluation["passed"] is True and evaluation["summary"]["failed"] == 0
        adoption = await mcp.ok("memory_adoption", {"client": "codex", "observedTools": sorted(mcp.schemas)})
        assert next(c for c in adoption["diagnostics"] if c["name"] == "tool_surface")["status"] == "ok"

        # unhappy paths: errors are tool results, not structured content
        missing = await mcp.refused("memory_update", {"id": "no-such-id", "content": "x" * 20})
        assert missing == "error: no such memory in your scope"
        assert "invalid argument 'id'" in await mcp.refused("memory_neighbors", {"id": "bad id!"})
        assert "unknown suite 'nightly'" in await mcp.refused("memory_evaluate", {"suite": "nightly"})
    assert mcp.called == MEMORY_TOOLS


async def test_every_project_tool(srv: RunningServer, owner: str, friend: str) -> None:
    secret = "Project lynx keeps its release notes in the docs/releases folder of the monorepo."
    async with connect(srv, owner) as mine, connect(srv, friend) as theirs:
        project = await mine.ok("project_create", {"name": "every-lynx"})
        assert project["role"] == "owner" and project["name"] == "every-lynx"
        pid = project["id"]
        assert pid in [p["id"] for p in (await mine.ok("project_list"))["projects"]]

        active = await mine.ok("project_activate", {"project": "every-lynx"})
        assert active == {"active": {"id": pid}}
        # the active project is the default write target
        stored = await mine.ok("memory_remember", {"content": secret, "force": True})
        rows = srv.sql("SELECT project_id FROM memory_entries WHERE id = %s", (stored["id"],))
        assert rows == [(pid,)]
        assert await mine.ok("project_deactivate") == {"active": None}

        # before sharing the friend cannot see the project
        assert pid not in [p["id"] for p in (await theirs.ok("project_list"))["projects"]]
        assert (await theirs.refused("memory_search", {"query": "lynx release notes", "project": pid})).startswith(
            "error:"
        )

        shared = await mine.ok("project_share", {"project": pid, "username": FRIEND})
        assert shared["added"] is True and shared["username"] == FRIEND
        membership = [p for p in (await theirs.ok("project_list"))["projects"] if p["id"] == pid]
        assert [p["role"] for p in membership] == ["member"]
        seen = await theirs.ok("memory_search", {"query": "lynx release notes", "project": pid})
        assert stored["id"] in ids(seen)

        unknown = await mine.refused("project_unshare", {"project": pid, "username": "nobody@example.com"})
        assert "unknown user 'nobody@example.com'" in unknown
        removed = await mine.ok("project_unshare", {"project": pid, "username": FRIEND.upper()})
        assert removed == {"removed": True}
        assert pid not in [p["id"] for p in (await theirs.ok("project_list"))["projects"]]
        assert (await theirs.refused("memory_search", {"query": "lynx release notes", "project": pid})).startswith(
            "error:"
        )
        # only the owner may delete
        assert (await theirs.refused("project_delete", {"project": pid})).startswith("error:")

        deleted = await mine.ok("project_delete", {"project": pid})
        assert deleted["deleted"] is True and deleted["entriesRemoved"] == 1
        assert srv.sql("SELECT count(*) FROM memory_entries WHERE id = %s", (stored["id"],)) == [(0,)]
        assert pid not in [p["id"] for p in (await mine.ok("project_list"))["projects"]]
    assert mine.called | theirs.called >= PROJECT_TOOLS


@pytest.fixture(scope="module")
def boss(srv: RunningServer) -> str:
    return mint(srv, BOSS, "--label", "every-boss")


async def test_every_admin_tool(srv: RunningServer, owner: str, boss: str) -> None:
    async with connect(srv, owner) as user:
        refused = await user.refused("admin_list_users", {})
        assert refused == "error: admin only"
    async with connect(srv, boss) as mcp:
        assert ADMIN_TOOLS <= set(mcp.schemas)
        users = await mcp.ok("admin_list_users")
        assert {OWNER, FRIEND, BOSS} <= {u["email"] for u in users["users"]}
        projects = await mcp.ok("admin_list_projects")
        assert isinstance(projects["projects"], list)
        tokens = await mcp.ok("admin_list_tokens")
        labels = {t["label"] for t in tokens["tokens"]}
        assert "every-boss" in labels
        assert boss not in json.dumps(tokens) and boss[3:] not in json.dumps(tokens)  # never the secret
        health = await mcp.ok("admin_health")
        assert health["ok"] is True and health["deps"]["warm"] == "ok"
        stats = await mcp.ok("admin_stats")
        assert stats["counters"]["queries_total"] >= 0 and stats["uptime_ms"] > 0
        audit = await mcp.ok("admin_audit_recent", {"limit": 5})
        assert len(audit["entries"]) <= 5
        assert "invalid argument 'limit'" in await mcp.refused("admin_audit_recent", {"limit": 0})
        ops = await mcp.ok("admin_ops_status")
        assert "decay" in ops
    assert mcp.called == ADMIN_TOOLS
