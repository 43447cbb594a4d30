"""REST and MCP are two doors onto one service layer: for every capability both offer, they answer alike.

Each memory and project tool is called over real HTTP with the official MCP client, next to its REST route
with the same token and the same arguments, against one user-mode server with a (local) remote embedder.
Where the two answers can be equal (same state, same input) they must be equal, floats aside (recency moves
with the clock); where a door necessarily creates something new (a fresh id) the two answers must have the
same shape. Failures must carry the same message on both doors. The tool table itself must name, for every
tool, the response model of its backing REST route. A tool added without a parity check fails the
coverage assertion at the end of its group's test.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from novamem.mcp.tools import MEMORY_TOOLS, PROJECT_TOOLS
from tests.conftest import RunningServer, start_server
from tests.fake_embedder import DIM, FakeEmbeddingServer
from tests.http.identity_helpers import COOKIE_SECRET, add_user, mint

OWNER = "parity-owner@example.com"
FRIEND = "parity-friend@example.com"
NS = "parity"
MEMORY_TOOL_NAMES = {spec.name for spec in MEMORY_TOOLS}
PROJECT_TOOL_NAMES = {spec.name for spec in PROJECT_TOOLS}


@pytest.fixture(scope="module")
def srv(make_database: Callable[[], str], fake_embedder: FakeEmbeddingServer) -> Iterator[RunningServer]:
    fake_embedder.down = False
    server = start_server(
        make_database(),
        auth_mode="user",
        cookie_secret=COOKIE_SECRET,
        insecure_cookies=True,
        jobs_enabled=False,
        embeddings_provider="openai-compatible",
        embeddings_endpoint=fake_embedder.url,
        embeddings_model="fake-hash",
        embeddings_dim=DIM,
    )
    add_user(server, OWNER)
    add_user(server, FRIEND)
    yield server
    server.stop()
    fake_embedder.down = False


@pytest.fixture(scope="module")
def owner(srv: RunningServer) -> str:
    return mint(srv, OWNER)


# ---- comparing answers -----------------------------------------------------------------------------------


def assert_same(rest: Any, mcp: Any, path: str = "$") -> None:
    """Equal JSON, except that numbers may differ in the sixth significant digit."""
    if isinstance(rest, dict) and isinstance(mcp, dict):
        assert list(rest) == list(mcp), f"{path}: keys differ: REST {list(rest)} vs MCP {list(mcp)}"
        for key in rest:
            assert_same(rest[key], mcp[key], f"{path}.{key}")
    elif isinstance(rest, list) and isinstance(mcp, list):
        assert len(rest) == len(mcp), f"{path}: REST has {len(rest)} items, MCP {len(mcp)}"
        for i, (a, b) in enumerate(zip(rest, mcp, strict=True)):
            assert_same(a, b, f"{path}[{i}]")
    elif isinstance(rest, float | int) and isinstance(mcp, float | int) and not isinstance(rest, bool):
        assert not isinstance(mcp, bool), f"{path}: REST {rest!r} vs MCP {mcp!r}"
        assert math.isclose(rest, mcp, rel_tol=1e-5, abs_tol=1e-6), f"{path}: REST {rest!r} vs MCP {mcp!r}"
    else:
        assert rest == mcp, f"{path}: REST {rest!r} vs MCP {mcp!r}"


def shape(value: Any) -> Any:
    """The structure of a JSON value: keys in order and value types, not the values."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


