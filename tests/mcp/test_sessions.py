"""MCP sessions across replicas: two server processes share one database, and a session opened on one is served
by the other, bound to its user, capped per user for the whole deployment, expired when idle, closed by DELETE,
and kept open by a `GET /mcp` keep-alive stream."""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import RunningServer, start_server
from tests.http.identity_helpers import COOKIE_SECRET, add_user, mint

ANA, BEN = "ana@example.com", "ben@example.com"
CAP = 3
ACCEPT = "application/json, text/event-stream"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}


def _start(url: str) -> RunningServer:
    return start_server(
        url,
        auth_mode="user",
        cookie_secret=COOKIE_SECRET,
        insecure_cookies=True,
        jobs_enabled=False,
        embeddings_provider="none",
        max_sessions_per_user=CAP,
        sse_keepalive_ms=200,
    )


@pytest.fixture(scope="module")
def pair(make_database: Callable[[], str]) -> Iterator[tuple[RunningServer, RunningServer]]:
    url = make_database()
    first, second = _start(url), _start(url)
    add_user(first, ANA)
    add_user(first, BEN)
    yield first, second
    first.stop()
    second.stop()


@pytest.fixture(scope="module")
def ana(pair: tuple[RunningServer, RunningServer]) -> str:
    return mint(pair[0], ANA)


@pytest.fixture(scope="module")
def ben(pair: tuple[RunningServer, RunningServer]) -> str:
    return mint(pair[0], BEN)


@pytest.fixture(autouse=True)
def _no_sessions(pair: tuple[RunningServer, RunningServer]) -> None:
    pair[0].sql("DELETE FROM mcp_sessions")


def post(srv: RunningServer, token: str, body: Any, session: str | None = None, **headers: str) -> httpx.Response:
    sent = {"authorization": f"Bearer {token}", "accept": ACCEPT, "content-type": "application/json", **headers}
    if session is not None:
        sent["mcp-session-id"] = session
    return httpx.post(f"{srv.base_url}/mcp", content=json.dumps(body), headers=sent, timeout=30)


def open_session(srv: RunningServer, token: str) -> str:
    response = post(srv, token, INIT)
    assert response.status_code == 200, response.text
    return response.headers["mcp-session-id"]


def test_initialize_opens_a_session_that_the_other_replica_serves(
    pair: tuple[RunningServer, RunningServer], ana: str
) -> None:
    first, second = pair
    session = open_session(first, ana)
    assert len(session) >= 32
    # only its hash is stored
    assert first.sql("SELECT count(*) FROM mcp_sessions WHERE id_hash = %s", (session,))[0][0] == 0
    listed = post(second, ana, LIST, session, **{"mcp-protocol-version": "2025-06-18"})
    assert listed.status_code == 200, listed.text
    assert listed.headers["mcp-session-id"] == session
    assert "memory_search" in {tool["name"] for tool in listed.json()["result"]["tools"]}


def test_requests_without_a_session_are_refused(pair: tuple[RunningServer, RunningServer], ana: str) -> None:
    response = post(pair[0], ana, LIST)
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": -32000,
        "message": "Bad Request: missing Mcp-Session-Id (only POST initialize may omit it)",
    }


@pytest.mark.parametrize("bogus", ["not-a-session", "x" * 500, "bad id with spaces"])
def test_unknown_session_ids_answer_404(pair: tuple[RunningServer, RunningServer], ana: str, bogus: str) -> None:
    response = post(pair[1], ana, LIST, bogus)
    assert response.status_code == 404
    assert response.json() == {"error": "unknown sessionId"}


def test_a_session_is_unusable_by_another_user(pair: tuple[RunningServer, RunningServer], ana: str, ben: str) -> None:
    first, second = pair
    session = open_session(first, ana)
    for srv in pair:
        stolen = post(srv, ben, LIST, session)
        unknown = post(srv, ben, LIST, "0" * 43)
        # exactly like an unknown id: no oracle for which ids exist
        assert (stolen.status_code, stolen.json()) == (unknown.status_code, unknown.json()) == (404, unknown.json())
        assert post(srv, ben, LIST, session).status_code == 404
        # nor can the other user close it
        closed = httpx.delete(
            f"{srv.base_url}/mcp", headers={"authorization": f"Bearer {ben}", "mcp-session-id": session}
        )
        assert closed.status_code == 404
    assert post(second, ana, LIST, session).status_code == 200


def test_per_user_cap_holds_across_replicas(pair: tuple[RunningServer, RunningServer], ana: str, ben: str) -> None:
    first, second = pair
    opened = [open_session(srv, ana) for srv in (first, second, first)]
    for srv in pair:
        refused = post(srv, ana, INIT)
        assert refused.status_code == 429
        assert refused.json() == {"error": "too many concurrent MCP sessions for this user"}
        assert "mcp-session-id" not in refused.headers
    # another user has a budget of their own
    open_session(second, ben)
    # closing one (on the other replica) frees a slot
    closed = httpx.delete(
        f"{second.base_url}/mcp", headers={"authorization": f"Bearer {ana}", "mcp-session-id": opened[0]}
    )
    assert closed.status_code == 204
    assert post(first, ana, LIST, opened[0]).status_code == 404
    open_session(first, ana)
    assert post(second, ana, INIT).status_code == 429


