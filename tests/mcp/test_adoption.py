"""The adoption report, over REST and MCP: it recognises a client that sees the current tools and instructions,
names what a stale client is missing, and validates its input strictly."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

import pytest

from tests.conftest import RunningServer
from tests.http.identity_helpers import add_user, as_token, error, mint, start_user_server
from tests.mcp.test_mcp import connect, structured

ANA = "adopt-ana@example.com"
BOSS = "adopt-boss@example.com"


@pytest.fixture(scope="module")
def srv(make_database: Callable[[], str]) -> Iterator[RunningServer]:
    server = start_user_server(make_database())
    add_user(server, ANA)
    add_user(server, BOSS, role="admin")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def token(srv: RunningServer) -> str:
    return mint(srv, ANA)


async def test_a_current_client_is_ok_and_a_stale_one_is_told_what_to_do(srv: RunningServer, token: str) -> None:
    async with connect(srv, token) as session:
        init = await session.initialize()
        instructions = init.instructions or ""
        seen = sorted(tool.name for tool in (await session.list_tools()).tools)
        digest = hashlib.sha256(instructions.encode()).hexdigest()
        report = structured(
            await session.call_tool(
                "memory_adoption", {"client": "claudeCode", "observedTools": seen, "observedInstructionsHash": digest}
            )
        )
    assert report["server"]["name"] == "novamem" and report["server"]["adoptionSchema"] == 1
    assert report["mcp"]["tools"] == seen and report["mcp"]["toolCount"] == len(seen) == 21
    assert report["mcp"]["instructionsHash"] == digest
    assert instructions.startswith(report["mcp"]["instructionsPreview"])
    checks = {check["name"]: check for check in report["diagnostics"]}
    assert checks["tool_surface"]["status"] == "ok" and checks["tool_surface"]["ok"] is True
    assert checks["instructions_hash"]["status"] == "ok"
    assert checks["mandatory_protocol"]["verifiableAtRuntime"] is False
    assert report["requestedClient"] == "claudeCode"

    stale_tools = [name for name in seen if name not in {"memory_capture", "memory_hygiene"}] + ["memory_legacy"]
    with as_token(srv, token) as client:
        response = client.post(
            "/v1/adoption",
            json={"client": "cursor", "observedTools": stale_tools, "observedInstructionsHash": "0" * 64},
        )
    assert response.status_code == 200
    stale = {check["name"]: check for check in response.json()["diagnostics"]}
    surface = stale["tool_surface"]
    assert surface["status"] == "stale" and surface["ok"] is False
    assert surface["missingTools"] == ["memory_capture", "memory_hygiene"]
    assert surface["missingRequiredTools"] == ["memory_capture", "memory_hygiene"]
    assert surface["extraTools"] == ["memory_legacy"]
    assert "Cursor" in surface["action"]
    assert stale["instructions_hash"]["status"] == "stale"


def test_without_observations_the_status_is_unknown(srv: RunningServer, token: str) -> None:
    with as_token(srv, token) as client:
        response = client.post("/v1/adoption")
    assert response.status_code == 200
    checks = {check["name"]: check for check in response.json()["diagnostics"]}
    assert checks["tool_surface"]["status"] == checks["instructions_hash"]["status"] == "unknown"


def test_admins_are_expected_to_see_the_admin_tools(srv: RunningServer) -> None:
    with as_token(srv, mint(srv, BOSS)) as client:
        report = client.post("/v1/adoption", json={}).json()
    assert report["mcp"]["toolCount"] == 28
    assert "admin_stats" in report["mcp"]["tools"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"surprise": 1}, "surprise"),
        ({"client": "x" * 65}, "client"),
        ({"observedTools": ["t"] * 129}, "observedTools"),
        ({"observedTools": [""]}, "observedTools"),
        ({"observedInstructionsHash": "abc"}, "observedInstructionsHash"),
        ({"observedTools": "memory_search"}, "observedTools"),
    ],
)
def test_bad_input_is_refused(srv: RunningServer, token: str, body: dict[str, object], field: str) -> None:
    with as_token(srv, token) as client:
        response = client.post("/v1/adoption", json=body)
    assert response.status_code == 400
    assert error(response) == "invalid request body"
    assert field in str(response.json()["issues"])


def test_anonymous_is_refused(srv: RunningServer) -> None:
    with srv.client() as client:
        assert client.post("/v1/adoption", json={}).status_code == 401
