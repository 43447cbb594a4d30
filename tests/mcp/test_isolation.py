"""Isolation through the MCP door: another user's memory ids answer like unknown ids, another user's project is
invisible, and another tenant's admin sees nothing of this tenant."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.conftest import RunningServer
from tests.http.identity_helpers import add_user, as_token, mint, start_user_server
from tests.mcp.test_mcp import connect, error_text, structured

ANA, BEN = "iso-ana@example.com", "iso-ben@example.com"
SECRET = "Ana's private note: the vault recovery phrase lives in the grey notebook on the top shelf."


@pytest.fixture(scope="module")
def srv(make_database: Callable[[], str]) -> Iterator[RunningServer]:
    server = start_user_server(make_database())
    add_user(server, ANA)
    add_user(server, BEN)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def tokens(srv: RunningServer) -> dict[str, str]:
    return {ANA: mint(srv, ANA), BEN: mint(srv, BEN)}


@pytest.fixture(scope="module")
def secret_id(srv: RunningServer, tokens: dict[str, str]) -> str:
    with as_token(srv, tokens[ANA]) as client:
        response = client.post("/v1/remember", json={"content": SECRET, "namespace": "private", "force": True})
    assert response.status_code == 201
    return str(response.json()["id"])


def row(srv: RunningServer, entry_id: str) -> list[tuple[object, ...]]:
    return srv.sql("SELECT content, namespace, updated_at FROM memory_entries WHERE id = %s", (entry_id,))


async def test_foreign_ids_behave_like_unknown_ids(srv: RunningServer, tokens: dict[str, str], secret_id: str) -> None:
    before = row(srv, secret_id)
    unknown = "01J00000000000000000000000"
    async with connect(srv, tokens[BEN]) as session:
        for entry_id in (secret_id, unknown):
            update = await session.call_tool("memory_update", {"id": entry_id, "content": "overwritten by ben!!"})
            assert error_text(update) == "error: no such memory in your scope"
            forgot = structured(await session.call_tool("memory_forget", {"id": entry_id}))
            assert forgot == {"deleted": False, "coldDeleteOk": True}
            near = structured(await session.call_tool("memory_neighbors", {"id": entry_id}))
            assert near["results"] == []
        found = structured(await session.call_tool("memory_search", {"query": "vault recovery phrase notebook"}))
        assert secret_id not in [r["id"] for r in found["results"]]
        context = structured(await session.call_tool("memory_context", {"message": "where is the recovery phrase?"}))
        assert SECRET not in str(context)
        recent = structured(await session.call_tool("memory_recent", {"k": 200}))
        assert secret_id not in [r["id"] for r in recent["results"]]
        stats = structured(await session.call_tool("memory_stats", {}))
        assert "private" not in stats["byNamespace"]
        hygiene = structured(await session.call_tool("memory_hygiene", {"k": 100}))
        assert secret_id not in str(hygiene)
    assert row(srv, secret_id) == before


async def test_another_users_project_is_invisible(srv: RunningServer, tokens: dict[str, str]) -> None:
    async with connect(srv, tokens[ANA]) as ana:
        project = structured(await ana.call_tool("project_create", {"name": "iso-hidden"}))
    async with connect(srv, tokens[BEN]) as ben:
        listed = structured(await ben.call_tool("project_list", {}))
        assert project["id"] not in [p["id"] for p in listed["projects"]]
        # by name, another user's project does not exist; by id, the contract answers "not a member" (ids are
        # unguessable ULIDs, and another tenant's ids answer like unknown ones: see the REST isolation matrix)
        by_name = await ben.call_tool(
            "memory_remember", {"content": "ben writes into ana's project", "project": "iso-hidden"}
        )
        assert error_text(by_name) == "error: no such project 'iso-hidden' — call project_list to see ids"
        by_id = await ben.call_tool(
            "memory_remember", {"content": "ben writes into ana's project", "project": project["id"]}
        )
        assert error_text(by_id).startswith("error: not a member of project")
        for ref in (project["id"], "iso-hidden"):
            assert (await ben.call_tool("project_activate", {"project": ref})).is_error
            assert (await ben.call_tool("project_delete", {"project": ref})).is_error
            share = await ben.call_tool("project_share", {"project": ref, "username": BEN})
            assert share.is_error
    assert srv.sql("SELECT count(*) FROM memory_entries WHERE content LIKE 'ben writes%%'")[0][0] == 0
    assert srv.sql("SELECT count(*) FROM projects WHERE id = %s", (project["id"],))[0][0] == 1
    assert srv.sql("SELECT count(*) FROM project_members WHERE project_id = %s", (project["id"],))[0][0] == 1


async def test_admin_tools_are_refused_to_users(srv: RunningServer, tokens: dict[str, str]) -> None:
    async with connect(srv, tokens[BEN]) as session:
        names = {tool.name for tool in (await session.list_tools()).tools}
        assert not {name for name in names if name.startswith("admin_")}
        refused = await session.call_tool("admin_list_users", {})
        assert error_text(refused) == "error: admin only"
