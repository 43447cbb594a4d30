"""The MCP write and forget tools expose namespace membership and splitting as REST does (same services)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.conftest import RunningServer
from tests.http.identity_helpers import add_user, mint, start_user_server
from tests.mcp.test_mcp import connect, error_text, structured

EMAIL = "mia@memberships.test"
FACT = "Mia keeps the release checklist in the ops wiki under Runbooks"
LONG = " ".join(f"Step {i} of the release checklist is owned by team {i % 7}." for i in range(150))


@pytest.fixture(scope="module")
def srv(make_database: Callable[[], str]) -> Iterator[RunningServer]:
    server = start_user_server(make_database())
    add_user(server, EMAIL)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def token(srv: RunningServer) -> str:
    return mint(srv, EMAIL)


async def test_duplicate_in_another_namespace_and_forget_from_one(srv: RunningServer, token: str) -> None:
    async with connect(srv, token) as session:
        first = structured(await session.call_tool("memory_remember", {"content": FACT, "namespace": "conv-a"}))
        again = structured(await session.call_tool("memory_remember", {"content": FACT, "namespace": "conv-b"}))
        assert again == {"id": first["id"], "deduplicated": True, "embedded": False}
        for namespace in ("conv-a", "conv-b"):
            found = structured(
                await session.call_tool("memory_search", {"query": "release checklist", "namespace": namespace})
            )
            assert [r["id"] for r in found["results"]] == [first["id"]]
        left = structured(await session.call_tool("memory_forget", {"id": first["id"], "namespace": "conv-a"}))
        assert left["deleted"] is True
        gone = structured(
            await session.call_tool("memory_search", {"query": "release checklist", "namespace": "conv-a"})
        )
        assert gone["results"] == []
        kept = structured(await session.call_tool("memory_recent", {"namespace": "conv-b"}))
        assert [r["id"] for r in kept["results"]] == [first["id"]]


async def test_remember_splits_on_request(srv: RunningServer, token: str) -> None:
    async with connect(srv, token) as session:
        refused = structured(await session.call_tool("memory_remember", {"content": LONG}))
        assert refused["id"] is None and refused["rejected"].startswith("too long")
        split = structured(await session.call_tool("memory_remember", {"content": LONG, "split": True}))
        assert len(split["pieces"]) >= 2 and split["id"] == split["pieces"][0]
        forgot = structured(await session.call_tool("memory_forget", {"sourceRef": split["sourceRef"]}))
        assert sorted(forgot["ids"]) == sorted(split["pieces"])
        assert "split" in error_text(await session.call_tool("memory_remember", {"content": LONG, "split": "yes"}))
