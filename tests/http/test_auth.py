"""bearer mode: one shared token, compared in constant time; everything else is 401."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.conftest import RunningServer, start_server

TOKEN = "s3cret-token-for-tests-0123456789"


@pytest.fixture(scope="module")
def bearer_server(make_database: Callable[[], str]) -> Iterator[RunningServer]:
    running = start_server(make_database(), auth_mode="bearer", auth_token=TOKEN, jobs_enabled=False)
    yield running
    running.stop()


PROTECTED = [
    ("POST", "/v1/remember", {"content": "A fact that needs a token to store"}),
    ("POST", "/v1/capture", {"content": "A fact that needs a token to store"}),
    ("POST", "/v1/session-recap", {"decisions": ["We decided tokens are required"]}),
    ("POST", "/v1/search", {"query": "fact"}),
    ("POST", "/v1/context", {"message": "fact"}),
    ("POST", "/v1/recent", {}),
    ("POST", "/v1/neighbors", {"id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}),
    ("POST", "/v1/forget", {"id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}),
    ("PUT", "/v1/memories/01ARZ3NDEKTSV4RRFFQ69G5FAV", {"namespace": "x"}),
    ("GET", "/v1/stats", None),
    ("POST", "/v1/hygiene", {"k": 5}),
    ("POST", "/v1/evaluate", {"suite": "core"}),
]


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer"])
def test_requests_without_the_token_are_401(
    bearer_server: RunningServer, method: str, path: str, body: object, header: str | None
) -> None:
    headers = {"authorization": header} if header else {}
    with bearer_server.client() as client:
        r = client.request(method, path, json=body, headers=headers)
    assert r.status_code == 401
    assert r.json() == {"error": "unauthorized"}
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert bearer_server.sql("SELECT count(*) FROM memory_entries") == [(0,)]


def test_the_token_opens_the_data_plane(bearer_server: RunningServer) -> None:
    with bearer_server.client(headers={"authorization": f"Bearer {TOKEN}"}) as client:
        stored = client.post("/v1/remember", json={"content": "Shared mode stores this durable fact"})
        assert stored.status_code == 201
        hits = client.post("/v1/search", json={"query": "shared mode fact"}).json()["results"]
        assert hits[0]["id"] == stored.json()["id"]
    bearer_server.sql("TRUNCATE memory_entries CASCADE")


def test_probes_and_docs_stay_public(bearer_server: RunningServer) -> None:
    with bearer_server.client() as client:
        for path in ("/live", "/ready", "/health", "/openapi.json", "/api-docs"):
            assert client.get(path).status_code == 200, path
