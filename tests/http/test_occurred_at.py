"""When a memory's event happened (`occurredAt`) over real HTTP: stored, returned, exported, imported,
edited, validated with the contract's envelope, used by recency and by queries that name a time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer, start_server
from tests.http.identities import USER_MODE, add_user, client, mint

HIKE_ALPS = "Dana went hiking in the mountains with her sister and two old friends"
HIKE_LAKE = "Dana went hiking by the lake with her sister and two old friends"


@pytest.fixture(scope="module")
def user_server(make_database: Callable[[], str]) -> Iterator[tuple[RunningServer, str]]:
    server = start_server(make_database(), **USER_MODE)
    token = mint(server, add_user(server, "dana"))
    yield server, token
    server.stop()


@pytest.fixture
def api(user_server: tuple[RunningServer, str]) -> Iterator[httpx.Client]:
    server, token = user_server
    server.sql("TRUNCATE memory_entries CASCADE")
    with client(server, token) as http:
        yield http


def remember(api: httpx.Client, content: str, path: str = "/v1/remember", **fields: Any) -> str:
    r = api.post(path, json={"content": content, **fields})
    assert r.status_code == 201, r.text
    assert r.json()["id"] is not None, r.text
    return str(r.json()["id"])


def recent(api: httpx.Client) -> dict[str, dict[str, Any]]:
    r = api.post("/v1/recent", json={"k": 50})
    assert r.status_code == 200, r.text
    return {item["id"]: item for item in r.json()["results"]}


def search(api: httpx.Client, query: str, **fields: Any) -> list[dict[str, Any]]:
    r = api.post("/v1/search", json={"query": query, **fields})
    assert r.status_code == 200, r.text
    return list(r.json()["results"])


def iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def test_occurred_at_round_trips_through_writes_reads_and_updates(api: httpx.Client) -> None:
    dated = remember(api, "The team offsite was held in Lisbon", occurredAt="2023-05-08T13:56:00+02:00")
    lease = "The new office lease was signed with the landlord"
    day_only = remember(api, lease, "/v1/capture", occurredAt="2023-06-09")
    unknown = remember(api, "The staging database runs on port 5433")
    listed = recent(api)
    assert listed[dated]["occurredAt"] == "2023-05-08T11:56:00.000Z"
    assert listed[day_only]["occurredAt"] == "2023-06-09T00:00:00.000Z"  # a date alone: that day, UTC
    assert listed[unknown]["occurredAt"] is None
    found = search(api, "team offsite Lisbon")
    assert found[0]["id"] == dated and found[0]["occurredAt"] == "2023-05-08T11:56:00.000Z"

    moved = api.put(f"/v1/memories/{unknown}", json={"occurredAt": "2024-01-02T03:04:05Z"})
    assert moved.status_code == 200, moved.text
    assert recent(api)[unknown]["occurredAt"] == "2024-01-02T03:04:05.000Z"
    kept = api.put(f"/v1/memories/{unknown}", json={"confidence": 0.9})  # absent: unchanged
    assert kept.status_code == 200 and recent(api)[unknown]["occurredAt"] == "2024-01-02T03:04:05.000Z"
    cleared = api.put(f"/v1/memories/{unknown}", json={"occurredAt": None})  # null: unknown again
    assert cleared.status_code == 200 and recent(api)[unknown]["occurredAt"] is None


def test_export_and_import_carry_occurred_at(api: httpx.Client) -> None:
    remember(api, "The kitchen was repainted a pale green", occurredAt="2022-03-04T05:06:07Z")
    exported = api.get("/v1/me/export").json()["entries"]
    assert [e["occurredAt"] for e in exported] == ["2022-03-04T05:06:07.000Z"]
    entries = [
        {"content": "The garage door was replaced last spring", "occurredAt": "2021-04-10T08:00:00-05:00"},
        {"content": "The boiler service is booked every autumn"},
    ]
    imported = api.post("/v1/me/import", json={"entries": entries})
    assert imported.status_code == 201 and imported.json()["imported"] == 2, imported.text
    by_content = {e["content"]: e["occurredAt"] for e in api.get("/v1/me/export").json()["entries"]}
    assert by_content["The garage door was replaced last spring"] == "2021-04-10T13:00:00.000Z"
    assert by_content["The boiler service is booked every autumn"] is None


@pytest.mark.parametrize(
    "value",
    ["2023-05-08T13:56:00", "yesterday", "2023-02-30", "", 1683554160, True, ["2023-05-08"], {"at": "x"}],
)
def test_invalid_occurred_at_is_refused_with_the_envelope_and_stores_nothing(api: httpx.Client, value: Any) -> None:
    content = "The garden shed roof was fixed after the storm"
    for path in ("/v1/remember", "/v1/capture"):
        r = api.post(path, json={"content": content, "occurredAt": value})
        assert r.status_code == 400, r.text
        assert r.json()["error"] == "invalid request body"
        assert [i["path"] for i in r.json()["issues"]] == ["occurredAt"]
    imported = api.post("/v1/me/import", json={"entries": [{"content": content, "occurredAt": value}]})
    assert imported.status_code == 400 and imported.json()["issues"][0]["path"] == "entries.0.occurredAt"
    batch = api.post("/v1/remember/batch", json={"entries": [{"content": content, "occurredAt": value}]})
    assert batch.status_code == 400 and batch.json()["issues"][0]["path"] == "entries.0.occurredAt"
    assert recent(api) == {}
    stored = remember(api, content)
    update = api.put(f"/v1/memories/{stored}", json={"occurredAt": value})
    assert update.status_code == 400 and update.json()["issues"][0]["path"] == "occurredAt"
    assert recent(api)[stored]["occurredAt"] is None


def test_time_weight_is_validated_like_the_other_weights(api: httpx.Client) -> None:
    for bad in (-1, 11, "high"):
        r = api.post("/v1/search", json={"query": "anything at all", "weights": {"time": bad}})
        assert r.status_code == 400 and r.json()["issues"][0]["path"] == "weights.time", r.text


def test_recency_counts_from_occurred_at_when_there_is_one(api: httpx.Client) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=3 * 365)
    old_event = remember(api, HIKE_ALPS, occurredAt=long_ago.isoformat())
    fresh = remember(api, HIKE_LAKE)  # no occurredAt: recency counts from now
    results = {r["id"]: r for r in search(api, "Dana hiking sister friends")}
    assert results[old_event]["signals"]["recency"] < 0.01  # exp(-1095/180)
    assert results[fresh]["signals"]["recency"] > 0.99
    recency_only = search(api, "Dana hiking sister friends", weights={"vector": 0, "keyword": 1, "recency": 10})
    assert [r["id"] for r in recency_only] == [fresh, old_event]


def test_a_query_naming_a_time_ranks_the_memory_inside_it_first(api: httpx.Client) -> None:
    now = datetime.now(UTC)
    last_year = datetime(now.year - 1, 6, 15, tzinfo=UTC)
    inside = remember(api, HIKE_ALPS, occurredAt=last_year.isoformat())
    outside = remember(api, HIKE_LAKE, occurredAt=(now - timedelta(days=1)).isoformat())  # fresher
    query = "Where did Dana go hiking with her sister last year?"
    boosted = search(api, query)
    assert [r["id"] for r in boosted[:2]] == [inside, outside]
    assert boosted[0]["signals"]["time"] == 1.0 and boosted[1]["signals"]["time"] == 0.0
    # without the boost the fresher memory wins: the order above is the time signal's doing
    plain = search(api, query, weights={"time": 0})
    assert [r["id"] for r in plain[:2]] == [outside, inside]
    assert "time" not in plain[0]["signals"]
    # a query that names no time reports no time signal
    assert set(search(api, "Dana hiking sister")[0]["signals"]) == {"keyword", "vector", "graph", "recency", "entity"}


def test_when_questions_prefer_memories_that_know_when_they_happened(api: httpx.Client) -> None:
    now = datetime.now(UTC)
    # the dated memory is the one the plain search ranks second (see the last line)
    dated = remember(api, HIKE_LAKE, occurredAt=iso_z(now - timedelta(hours=1)))
    undated = remember(api, HIKE_ALPS)
    query = "When did Dana go hiking with her sister?"
    assert [r["id"] for r in search(api, query)[:2]] == [dated, undated]
    assert [r["id"] for r in search(api, query, weights={"time": 0})[:2]] == [undated, dated]
