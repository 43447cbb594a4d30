"""The graph signal over real HTTP (built-in embedder, embedded PostgreSQL): expansion from the strongest
hits along relations, shared source references and shared entities; the later version of a fact first;
and nothing another user owns ever reaches an answer through a link."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer, start_server
from tests.http.identities import USER_MODE, add_user, client, mint

NO_GRAPH = {"graph": 0}


@pytest.fixture(scope="module")
def users(make_database: Callable[[], str]) -> Iterator[tuple[RunningServer, str, str]]:
    server = start_server(make_database(), **USER_MODE)
    ann = mint(server, add_user(server, "ann"))
    bob = mint(server, add_user(server, "bob"))
    yield server, ann, bob
    server.stop()


@pytest.fixture
def world(users: tuple[RunningServer, str, str]) -> Iterator[tuple[RunningServer, httpx.Client, httpx.Client]]:
    server, ann, bob = users
    server.sql("TRUNCATE memory_entries CASCADE")
    with client(server, ann) as a, client(server, bob) as b:
        yield server, a, b


def remember(api: httpx.Client, content: str, **fields: Any) -> str:
    r = api.post("/v1/remember", json={"content": content, "force": True, **fields})
    assert r.status_code == 201, r.text
    assert r.json()["id"] is not None and r.json()["embedded"] is True, r.text
    return str(r.json()["id"])


def search(api: httpx.Client, query: str, **fields: Any) -> list[dict[str, Any]]:
    r = api.post("/v1/search", json={"query": query, **fields})
    assert r.status_code == 200, r.text
    assert r.json()["degraded"] is False
    return list(r.json()["results"])


def test_the_later_version_of_a_fact_ranks_first_unless_the_question_is_about_time(
    world: tuple[RunningServer, httpx.Client, httpx.Client],
) -> None:
    server, ann, _ = world
    old = remember(ann, "The connection pool of billing is capped at 30.", occurredAt="2026-01-05T10:00:00Z")
    new = remember(ann, "Raised the billing connection pool limit to 40.", occurredAt="2026-03-02T09:00:00Z")
    remember(ann, "The search service is written in Go.", occurredAt="2026-02-01T09:00:00Z")
    # the two versions are linked by the co-occurrence relation written at remember time
    assert server.sql(
        "SELECT strength FROM memory_relations WHERE (from_id, to_id) IN ((%s, %s), (%s, %s))", (old, new, new, old)
    )
    question = "How big is the connection pool of billing?"
    plain = [r["id"] for r in search(ann, question, weights=NO_GRAPH)]
    assert plain.index(old) < plain.index(new)  # the older wording matches the question better
    ranked = search(ann, question)
    ids = [r["id"] for r in ranked]
    assert ids.index(new) < ids.index(old)  # ...but the later version is the current state
    assert ranked[ids.index(new)]["score"] >= ranked[ids.index(old)]["score"]
    # asked about the past, the versions keep their own order
    history = [r["id"] for r in search(ann, "When was the connection pool of billing capped?")]
    assert history.index(old) < history.index(new)


def test_an_inferred_edge_does_not_make_two_memories_versions_of_one_fact(
    world: tuple[RunningServer, httpx.Client, httpx.Client],
) -> None:
    server, ann, _ = world
    old = remember(ann, "The connection pool of billing is capped at 30.", occurredAt="2026-01-05T10:00:00Z")
    new = remember(ann, "Raised the billing connection pool limit to 40.", occurredAt="2026-03-02T09:00:00Z")
    # the dream cycle's edge (shared neighbours, not similar texts) in place of the co-occurrence edge
    server.sql("DELETE FROM memory_relations WHERE from_id IN (%s, %s) OR to_id IN (%s, %s)", (old, new, old, new))
    server.sql(
        "INSERT INTO memory_relations (from_id, to_id, relation, strength, tenant_id)"
        " SELECT %s, %s, 'co_inferred', 0.9, tenant_id FROM memory_entries WHERE id = %s",
        (old, new, old),
    )
    ids = [r["id"] for r in search(ann, "How big is the connection pool of billing?")]
    assert ids.index(old) < ids.index(new)  # the better match stays first: no version rule applied


def test_a_shared_entity_or_source_links_a_memory_to_a_strong_hit(
    world: tuple[RunningServer, httpx.Client, httpx.Client],
) -> None:
    _, ann, _ = world
    owner = remember(ann, "The payments service is owned by team Falcon.")
    on_call = remember(ann, "Priya carries the pager for Falcon this month.")
    notes = remember(ann, "Call notes: we agreed to retire the legacy cron host.", sourceRefs=["meeting:2026-02-11"])
    decision = remember(
        ann, "Decision: the payments service moves to the new cluster.", sourceRefs=["meeting:2026-02-11"]
    )
    unrelated = remember(ann, "The office plants need water on Fridays.")
    found = {r["id"]: r for r in search(ann, "who owns the payments service", k=20)}
    assert found[owner]["signals"]["graph"] > 0 or found[decision]["signals"]["graph"] > 0
    assert found[on_call]["signals"]["graph"] > 0  # "Falcon" links it to the best hit
    assert found[notes]["signals"]["graph"] > 0  # written just before a strong hit in the same meeting
    assert unrelated not in found or found[unrelated]["signals"]["graph"] == 0
    off = {r["id"]: r for r in search(ann, "who owns the payments service", k=20, weights=NO_GRAPH)}
    assert all(r["signals"]["graph"] == 0 for r in off.values())


def test_expansion_brings_in_a_source_neighbour_from_outside_the_first_stage(
    world: tuple[RunningServer, httpx.Client, httpx.Client],
) -> None:
    _, ann, _ = world
    for i in range(70):  # close matches enough to fill the first stage's 50 candidates (k=10)
        remember(ann, f"Payments service request log {i}: the payments service answered {100 + i} requests.")
    meeting = ["meeting:ownership"]
    owner = remember(ann, "Who owns the payments service? It is owned by team Heron.", sourceRefs=meeting)
    pager = remember(ann, "Noor holds the pager during March.", sourceRefs=meeting)  # the next thing said
    plain = {r["id"] for r in search(ann, "who owns the payments service", k=10, weights=NO_GRAPH)}
    assert owner in plain and pager not in plain
    # weighted so that a graph signal alone can reach the top 10: the neighbour was brought in and scored
    expanded = {r["id"]: r for r in search(ann, "who owns the payments service", k=10, weights={"graph": 10})}
    assert owner in expanded and pager in expanded
    assert expanded[pager]["signals"]["graph"] >= 0.3
    assert expanded[pager]["signals"]["keyword"] == 0


def test_links_never_carry_another_users_memories(world: tuple[RunningServer, httpx.Client, httpx.Client]) -> None:
    server, ann, bob = world
    mine = remember(ann, "The payments service is owned by team Osprey.", sourceRefs=["ticket:PAY-7"])
    theirs = [
        remember(bob, "Kai carries the pager for Osprey.", sourceRefs=["ticket:PAY-7"]),
        remember(bob, "The payments service is owned by team Osprey, says the wiki."),
        remember(bob, "Osprey moved the payments service to port 9443.", sourceRefs=["ticket:PAY-7"]),
    ]
    # bob's memories are linked to ann's: a shared entity, a shared source reference and, for a near
    # duplicate, a relation row written here by hand
    server.sql(
        "INSERT INTO memory_relations (tenant_id, from_id, to_id, relation, strength)"
        " VALUES ('default', %s, %s, 'co_occurs', 0.99)",
        (mine, theirs[1]),
    )
    for weights in ({}, {"graph": 1.0}):
        found = [r["id"] for r in search(ann, "who owns the payments service", k=50, weights=weights)]
        assert found == [mine]
    assert mine not in [r["id"] for r in search(bob, "who owns the payments service", k=50, weights={"graph": 1})]


@pytest.mark.parametrize("weight", [-0.1, 10.5, "high", None])
def test_graph_weight_is_validated(world: tuple[RunningServer, httpx.Client, httpx.Client], weight: object) -> None:
    _, ann, _ = world
    r = ann.post("/v1/search", json={"query": "anything", "weights": {"graph": weight}})
    if weight is None:  # null means "the preset's weight"
        assert r.status_code == 200, r.text
        return
    assert r.status_code == 400, r.text
    assert set(r.json()) >= {"error"}