def test_concurrent_opens_never_exceed_the_cap(pair: tuple[RunningServer, RunningServer], ana: str) -> None:
    statuses: list[int] = []
    targets = list(itertools.islice(itertools.cycle(pair), 8))

    def attempt(srv: RunningServer) -> None:
        statuses.append(post(srv, ana, INIT).status_code)

    threads = [threading.Thread(target=attempt, args=(srv,)) for srv in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * CAP + [429] * (8 - CAP)
    assert pair[0].sql("SELECT count(*) FROM mcp_sessions")[0][0] == CAP


def test_idle_sessions_expire_and_stop_counting(pair: tuple[RunningServer, RunningServer], ana: str) -> None:
    first, second = pair
    sessions = [open_session(first, ana) for _ in range(CAP)]
    assert post(first, ana, INIT).status_code == 429
    first.sql("UPDATE mcp_sessions SET last_seen = now() - interval '31 minutes'")
    assert post(second, ana, LIST, sessions[0]).status_code == 404
    open_session(second, ana)
    # the expired rows were swept when the new session opened
    assert first.sql("SELECT count(*) FROM mcp_sessions")[0][0] == 1


def test_use_keeps_a_session_alive(pair: tuple[RunningServer, RunningServer], ana: str) -> None:
    first, second = pair
    session = open_session(first, ana)
    first.sql("UPDATE mcp_sessions SET last_seen = now() - interval '29 minutes'")
    assert post(second, ana, LIST, session).status_code == 200
    age = first.sql("SELECT extract(epoch FROM now() - last_seen) FROM mcp_sessions")[0][0]
    assert age < 60


def test_keep_alive_stream_pings_and_ends_when_the_session_closes(
    pair: tuple[RunningServer, RunningServer], ana: str
) -> None:
    first, second = pair
    session = open_session(first, ana)
    headers = {"authorization": f"Bearer {ana}", "mcp-session-id": session, "accept": "text/event-stream"}
    pings = 0
    started = time.monotonic()
    with httpx.stream("GET", f"{second.base_url}/mcp", headers=headers, timeout=30) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line == ": ping":
                pings += 1
                if pings == 3:
                    # closing the session on the other replica ends the stream at the next tick
                    deleted = httpx.delete(
                        f"{first.base_url}/mcp", headers={"authorization": f"Bearer {ana}", "mcp-session-id": session}
                    )
                    assert deleted.status_code == 204
            else:
                assert line == "" or line.startswith(":"), line  # comments only: the server never pushes messages
    assert pings == 3
    assert time.monotonic() - started < 10


def test_keep_alive_refusals(pair: tuple[RunningServer, RunningServer], ana: str, ben: str) -> None:
    srv = pair[0]
    session = open_session(srv, ana)
    url = f"{srv.base_url}/mcp"
    sse = {"accept": "text/event-stream"}
    missing = httpx.get(url, headers={"authorization": f"Bearer {ana}", **sse})
    assert missing.status_code == 400
    foreign = httpx.get(url, headers={"authorization": f"Bearer {ben}", "mcp-session-id": session, **sse})
    assert foreign.status_code == 404
    wrong_accept = httpx.get(url, headers={"authorization": f"Bearer {ana}", "mcp-session-id": session})
    assert wrong_accept.status_code == 406
    anonymous = httpx.get(url, headers={"mcp-session-id": session, **sse})
    assert anonymous.status_code == 401


class _RoundRobin(httpx2.AsyncBaseTransport):
    """A load balancer without affinity: each request goes to the next replica."""

    def __init__(self, ports: list[int]) -> None:
        self._ports = itertools.cycle(ports)
        self._inner = httpx2.AsyncHTTPTransport()
        self.seen: list[int] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        port = next(self._ports)
        self.seen.append(port)
        request.url = request.url.copy_with(port=port)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@contextlib.asynccontextmanager
async def balanced(pair: tuple[RunningServer, RunningServer], token: str) -> AsyncIterator[tuple[ClientSession, Any]]:
    ports = [httpx.URL(srv.base_url).port or 0 for srv in pair]
    transport = _RoundRobin(ports)
    http = httpx2.AsyncClient(transport=transport, headers={"authorization": f"Bearer {token}"}, timeout=30)
    async with (
        http,
        streamable_http_client(f"{pair[0].base_url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session, transport


async def test_official_client_behind_a_load_balancer_without_affinity(
    pair: tuple[RunningServer, RunningServer], ana: str
) -> None:
    fact = "Replica test: the nightly export job for the finance team starts at 02:30 UTC."
    async with balanced(pair, ana) as (session, transport):
        stored = await session.call_tool("memory_remember", {"content": fact, "namespace": "ops"})
        assert not stored.is_error, stored.content
        found = await session.call_tool("memory_search", {"query": "finance nightly export", "k": 3})
        assert not found.is_error
        assert fact in [r["content"] for r in (found.structured_content or {})["results"]]
        assert (await session.call_tool("memory_forget", {"id": stored.structured_content["id"]})).is_error is False  # type: ignore[index]
        assert len(set(transport.seen)) == 2  # both replicas answered
    # the client closed its session with DELETE on leaving
    assert pair[0].sql("SELECT count(*) FROM mcp_sessions")[0][0] == 0
