"""Decay and promotion over HTTP: `POST /v1/decay` demotes idle memories, search shows and promotes them, the
other reads never do, and the scheduled job runs the same pass on the leader. Idleness is made by moving a
memory's write time back (the service-level tests inject the clock instead: tests/services/test_decay.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer, start_server, wait_for


@pytest.fixture(scope="module")
def decay_server(make_database: Callable[[], str]) -> Iterator[RunningServer]:
    running = start_server(make_database(), jobs_enabled=False, embeddings_provider="none")
    yield running
    running.stop()


@pytest.fixture
def api(decay_server: RunningServer) -> Iterator[httpx.Client]:
    decay_server.sql("TRUNCATE memory_entries, memory_changes, decay_runs CASCADE")
    decay_server.sql("UPDATE decay_promotions SET pending = 0")
    with decay_server.client() as client_:
        yield client_


def remember(api: httpx.Client, content: str, **extra: Any) -> str:
    r = api.post("/v1/remember", json={"content": content, **extra})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def age(server: RunningServer, entry_id: str, days: float) -> None:
    """Make the memory written (and never used since) `days` ago."""
    server.sql(
        "UPDATE memory_entries SET created_at = now() - make_interval(secs => %s) WHERE id = %s",
        (days * 86400, entry_id),
    )


def tiers(server: RunningServer) -> dict[str, bool]:
    return {
        row[0]: row[1]
        for row in server.sql(
            "SELECT e.id, EXISTS (SELECT 1 FROM memory_cold c WHERE c.entry_id = e.id) FROM memory_entries e"
        )
    }


def test_decay_demotes_idle_memories_and_search_promotes_them(api: httpx.Client, decay_server: RunningServer) -> None:
    idle = remember(api, "The nightly backup writes to the second data centre")
    fresh = remember(api, "The nightly backup is checked every Monday morning")
    lasting = remember(
        api, "The nightly backup keeps ninety days of history", metadata={"retention": {"baseEffectiveDays": 30}}
    )
    broken = remember(api, "The nightly backup once failed on a full disk", metadata={"retention": "until fixed"})
    for entry in (idle, lasting, broken):
        age(decay_server, entry, 8)
    assert api.post("/v1/decay", json={}).json() == {"demoted": 2, "promoted": 0, "expired": 0}
    assert tiers(decay_server) == {idle: True, fresh: False, lasting: False, broken: True}
    stats = api.get("/v1/stats").json()
    assert (stats["totalWarm"], stats["totalCold"]) == (2, 2) and stats["lastDecayAt"] is not None

    # cold memories are still found, by keyword too, with their tier shown; the hit brings them back
    found = api.post("/v1/search", json={"query": "nightly backup second data centre"}).json()["results"]
    assert (idle, "cold") in {(r["id"], r["tier"]) for r in found}
    woken = {r["id"] for r in found if r["tier"] == "cold"}
    assert wait_for(lambda: not any(tiers(decay_server)[entry] for entry in woken), timeout=10)
    answer = api.post("/v1/decay", json={"effectiveDays": 14})
    assert answer.status_code == 200 and answer.json() == {"demoted": 0, "promoted": len(woken), "expired": 0}
    promoted = len(woken)
    runs = decay_server.sql("SELECT demoted, promoted, effective_days FROM decay_runs ORDER BY id")
    assert runs == [(2, 0, None), (0, promoted, 14.0)]
    assert api.post("/v1/decay").json()["promoted"] == 0  # reported once


def test_recent_and_neighbors_never_promote(api: httpx.Client, decay_server: RunningServer) -> None:
    seed = remember(api, "The release train leaves every second Thursday")
    other = remember(api, "The release notes are written by the on-call engineer")
    decay_server.sql(
        "INSERT INTO memory_relations (tenant_id, from_id, to_id, relation, strength)"
        " SELECT tenant_id, %s, %s, 'co_occurs', 0.9 FROM memory_entries WHERE id = %s",
        (seed, other, seed),
    )
    for entry in (seed, other):
        age(decay_server, entry, 10)
    assert api.post("/v1/decay").json()["demoted"] == 2
    recent = api.post("/v1/recent", json={}).json()["results"]
    assert {(r["id"], r["tier"]) for r in recent} == {(seed, "cold"), (other, "cold")}
    near = api.post("/v1/neighbors", json={"id": seed}).json()["results"]
    assert [(r["id"], r["tier"]) for r in near] == [(other, "cold")]
    assert not wait_for(lambda: not all(tiers(decay_server).values()), timeout=1)
    assert decay_server.sql("SELECT count(*) FROM memory_access") == [(0,)]
    assert api.post("/v1/decay").json() == {"demoted": 0, "promoted": 0, "expired": 0}


@pytest.mark.parametrize("days", [0, -1, 3651, "7", True, None, [7]])
def test_decay_rejects_bad_effective_days_with_the_contract_envelope(
    api: httpx.Client, decay_server: RunningServer, days: object
) -> None:
    before = decay_server.sql("SELECT count(*) FROM decay_runs")
    r = api.post("/v1/decay", json={"effectiveDays": days})
    if days is None:  # null is "not given": the configured base applies
        assert r.status_code == 200
        return
    body = r.json()
    assert r.status_code == 400 and body["error"] == "invalid request body" and set(body) == {"error", "issues"}
    assert [issue["path"] for issue in body["issues"]] == ["effectiveDays"]
    assert decay_server.sql("SELECT count(*) FROM decay_runs") == before  # nothing ran


def test_the_scheduled_job_runs_the_pass_on_the_leader(make_database: Callable[[], str]) -> None:
    server = start_server(make_database(), jobs_enabled=True, decay_interval_ms=300, embeddings_provider="none")
    try:
        with server.client() as api:
            entry = remember(api, "The VPN certificate is renewed by hand each spring")
        age(server, entry, 9)
        assert wait_for(lambda: tiers(server)[entry], timeout=20)
        assert wait_for(lambda: server.sql("SELECT count(*) FROM decay_runs")[0][0] >= 2, timeout=20)
        assert server.sql("SELECT sum(demoted) FROM decay_runs") == [(1,)]
        job = server.sql("SELECT runs, result FROM job_runs WHERE job = 'decay'")
        assert job and job[0][0] >= 1 and set(job[0][1]) == {"demoted", "promoted", "expired"}
    finally:
        server.stop()


def test_an_interval_of_zero_turns_the_job_off(make_database: Callable[[], str]) -> None:
    server = start_server(make_database(), jobs_enabled=True, decay_interval_ms=0, embeddings_provider="none")
    try:
        # the leader has run its other jobs, and decay was not among them
        assert wait_for(lambda: bool(server.sql("SELECT 1 FROM job_runs WHERE job = 'expiry-purge'")), timeout=20)
        assert server.sql("SELECT count(*) FROM decay_runs") == [(0,)]
        assert server.sql("SELECT count(*) FROM job_runs WHERE job = 'decay'") == [(0,)]
        with server.client() as api:  # the route still runs it
            assert api.post("/v1/decay").status_code == 200
        assert server.sql("SELECT count(*) FROM decay_runs") == [(1,)]
    finally:
        server.stop()
