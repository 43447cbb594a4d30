"""`novamem reindex --graph`: a rebuild from PostgreSQL that is interrupted and started again ends with exactly
the graph PostgreSQL describes (nothing missing, nothing doubled, nothing stale), per tenant and for all."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from ulid import ULID

from falkordb import FalkorDB
from novamem.services.memory.graph_rebuild import GraphRebuild, RebuildProgress
from novamem.storage.falkordb.graphs import FalkorGraphs, graph_name
from novamem.storage.falkordb.sink import FalkorGraphSink
from novamem.storage.postgres.database import Database
from novamem.storage.postgres.graph import PostgresGraph
from novamem.storage.postgres.memories import PostgresMemoryStore
from tests.conftest import start_server
from tests.falkordb.conftest import FalkorProcess, expected_snapshot, graph_snapshot

ACME = "acme"
TOPICS = ["Kafka", "Redis", "Nginx", "Terraform", "Grafana", "Vault", "Consul", "Nomad"]


def _facts() -> list[str]:
    return [f"The {t} cluster for Project Orion runs version {300 + i} in Frankfurt" for i, t in enumerate(TOPICS)] + [
        f"Deploy notes: {t} restarts need the Orion runbook step {i} before noon" for i, t in enumerate(TOPICS)
    ]


def _add_acme(url: str) -> None:
    """A second tenant, written with SQL: a chain of entries each linked to the one before."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO tenants (id, name) VALUES (%s, %s) ON CONFLICT DO NOTHING", (ACME, ACME))
        previous = None
        for i in range(7):
            entry_id = str(ULID())
            content = f'Acme ledger note {i}: Invoice Service migrated to "Blue Cluster" with $1200 budget'
            conn.execute(
                "INSERT INTO memory_entries (id, tenant_id, user_id, scope_key, content, content_hash)"
                " VALUES (%s, %s, 'u-acme', 'u:u-acme', %s, %s)",
                (entry_id, ACME, content, hashlib.sha256(content.encode()).hexdigest()),
            )
            if previous is not None:
                conn.execute(
                    "INSERT INTO memory_relations (tenant_id, from_id, to_id, relation, strength)"
                    " VALUES (%s, %s, %s, 'co_occurs', %s)",
                    (ACME, entry_id, previous, 0.5 + i / 20),
                )
            previous = entry_id


@pytest.fixture(scope="module")
def database_url(make_database: Any) -> Iterator[str]:
    """Memories with edges (written through a server that keeps its graph in PostgreSQL) in two tenants."""
    url = make_database()
    server = start_server(url, jobs_enabled=False)
    try:
        with server.client() as client:
            for fact in _facts():
                assert client.post("/v1/remember", json={"content": fact}).status_code == 201
    finally:
        server.stop()
    _add_acme(url)
    return url


@dataclass
class Parts:
    source: PostgresGraph
    sink: FalkorGraphSink
    graphs: FalkorGraphs


@pytest.fixture
async def parts(database_url: str, falkordb: FalkorProcess) -> AsyncIterator[Parts]:
    db = Database(database_url, max_size=4)
    await db.open()
    graphs = FalkorGraphs(falkordb.url, timeout_s=10)
    source = PostgresGraph(db, PostgresMemoryStore(db, None))
    for tenant in ("default", ACME):  # a previous rebuild's leftovers must not matter
        await graphs.drop(tenant)
        await source.clear_checkpoint(f"tenant:{tenant}")
    await source.clear_checkpoint("*")
    yield Parts(source, FalkorGraphSink(graphs, source), graphs)
    await graphs.close()
    await db.close()


class Crash(RuntimeError):
    pass


class CrashingWriter:
    """The sink, failing on its `after`-th upsert (as a killed `novamem reindex` would stop)."""

    def __init__(self, sink: FalkorGraphSink, after: int) -> None:
        self._sink = sink
        self._left = after

    async def upsert(self, tenant_id: str, ids: Sequence[str]) -> list[str]:
        self._left -= 1
        if self._left < 0:
            raise Crash("killed")
        return await self._sink.upsert(tenant_id, ids)

    async def delete(self, tenant_id: str, ids: Sequence[str]) -> None:
        await self._sink.delete(tenant_id, ids)

    async def drop(self, tenant_id: str) -> None:
        await self._sink.drop(tenant_id)

    async def drop_others(self, tenant_ids: Sequence[str]) -> list[str]:
        return await self._sink.drop_others(tenant_ids)


