"""The MCP tool catalogue, pinned: `tools/list` over real HTTP must match `tests/mcp/tools_snapshot.json`.

The snapshot holds, for every tool in the order served, its name, inputSchema, outputSchema and
annotations (a user-mode server and an admin caller, so the project and admin tools are included).
Any change to a tool's wire contract (a renamed argument, a new required field, a changed hint) fails
this test with a unified diff, so the change is reviewed on purpose.

To accept an intended change, regenerate the snapshot and review the diff before committing it:

    NOVAMEM_UPDATE_SNAPSHOT=1 .venv/bin/pytest -q tests/mcp/test_snapshot.py

(the test then rewrites the file instead of comparing, and passes).
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from novamem.services.agents.guide import TOOL_DOCS
from tests.conftest import RunningServer
from tests.http.identity_helpers import add_user, mint, start_user_server

SNAPSHOT = Path(__file__).with_name("tools_snapshot.json")
# read at import: the autouse fixture in conftest clears NOVAMEM_* variables before each test runs
UPDATE = os.environ.get("NOVAMEM_UPDATE_SNAPSHOT") == "1"
EMAIL = "snap@example.com"


@pytest.fixture(scope="module")
def srv(make_database: Callable[[], str]) -> Iterator[RunningServer]:
    server = start_user_server(make_database())
    add_user(server, EMAIL, role="admin")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def token(srv: RunningServer) -> str:
    return mint(srv, EMAIL)


def render(catalogue: list[dict[str, Any]]) -> str:
    return json.dumps(catalogue, indent=2, ensure_ascii=False) + "\n"


async def served_catalogue(srv: RunningServer, token: str) -> list[dict[str, Any]]:
    http = httpx2.AsyncClient(headers={"authorization": f"Bearer {token}"}, timeout=30)
    async with (
        http,
        streamable_http_client(f"{srv.base_url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        tools = (await session.list_tools()).tools
    return [
        {
            "name": tool.name,
            "inputSchema": tool.input_schema,
            "outputSchema": tool.output_schema,
            "annotations": tool.annotations.model_dump(by_alias=True, exclude_none=True, mode="json")
            if tool.annotations is not None
            else None,
        }
        for tool in tools
    ]


async def test_tool_catalogue_matches_snapshot(srv: RunningServer, token: str) -> None:
    served = await served_catalogue(srv, token)
    assert served, "tools/list returned no tools"
    if UPDATE:
        SNAPSHOT.write_text(render(served), encoding="utf-8")
        return
    assert SNAPSHOT.is_file(), f"{SNAPSHOT.name} is missing; create it with NOVAMEM_UPDATE_SNAPSHOT=1"
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    if served != expected:
        diff = "".join(
            difflib.unified_diff(
                render(expected).splitlines(keepends=True),
                render(served).splitlines(keepends=True),
                fromfile=f"{SNAPSHOT.name} (checked in)",
                tofile="tools/list (served)",
            )
        )
        pytest.fail(
            f"the served MCP tool catalogue differs from {SNAPSHOT.name} "
            f"(if intended: NOVAMEM_UPDATE_SNAPSHOT=1, then review the diff):\n{diff}",
            pytrace=False,
        )


def test_snapshot_names_every_tool_once() -> None:
    """The checked-in file itself is sane: unique names, every entry complete."""
    catalogue = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    names = [tool["name"] for tool in catalogue]
    assert len(names) == len(set(names)) == len(TOOL_DOCS) == 28
    assert names == [doc.name for doc in TOOL_DOCS]  # served in catalogue order
    for tool in catalogue:
        assert set(tool) == {"name", "inputSchema", "outputSchema", "annotations"}, tool["name"]
        assert tool["inputSchema"]["type"] == tool["outputSchema"]["type"] == "object", tool["name"]
