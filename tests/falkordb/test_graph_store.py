"""FalkorDB as the graph store, against a real FalkorDB and a real server.

Two servers share one database: `pg` reads the graph from PostgreSQL (NOVAMEM_GRAPH_STORE=postgres), `fk`
from FalkorDB. The `pg` server starts first, so the `fk` server's start-up leaves the outbox queueing
`graph` items. The same callers asking both must get the same answers; FalkorDB being stopped or frozen
must never fail a write, and must turn graph reads into PostgreSQL answers marked `degraded`.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from novamem.domain.scope import ReadScope
from novamem.storage.falkordb.graphs import FalkorGraphs
from novamem.storage.falkordb.reader import FalkorGraphReader
from tests.conftest import RunningServer, start_server, wait_for
from tests.falkordb.conftest import FalkorProcess, expected_snapshot, graph_outbox_empty, graph_snapshot
from tests.http.identities import USER_MODE, add_project, add_user, mint

ACME = "acme"
FACTS = [
    "The Billing API runs on port 8443 behind the Caddy proxy in Frankfurt",
    "Billing API deploys go through the GitHub Actions pipeline named release-billing",
    "The Billing API stores invoices in PostgreSQL 16 with a nightly backup at 02:00",
    "Caddy terminates TLS for the Billing API and renews certificates automatically",
    "The nightly PostgreSQL backup for billing is copied to the Frankfurt object store",
    "Release-billing pipeline runs the integration tests against a PostgreSQL 16 container",
    "Ana prefers short commit messages and squash merges for the Billing API repository",
    "Invoices older than 400 days are archived by the billing job to cold storage",
]


@dataclass
class World:
    pg: RunningServer
    fk: RunningServer
    falkordb: FalkorProcess
    tokens: dict[str, str]
    project: str
    ids: dict[str, list[str]]  # caller name -> their entry ids, in FACTS order

    def call(self, server: RunningServer, who: str, path: str, body: dict[str, Any]) -> httpx.Response:
        with server.client(headers={"authorization": f"Bearer {self.tokens[who]}"}) as client:
            return client.post(path, json=body)


def _write(w: World, who: str, content: str, **fields: Any) -> str:
    r = w.call(w.fk, who, "/v1/remember", {"content": content, **fields})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


@pytest.fixture(scope="module")
def world(make_database: Any, falkordb: FalkorProcess) -> Iterator[World]:
    url = make_database()
    pg = start_server(url, **USER_MODE)
    fk = start_server(url, graph_store="falkordb", falkordb_url=falkordb.url, falkordb_timeout_ms=800, **USER_MODE)
    pg.sql("INSERT INTO tenants (id, name) VALUES (%s, %s)", (ACME, ACME))
    ann, bob = add_user(pg, "ann"), add_user(pg, "bob")
    cid = add_user(pg, "cid", tenant=ACME)
    project = add_project(pg, "billing", ann)
    admin = add_user(pg, "root", role="admin")
    tokens = {"ann": mint(pg, ann), "bob": mint(pg, bob), "cid": mint(pg, cid, tenant=ACME), "admin": mint(pg, admin)}
    w = World(pg, fk, falkordb, tokens, project, {})
    # identical content everywhere: ann's own, bob's own, ann's in the project, cid's in another tenant
    w.ids = {
        "ann": [_write(w, "ann", f) for f in FACTS],
        "bob": [_write(w, "bob", f) for f in FACTS],
        "ann@project": [_write(w, "ann", f, project=project) for f in FACTS],
        "cid": [_write(w, "cid", f) for f in FACTS],
    }
    assert wait_for(lambda: graph_outbox_empty(url), timeout=60)
    yield w
    fk.stop()
    pg.stop()


def _callers(w: World) -> list[tuple[str, str, dict[str, Any]]]:
    """(token name, whose entries seed the walk, scope fields of the request)."""
    return [("ann", "ann", {}), ("bob", "bob", {}), ("ann", "ann@project", {"project": w.project}), ("cid", "cid", {})]


def test_the_outbox_feeds_each_tenant_graph_with_exactly_what_postgres_holds(world: World) -> None:
    for tenant in ("default", ACME):
        got, want = graph_snapshot(world.falkordb.url, tenant), expected_snapshot(world.pg.database_url, tenant)
        assert got == want
    assert len(got["memories"]) == len(FACTS) and got["relates"] and got["mentions"]


def test_neighbours_from_falkordb_equal_the_postgres_answers(world: World) -> None:
    walked = 0
    for who, owner, scope in _callers(world):
        for seed in world.ids[owner]:
            for depth in (1, 2, 3):
                body = {"id": seed, "depth": depth, "k": 50, **scope}
                a, b = (
                    world.call(world.pg, who, "/v1/neighbors", body),
                    world.call(world.fk, who, "/v1/neighbors", body),
                )
                assert a.status_code == b.status_code == 200
                assert b.json() == a.json()
                assert b.json()["degraded"] is False
                walked += len(b.json()["results"])
                assert {r["id"] for r in b.json()["results"]} <= set(world.ids[owner])
    assert walked > 0


def _assert_same_ranking(got: dict[str, Any], want: dict[str, Any]) -> None:
    """The same results in the same order with the same signals; scores may differ in the last rounded digit,
    because recency is measured at the moment of each request."""
    assert [r["id"] for r in got["results"]] == [r["id"] for r in want["results"]]
    for g, w in zip(got["results"], want["results"], strict=True):
        assert g["score"] == pytest.approx(w["score"], abs=2e-6)
        assert g["signals"].keys() == w["signals"].keys()
        for name, value in w["signals"].items():
            assert g["signals"][name] == pytest.approx(value, abs=2e-6), name
        assert {k: v for k, v in g.items() if k not in ("score", "signals")} == {
            k: v for k, v in w.items() if k not in ("score", "signals")
        }


def test_the_graph_signal_from_falkordb_equals_the_postgres_signal(world: World) -> None:
    weights = {"keyword": 0.4, "vector": 0.4, "graph": 0.5, "recency": 0.05, "entity": 0.05}
    boosted = 0
    for who, _, scope in _callers(world):
        for query in ("Billing API backups", "release pipeline tests", "Frankfurt"):
            body = {"query": query, "k": 8, "weights": weights, **scope}
            a, b = world.call(world.pg, who, "/v1/search", body), world.call(world.fk, who, "/v1/search", body)
            assert a.status_code == b.status_code == 200
            _assert_same_ranking(b.json(), a.json())
            assert b.json()["degraded"] is False
            boosted += sum(1 for r in b.json()["results"] if r["signals"]["graph"] > 0)
    assert boosted > 0


async def test_the_cypher_filter_itself_excludes_other_users_projects_and_tenants(world: World) -> None:
    graphs = FalkorGraphs(world.falkordb.url, timeout_s=5)
    reader = FalkorGraphReader(graphs, source=None)  # type: ignore[arg-type] # no hydration in these calls
    rows = world.pg.sql(
        "SELECT id, user_id FROM memory_entries WHERE id = ANY(%s)", ([world.ids["ann"][0], world.ids["cid"][0]],)
    )
    owner = dict(rows)
    ann, cid = owner[world.ids["ann"][0]], owner[world.ids["cid"][0]]
    bob = world.pg.sql("SELECT user_id FROM memory_entries WHERE id = %s", (world.ids["bob"][0],))[0][0]
    ann_scope = ReadScope(tenant_id="default", user_id=ann)
    try:
        for seed in world.ids["ann"]:
            own = await reader.neighbor_scores(ann_scope, seed, 3)
            assert set(own) <= set(world.ids["ann"])
            # the same walk for another user, for the project only, for an organization, for another tenant
            assert await reader.neighbor_scores(ReadScope(tenant_id="default", user_id=bob), seed, 3) == {}
            project_only = ReadScope(
                tenant_id="default", user_id=ann, include_user_global=False, project_ids=(world.project,)
            )
            assert await reader.neighbor_scores(project_only, seed, 3) == {}
            org = ReadScope(tenant_id="default", user_id=ann, organization_id="org-1")
            assert await reader.neighbor_scores(org, seed, 3) == {}
            assert await reader.neighbor_scores(ReadScope(tenant_id=ACME, user_id=cid), seed, 3) == {}
        assert any([await reader.neighbor_scores(ann_scope, s, 1) for s in world.ids["ann"]])
        for scope, mine in [
            (ann_scope, world.ids["ann"]),
            (ReadScope(tenant_id="default", user_id=bob), world.ids["bob"]),
            (
                ReadScope(tenant_id="default", user_id=ann, include_user_global=False, project_ids=(world.project,)),
                world.ids["ann@project"],
            ),
            (ReadScope(tenant_id=ACME, user_id=cid), world.ids["cid"]),
        ]:
            reached = {n for seed in mine for n in await reader.neighbor_scores(scope, seed, 2)}
            assert reached and reached <= set(mine)
    finally:
        await graphs.close()


@contextlib.asynccontextmanager
async def _mcp(server: RunningServer, token: str) -> AsyncIterator[ClientSession]:
    http = httpx2.AsyncClient(headers={"authorization": f"Bearer {token}"}, timeout=30)
    async with (
        http,
        streamable_http_client(f"{server.base_url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def _mcp_neighbours(server: RunningServer, token: str, seed: str) -> dict[str, Any]:
    async with _mcp(server, token) as session:
        result = await session.call_tool("memory_neighbors", {"id": seed, "depth": 2, "k": 50})
    assert not result.is_error, result.content
    data = json.loads(result.content[0].text)
    assert isinstance(data, dict)
    return data


async def test_the_mcp_tool_walks_falkordb_like_rest_walks_postgres(world: World) -> None:
    for seed in world.ids["ann"][:4]:
        rest = world.call(world.pg, "ann", "/v1/neighbors", {"id": seed, "depth": 2, "k": 50}).json()
        assert await _mcp_neighbours(world.fk, world.tokens["ann"], seed) == rest
    world.falkordb.pause()
    try:
        down = await _mcp_neighbours(world.fk, world.tokens["ann"], world.ids["ann"][3])
    finally:
        world.falkordb.resume()
    assert down["degraded"] is True and down["results"] == rest["results"]


def test_a_hostile_id_is_a_parameter_not_cypher(world: World) -> None:
    hostile = "x'}) MATCH (n) DETACH DELETE n //"
    r = world.call(world.fk, "ann", "/v1/neighbors", {"id": hostile, "depth": 2})
    assert r.status_code in (200, 400, 422)
    assert graph_snapshot(world.falkordb.url, "default") == expected_snapshot(world.pg.database_url, "default")


def _graph_health(w: World) -> str:
    with w.fk.client(headers={"authorization": f"Bearer {w.tokens['admin']}"}) as client:
        r = client.get("/v1/admin/health/deep")
    return str(r.json()["deps"]["graph"])


def _neighbours(w: World, server: RunningServer, seed: str) -> httpx.Response:
    r = w.call(server, "ann", "/v1/neighbors", {"id": seed, "depth": 2, "k": 50})
    assert r.status_code == 200, r.text
    return r


def test_falkordb_down_writes_succeed_reads_degrade_then_everything_catches_up(world: World) -> None:
    seed = world.ids["ann"][2]
    assert _graph_health(world) == "ok"
    world.falkordb.stop()
    try:
        assert _graph_health(world) == "unreachable"
        new = [
            _write(world, "ann", f"While FalkorDB is down the Billing API note {i} about PostgreSQL 16")
            for i in range(3)
        ]
        down = _neighbours(world, world.fk, seed).json()
        assert down["degraded"] is True
        assert down["results"] == _neighbours(world, world.pg, seed).json()["results"]
        body = {"query": "Billing API PostgreSQL", "k": 5, "weights": {"graph": 0.5}}
        searched = world.call(world.fk, "ann", "/v1/search", body)
        # the graph stage of search reads PostgreSQL, so a search does not even notice FalkorDB is down
        assert searched.status_code == 200 and searched.json()["degraded"] is False
        assert searched.json()["results"] == world.call(world.pg, "ann", "/v1/search", body).json()["results"]
        assert not graph_outbox_empty(world.pg.database_url)  # the changes wait in PostgreSQL
    finally:
        world.falkordb.start()
    assert wait_for(lambda: graph_outbox_empty(world.pg.database_url), timeout=120)
    got = graph_snapshot(world.falkordb.url, "default")
    assert got == expected_snapshot(world.pg.database_url, "default")
    assert set(new) <= {m[0] for m in got["memories"]}
    up = _neighbours(world, world.fk, seed).json()
    assert up["degraded"] is False and up == _neighbours(world, world.pg, seed).json()


def test_a_frozen_falkordb_times_out_into_postgres_answers(world: World) -> None:
    seed = world.ids["ann"][1]
    world.falkordb.pause()
    try:
        started = time.monotonic()
        slow = _neighbours(world, world.fk, seed).json()
        assert time.monotonic() - started < 10
        assert slow["degraded"] is True
        assert slow["results"] == _neighbours(world, world.pg, seed).json()["results"]
        assert _write(world, "ann", f"Written while FalkorDB is frozen: Billing API note {secrets.token_hex(4)}")
    finally:
        world.falkordb.resume()
    assert wait_for(lambda: graph_outbox_empty(world.pg.database_url), timeout=120)
    assert graph_snapshot(world.falkordb.url, "default") == expected_snapshot(world.pg.database_url, "default")
    assert _neighbours(world, world.fk, seed).json()["degraded"] is False