async def test_an_interrupted_tenant_rebuild_resumes_to_the_exact_graph(
    parts: Parts, database_url: str, falkordb: FalkorProcess
) -> None:
    # a stale graph: a node PostgreSQL does not have, and an edge it does not hold
    await parts.graphs.run(
        "default", "CREATE (:Memory {id: 'ghost'})-[:RELATES {relation: 'x', strength: 1.0}]->(:Memory {id: 'ghost2'})"
    )
    with pytest.raises(Crash):
        await GraphRebuild(parts.source, CrashingWriter(parts.sink, after=2), batch=4).tenant("default")
    assert await parts.source.rebuild_checkpoint("tenant:default") == (True, sorted(_ids(database_url, "default"))[7])
    partial = graph_snapshot(falkordb.url, "default")
    assert ("ghost",) not in {(m[0],) for m in partial["memories"]}
    assert 0 < len(partial["memories"]) < len(_ids(database_url, "default"))

    seen: list[RebuildProgress] = []
    written = await GraphRebuild(parts.source, parts.sink, batch=4).tenant("default", seen.append)
    assert seen and all(p.resumed for p in seen)
    assert written == len(_ids(database_url, "default")) - 8
    assert graph_snapshot(falkordb.url, "default") == expected_snapshot(database_url, "default")
    assert await parts.source.rebuild_checkpoint("tenant:default") == (False, None)

    # running it again from scratch gives the same graph, not a doubled one
    await GraphRebuild(parts.source, parts.sink, batch=5).tenant("default")
    assert graph_snapshot(falkordb.url, "default") == expected_snapshot(database_url, "default")


async def test_an_interrupted_rebuild_of_every_tenant_resumes_after_the_finished_ones(
    parts: Parts, database_url: str, falkordb: FalkorProcess
) -> None:
    # tenants go in name order: "acme" finishes, "default" is cut short at its first batch
    with pytest.raises(Crash):
        await GraphRebuild(parts.source, CrashingWriter(parts.sink, after=3), batch=3).all()
    assert await parts.source.rebuild_checkpoint("*") == (True, ACME)
    seen: list[RebuildProgress] = []
    await GraphRebuild(parts.source, parts.sink, batch=3).all(seen.append)
    assert {p.tenant_id for p in seen} == {"default"}  # acme was not rebuilt again
    for tenant in (ACME, "default"):
        assert graph_snapshot(falkordb.url, tenant) == expected_snapshot(database_url, tenant)
    assert await parts.source.rebuild_checkpoint("*") == (False, None)


async def test_a_rebuild_of_every_tenant_drops_the_graphs_of_tenants_without_memories(
    parts: Parts, database_url: str, falkordb: FalkorProcess
) -> None:
    # left behind: a tenant erased since its graph was fed, and one whose memories were all forgotten
    stale = ("erased-tenant", "forgot-everything")
    for tenant in stale:
        await parts.graphs.run(tenant, "CREATE (:Memory {id: 'left-behind'})")
    # graphs of another application on the same FalkorDB are not ours to drop, even with our prefix
    foreign = FalkorDB.from_url(falkordb.url)
    for name in ("billing", "novamem_notes"):
        foreign.select_graph(name).query("CREATE (:Invoice {id: 1})")

    result = await GraphRebuild(parts.source, parts.sink, batch=50).all()
    assert {graph_name(t) for t in stale} <= set(result.dropped)
    left = set(foreign.list_graphs())
    assert {graph_name(t) for t in (ACME, "default")} | {"billing", "novamem_notes"} <= left
    assert not left & {graph_name(t) for t in stale}
    for tenant in (ACME, "default"):
        assert graph_snapshot(falkordb.url, tenant) == expected_snapshot(database_url, tenant)
    for name in ("billing", "novamem_notes"):
        foreign.select_graph(name).delete()


def _ids(url: str, tenant: str) -> list[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM memory_entries WHERE tenant_id = %s", (tenant,)).fetchall()]


def _cli(database_url: str, tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("NOVAMEM_")}
    full.update(
        NOVAMEM_DATABASE_URL=database_url,
        NOVAMEM_EMBEDDINGS_PROVIDER="none",
        NOVAMEM_AUTH_MODE="none",
        NOVAMEM_DATA_DIR=str(tmp_path),
        **env,
    )
    return subprocess.run(
        [sys.executable, "-m", "novamem", "reindex", *args], env=full, capture_output=True, text=True, timeout=120
    )


def test_the_command_rebuilds_with_progress_on_stderr(
    database_url: str, falkordb: FalkorProcess, tmp_path: Path
) -> None:
    FalkorDB.from_url(falkordb.url).select_graph(graph_name("gone-tenant")).query("CREATE (:Memory {id: 'x'})")
    done = _cli(
        database_url,
        tmp_path,
        "--graph",
        "--batch",
        "5",
        NOVAMEM_GRAPH_STORE="falkordb",
        NOVAMEM_FALKORDB_URL=falkordb.url,
    )
    assert done.returncode == 0, done.stderr
    assert "graph default: 5 entries" in done.stderr and f"graph {ACME}:" in done.stderr
    assert "entries written" in done.stdout
    assert f"dropped 1 stale tenant graph(s): {graph_name('gone-tenant')}" in done.stdout
    for tenant in (ACME, "default"):
        assert graph_snapshot(falkordb.url, tenant) == expected_snapshot(database_url, tenant)
    assert graph_name(ACME) != graph_name("default")


def test_the_command_refuses_without_a_graph_store(database_url: str, tmp_path: Path) -> None:
    done = _cli(database_url, tmp_path, "--graph")
    assert done.returncode != 0
    assert "NOVAMEM_GRAPH_STORE" in done.stderr
