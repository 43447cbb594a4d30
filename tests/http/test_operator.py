"""Operator routes (decay, reap-orphans, dream-cycle, observe): who may call them and what they answer."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.conftest import RunningServer, start_server
from tests.http.identities import USER_MODE, add_project, add_user, client, mint

ROUTES = ["/v1/decay", "/v1/reap-orphans", "/v1/dream-cycle", "/v1/observe"]
ZERO_REAP = {"attempted": 0, "cleared": 0, "abandoned": 0, "pending": 0, "total": 0}
DREAM_FIELDS = {
    "walked",
    "merged",
    "edgesPromoted",
    "factsWalked",
    "factClustersJudged",
    "factsSuperseded",
    "durationMs",
}
SHARED_TOKEN = "operator-shared-token-0123456789abcdef"


@pytest.fixture(scope="module")
def open_server(make_database: Callable[[], str]) -> Iterator[RunningServer]:
    """`none` mode (its own database: decay runs would show in the shared server's stats)."""
    running = start_server(make_database(), jobs_enabled=False, embeddings_provider="none")
    yield running
    running.stop()


@pytest.fixture
def api(open_server: RunningServer) -> Iterator[httpx.Client]:
    open_server.sql("TRUNCATE memory_entries, memory_changes CASCADE")
    with open_server.client() as client_:
        yield client_


def check_answers(api: httpx.Client) -> None:
    """What each route answers to an operator."""
    decay = api.post("/v1/decay", json={"effectiveDays": 14})
    assert decay.status_code == 200 and decay.json() == {"demoted": 0, "promoted": 0, "expired": 0}
    assert api.post("/v1/decay").status_code == 200  # the body is optional
    reap = api.post("/v1/reap-orphans")
    assert reap.status_code == 200 and reap.json() == ZERO_REAP
    dream = api.post("/v1/dream-cycle")
    assert dream.status_code == 200 and set(dream.json()) == DREAM_FIELDS
    assert all(type(v) is int for v in dream.json().values())
    # no embedder here: nothing to walk or merge; no fact extraction: no facts judged
    assert {k: v for k, v in dream.json().items() if k != "durationMs"} == dict.fromkeys(
        DREAM_FIELDS - {"durationMs"}, 0
    )
    observe = api.post("/v1/observe", json={"limit": 5})
    assert observe.status_code == 503 and observe.json() == {"error": "observer disabled"}


def test_the_shared_caller_of_none_mode_is_an_operator(api: httpx.Client, open_server: RunningServer) -> None:
    before = open_server.sql("SELECT count(*) FROM decay_runs")[0][0]
    check_answers(api)
    runs = open_server.sql(
        "SELECT demoted, promoted, effective_days, finished_at >= started_at FROM decay_runs ORDER BY id"
    )
    assert len(runs) == before + 2
    assert runs[-2:] == [(0, 0, 14.0, True), (0, 0, None, True)]


def test_decay_purges_expired_entries_and_counts_them(api: httpx.Client, open_server: RunningServer) -> None:
    kept = api.post("/v1/remember", json={"content": "This fact does not expire any time soon"}).json()["id"]
    gone = api.post("/v1/remember", json={"content": "This fact expires and is purged by decay"}).json()["id"]
    open_server.sql("UPDATE memory_entries SET expires_at = now() - interval '1 second' WHERE id = %s", (gone,))
    assert api.post("/v1/decay", json={}).json() == {"demoted": 0, "promoted": 0, "expired": 1}
    assert open_server.sql("SELECT id FROM memory_entries") == [(kept,)]
    changes = open_server.sql("SELECT change FROM memory_changes WHERE entry_id = %s ORDER BY seq", (gone,))
    assert changes == [("created",), ("expired",)]


@pytest.mark.parametrize("body", [{"effectiveDays": 0}, {"effectiveDays": 3651}, {"effectiveDays": "7"}])
def test_decay_rejects_bad_effective_days(api: httpx.Client, body: dict[str, object]) -> None:
    r = api.post("/v1/decay", json=body)
    assert r.status_code == 400 and r.json()["error"] == "invalid request body"


def test_observe_validates_its_body_before_answering(api: httpx.Client) -> None:
    assert api.post("/v1/observe", json={"limit": 0}).status_code == 400
    assert api.post("/v1/observe", json={"limit": 201}).status_code == 400


def test_operator_routes_are_in_the_openapi_document(api: httpx.Client) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    decay = paths["/v1/decay"]["post"]
    assert decay["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/DecayResponse"
    }
    assert "requestBody" in decay and "400" in decay["responses"]
    assert paths["/v1/reap-orphans"]["post"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ReapResponse"
    }
    dream = paths["/v1/dream-cycle"]["post"]["responses"]
    assert dream["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/DreamCycleResponse"}
    assert "403" in dream
    assert "403" in paths["/v1/observe"]["post"]["responses"]


@pytest.fixture(scope="module")
def user_server(make_database: Callable[[], str]) -> Iterator[RunningServer]:
    running = start_server(make_database(), **USER_MODE, embeddings_provider="none")
    yield running
    running.stop()


def test_user_mode_admits_admins_only(user_server: RunningServer) -> None:
    admin, alice = add_user(user_server, "admin", role="admin"), add_user(user_server, "alice")
    project = add_project(user_server, "ops", admin)
    with client(user_server, mint(user_server, admin)) as api:
        check_answers(api)
    refusals = [
        (mint(user_server, admin, scope="read_only"), "read-only token"),
        (mint(user_server, admin, project=project), "restricted token"),
    ]
    for token, message in refusals:
        with client(user_server, token) as api:
            for path in ROUTES:
                r = api.post(path, json={})
                assert r.status_code == 403 and r.json() == {"error": message}, (path, message)
    # a non-admin hears what an anonymous caller hears, whatever its token's restrictions
    non_admins = [mint(user_server, alice), mint(user_server, alice, scope="read_only")]
    for api in [user_server.client(), *(client(user_server, token) for token in non_admins)]:
        with api:
            for path in ROUTES:
                r = api.post(path, json={})
                assert r.status_code == 401 and r.json() == {"error": "unauthorized"}, path


def test_bearer_mode_token_holder_is_an_operator(make_database: Callable[[], str]) -> None:
    server = start_server(
        make_database(), auth_mode="bearer", auth_token=SHARED_TOKEN, jobs_enabled=False, embeddings_provider="none"
    )
    try:
        with server.client(headers={"authorization": f"Bearer {SHARED_TOKEN}"}) as api:
            check_answers(api)
        with server.client() as anonymous:
            assert anonymous.post("/v1/decay", json={}).status_code == 401
    finally:
        server.stop()