class Doors:
    """The same caller on both doors: `rest(...)` answers (status, JSON), `mcp(...)` the structured result."""

    def __init__(self, http: httpx.Client, session: ClientSession) -> None:
        self._http = http
        self._session = session
        self.called: set[str] = set()

    def rest(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        response = self._http.request(method, path, json=body)
        return response.status_code, (response.json() if response.content else None)

    def ok(self, method: str, path: str, body: dict[str, Any] | None = None, status: int = 200) -> Any:
        code, data = self.rest(method, path, body)
        assert code == status, f"{method} {path}: {code} {data}"
        return data

    async def mcp(self, name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        result = await self._session.call_tool(name, arguments or {})
        assert not result.is_error, f"{name}: {result.content}"
        data = result.structured_content
        assert isinstance(data, dict), name
        assert json.loads(result.content[0].text) == data, f"{name}: text and structured content differ"
        self.called.add(name)
        return data

    async def mcp_error(self, name: str, arguments: dict[str, Any]) -> str:
        result = await self._session.call_tool(name, arguments)
        assert result.is_error, f"{name} should have failed: {result.structured_content}"
        self.called.add(name)
        return str(result.content[0].text)

    async def same_error(self, name: str, arguments: dict[str, Any], method: str, path: str, body: Any) -> None:
        """The REST route refuses with `{"error": m}` and the tool with `error: m`, or with the reference's
        longer wording where REST gives it as `detail`."""
        code, data = self.rest(method, path, body)
        assert code >= 400, f"{method} {path} should have failed: {data}"
        assert await self.mcp_error(name, arguments) == f"error: {data.get('detail') or data['error']}"


@contextlib.asynccontextmanager
async def doors(srv: RunningServer, bearer: str) -> AsyncIterator[Doors]:
    headers = {"authorization": f"Bearer {bearer}"}
    mcp_http = httpx2.AsyncClient(headers=headers, timeout=30)
    async with (
        mcp_http,
        streamable_http_client(f"{srv.base_url}/mcp", http_client=mcp_http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        with srv.client(headers=headers) as http:
            yield Doors(http, session)


# ---- the tool table ----------------------------------------------------------------------------------------


def _response_model(operation: dict[str, Any]) -> str | None:
    for status in ("200", "201"):
        content = operation["responses"].get(status, {}).get("content", {})
        ref = content.get("application/json", {}).get("schema", {}).get("$ref")
        if ref:
            return str(ref.rsplit("/", 1)[-1]).removesuffix("-Output")
    return None


def test_every_tool_declares_the_response_model_of_its_rest_route(srv: RunningServer) -> None:
    paths = {re.sub(r"\{[^}]+\}", "{}", path): ops for path, ops in srv.app.openapi()["paths"].items()}
    for spec in MEMORY_TOOLS + PROJECT_TOOLS:
        method, path = spec.route
        operation = paths[re.sub(r"\{[^}]+\}", "{}", path)][method.lower()]
        # `DELETE /v1/me/active-project` answers 204 without a body; the tool answers what GET then shows
        expected = _response_model(operation) or _response_model(paths[path]["get"])
        assert spec.output_model.__name__ == expected, f"{spec.name}: {spec.output_model.__name__} vs {expected}"


# ---- memory capabilities -----------------------------------------------------------------------------------


async def test_memory_tools_answer_like_their_rest_routes(srv: RunningServer, owner: str) -> None:
    facts = [
        "The parity ledger service listens on port 7401 in the staging cluster.",
        "The parity ledger exports invoices nightly to the finance bucket.",
        "The parity ledger pages the on-call engineer after three failed exports.",
        "The parity ledger dashboard lives in the observability folder.",
    ]
    async with doors(srv, owner) as d:
        # remember: a new memory has the same shape on both doors; a repeat is the same deduplicated answer
        first = d.ok("POST", "/v1/remember", {"content": facts[0], "namespace": NS, "sourceRefs": ["parity:a"]}, 201)
        other = await d.mcp("memory_remember", {"content": facts[1], "namespace": NS, "sourceRefs": ["parity:b"]})
        assert shape(first) == shape(other) == {"id": "str", "embedded": "bool"}
        again = await d.mcp("memory_remember", {"content": facts[0], "namespace": NS})
        assert_same(d.ok("POST", "/v1/remember", {"content": facts[0], "namespace": NS}, 201), again)
        assert again["deduplicated"] is True and again["id"] == first["id"]

        # capture: POST /v1/capture's CaptureResult on both doors (MCP used to wrap it as {saved, results})
        captured = d.ok("POST", "/v1/capture", {"content": facts[2], "namespace": NS}, 201)
        captured_by_tool = await d.mcp("memory_capture", {"content": facts[3], "namespace": NS})
        assert shape(captured) == shape(captured_by_tool) == {"id": "str", "embedded": "bool"}
        repeat = await d.mcp("memory_capture", {"content": facts[2], "namespace": NS})
        assert_same(d.ok("POST", "/v1/capture", {"content": facts[2], "namespace": NS}, 201), repeat)
        junk = await d.mcp("memory_capture", {"content": "ok thanks"})
        assert_same(d.ok("POST", "/v1/capture", {"content": "ok thanks"}, 201), junk)
        assert junk["id"] is None and junk["rejected"]

        # session recap: a repeated recap deduplicates every item, on either door
        recap = {
            "decisions": ["The parity ledger keeps invoices for seven years, by law."],
            "setupFacts": ["The parity ledger runs on two replicas behind the internal proxy."],
            "namespace": NS,
        }
        stored = d.ok("POST", "/v1/session-recap", recap, 201)
        assert stored["saved"] == 2
        by_tool = await d.mcp("memory_session_recap", recap)
        assert_same(d.ok("POST", "/v1/session-recap", recap, 201), by_tool)
        assert [r["id"] for r in by_tool["results"]] == [r["id"] for r in stored["results"]]

        # reads over the same state
        recent = {"namespace": NS, "k": 50}
        assert_same(d.ok("POST", "/v1/recent", recent), await d.mcp("memory_recent", recent))
        since = (datetime.now(UTC) - timedelta(hours=24)).isoformat()
        today = await d.mcp("memory_today", recent)
        assert_same(d.ok("POST", "/v1/recent", {**recent, "since": since}), today)
        assert len(today["results"]) == 6
        search = {"query": "parity ledger port staging", "namespace": NS, "k": 5}
        found = await d.mcp("memory_search", search)
        assert_same(d.ok("POST", "/v1/search", search), found)
        assert found["results"][0]["id"] == first["id"] and found["degraded"] is False
        snippets = {**search, "contentMode": "snippet"}
        assert_same(d.ok("POST", "/v1/search", snippets), await d.mcp("memory_search", snippets))
        ids_only = {**search, "contentMode": "ids"}
        assert_same(d.ok("POST", "/v1/search", ids_only), await d.mcp("memory_search", ids_only))
        context = {"message": "which port does the parity ledger listen on?", "namespace": NS}
        assert_same(d.ok("POST", "/v1/context", context), await d.mcp("memory_context", context))
        near = {"id": first["id"], "depth": 2}
        assert_same(d.ok("POST", "/v1/neighbors", near), await d.mcp("memory_neighbors", near))
        stats = await d.mcp("memory_stats")
        rest_stats = d.ok("GET", "/v1/stats")
        assert_same({**rest_stats, "uptimeMs": 0}, {**stats, "uptimeMs": 0})
        assert stats["byNamespace"][NS]["warm"] == 6
        assert_same(d.ok("POST", "/v1/hygiene", {"k": 5}), await d.mcp("memory_hygiene", {"k": 5}))
        assert_same(d.ok("POST", "/v1/evaluate", {"suite": "core"}), await d.mcp("memory_evaluate", {"suite": "core"}))
        adoption = {"client": "codex", "observedTools": sorted(MEMORY_TOOL_NAMES)}
        assert_same(d.ok("POST", "/v1/adoption", adoption), await d.mcp("memory_adoption", adoption))

        # update: the first change re-embeds, a repeat of it does not, on either door
        changed = "The parity ledger service listens on port 7402 since the April migration."
        updated = d.ok("PUT", f"/v1/memories/{first['id']}", {"content": changed})
        assert updated == {"id": first["id"], "updated": True, "embeddingChanged": True}
        by_tool = await d.mcp("memory_update", {"id": first["id"], "content": changed})
        assert_same(d.ok("PUT", f"/v1/memories/{first['id']}", {"content": changed}), by_tool)
        assert by_tool["embeddingChanged"] is False

        # forget by id (unknown, then one memory each) and by source ref (one carrier each, then none)
        unknown = {"id": "no-such-id"}
        assert_same(d.ok("POST", "/v1/forget", unknown), await d.mcp("memory_forget", unknown))
        deleted = d.ok("POST", "/v1/forget", {"id": captured["id"]})
        assert deleted == {"deleted": True, "coldDeleteOk": True}
        assert_same(deleted, await d.mcp("memory_forget", {"id": captured_by_tool["id"]}))
        gone = d.ok("POST", "/v1/forget", {"sourceRef": "parity:a"})
        assert gone == {"sourceRef": "parity:a", "ids": [first["id"]], "count": 1, "coldDeleteOk": True}
        assert_same(
            {**gone, "sourceRef": "parity:b", "ids": [other["id"]]},
            await d.mcp("memory_forget", {"sourceRef": "parity:b"}),
        )
        none_left = {"sourceRef": "parity:a"}
        assert_same(d.ok("POST", "/v1/forget", none_left), await d.mcp("memory_forget", none_left))

        # refusals carry the same message
        missing = {"content": "The parity ledger moved to a new cluster in May."}
        await d.same_error("memory_update", {"id": "no-such-id", **missing}, "PUT", "/v1/memories/no-such-id", missing)
        await d.same_error("memory_evaluate", {"suite": "nightly"}, "POST", "/v1/evaluate", {"suite": "nightly"})
        elsewhere = {"query": "parity ledger", "project": "no-such-project"}
        await d.same_error("memory_search", elsewhere, "POST", "/v1/search", elsewhere)
    assert d.called == MEMORY_TOOL_NAMES, f"no parity check for {MEMORY_TOOL_NAMES - d.called}"


async def test_degraded_and_empty_is_a_503_on_rest_and_an_error_over_mcp(
    srv: RunningServer, owner: str, fake_embedder: FakeEmbeddingServer
) -> None:
    fake_embedder.down = True
    try:
        async with doors(srv, owner) as d:
            search = {"query": "zebra quasar unmatched", "namespace": NS}
            code, body = d.rest("POST", "/v1/search", search)
            assert code == 503
            assert body == {"results": [], "degraded": True, "error": body["error"]}
            assert body["error"].startswith("search degraded")
            assert await d.mcp_error("memory_search", search) == f"error: {body['error']}"

            context = {"message": "zebra quasar unmatched", "namespace": NS}
            code, body = d.rest("POST", "/v1/context", context)
            assert code == 503 and body["error"].startswith("context degraded")
            assert list(body) == ["relevant", "recent", "contextPack", "guidance", "error"]
            assert body["relevant"] == {"results": [], "degraded": True}
            assert await d.mcp_error("memory_context", context) == f"error: {body['error']}"
    finally:
        fake_embedder.down = False


# ---- project capabilities ----------------------------------------------------------------------------------


async def test_project_tools_answer_like_their_rest_routes(srv: RunningServer, owner: str) -> None:
    async with doors(srv, owner) as d:
        assert_same(d.ok("GET", "/v1/me/projects"), await d.mcp("project_list"))

        made = d.ok("POST", "/v1/me/projects", {"name": "parity-rest"}, 201)
        by_tool = await d.mcp("project_create", {"name": "parity-mcp"})
        assert shape(made) == shape(by_tool)
        assert {**made, "id": "", "name": "", "createdAt": ""} == {**by_tool, "id": "", "name": "", "createdAt": ""}
        listed = await d.mcp("project_list")
        assert_same(d.ok("GET", "/v1/me/projects"), listed)
        assert {made["id"], by_tool["id"]} <= {p["id"] for p in listed["projects"]}

        chosen = {"project": made["id"]}
        assert_same(d.ok("PUT", "/v1/me/active-project", chosen), await d.mcp("project_activate", chosen))
        assert d.ok("GET", "/v1/me/active-project")["active"]["id"] == made["id"]
        # deactivate: REST answers 204 and GET then shows {active: null}; the tool answers just that
        cleared = await d.mcp("project_deactivate")
        assert_same(d.ok("GET", "/v1/me/active-project"), cleared)
        d.ok("PUT", "/v1/me/active-project", chosen)
        assert d.ok("DELETE", "/v1/me/active-project", status=204) is None
        assert_same(d.ok("GET", "/v1/me/active-project"), cleared)

        # share and unshare: by email over MCP, by email then user id over REST; the same answers
        members = f"/v1/me/projects/{made['id']}/members"
        shared = d.ok("POST", members, {"username": FRIEND}, 201)
        removed = d.ok("DELETE", f"{members}/{shared['userId']}")
        share = {"project": made["id"], "username": FRIEND}
        assert_same(shared, await d.mcp("project_share", share))
        assert_same(removed, await d.mcp("project_unshare", share))
        assert [m["username"] for m in d.ok("GET", members)["members"]] == [OWNER]

        nobody = {"project": made["id"], "username": "nobody@example.com"}
        await d.same_error("project_share", nobody, "POST", members, {"username": "nobody@example.com"})
        unknown = await d.mcp_error("project_unshare", nobody)
        assert unknown == "error: unknown user 'nobody@example.com' — share by exact email address"

        assert_same(
            d.ok("DELETE", f"/v1/me/projects/{made['id']}"),
            await d.mcp("project_delete", {"project": by_tool["id"]}),
        )
        await d.same_error("project_delete", {"project": made["id"]}, "DELETE", f"/v1/me/projects/{made['id']}", None)
        assert_same(d.ok("GET", "/v1/me/projects"), await d.mcp("project_list"))
    assert d.called == PROJECT_TOOL_NAMES, f"no parity check for {PROJECT_TOOL_NAMES - d.called}"
