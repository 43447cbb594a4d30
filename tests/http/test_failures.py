"""Dependencies that fail: the embedder, the database, and the server process itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from novamem.storage.embedded import EmbeddedPostgres
from novamem.storage.postgres.database import migrate
from tests.conftest import RunningServer, free_port, start_server, wait_for
from tests.fake_embedder import DIM, FakeEmbeddingServer


@pytest.fixture
def remote_embedder_server(
    make_database: Callable[[], str], fake_embedder: FakeEmbeddingServer
) -> Iterator[RunningServer]:
    fake_embedder.down = False
    running = start_server(
        make_database(),
        embeddings_provider="openai-compatible",
        embeddings_endpoint=fake_embedder.url,
        embeddings_model="fake-hash",
        embeddings_dim=DIM,
        embeddings_reconcile_interval_ms=300,
    )
    yield running
    running.stop()
    fake_embedder.down = False


def test_embedder_outage_keeps_writes_and_reconciler_catches_up(
    remote_embedder_server: RunningServer, fake_embedder: FakeEmbeddingServer
) -> None:
    server = remote_embedder_server
    with server.client() as api:
        fake_embedder.down = True
        stored = api.post("/v1/remember", json={"content": "The invoice service retries webhooks three times"})
        assert stored.status_code == 201
        assert stored.json()["embedded"] is False
        mid = stored.json()["id"]
        assert server.sql("SELECT embedded_at IS NULL FROM memory_entries WHERE id = %s", (mid,)) == [(True,)]

        found = api.post("/v1/search", json={"query": "invoice webhooks"})
        assert found.status_code == 200
        assert found.json()["degraded"] is True and found.json()["results"][0]["id"] == mid

        missing = api.post("/v1/search", json={"query": "kubernetes ingress"})
        assert missing.status_code == 503
        assert missing.json()["degraded"] is True and missing.json()["results"] == []
        ctx = api.post("/v1/context", json={"message": "kubernetes ingress"})
        assert ctx.status_code == 503 and ctx.json()["error"].startswith("context degraded")

        fake_embedder.down = False
        assert wait_for(
            lambda: (
                server.sql("SELECT embedded_at IS NOT NULL, embedding_model FROM memory_entries WHERE id = %s", (mid,))
                == [(True, "openai-compatible:fake-hash")]
            )
        )
        healthy = api.post("/v1/search", json={"query": "invoice webhooks"}).json()
        assert healthy["degraded"] is False and healthy["results"][0]["signals"]["vector"] > 0


def test_a_new_embedding_model_requeues_old_vectors(
    make_database: Callable[[], str], fake_embedder: FakeEmbeddingServer
) -> None:
    url = make_database()
    first = start_server(url, jobs_enabled=False)
    with first.client() as api:
        api.post("/v1/remember", json={"content": "Vectors from the built-in model live here"})
    first.stop()
    second = start_server(
        url,
        embeddings_provider="openai-compatible",
        embeddings_endpoint=fake_embedder.url,
        embeddings_model="fake-hash",
        embeddings_dim=DIM,
        embeddings_reconcile_interval_ms=200,
    )
    try:
        assert wait_for(
            lambda: second.sql("SELECT embedding_model FROM memory_entries") == [("openai-compatible:fake-hash",)]
        )
    finally:
        second.stop()


def test_database_outage_answers_503_and_recovers_without_restart(tmp_path: Path) -> None:
    embedded = EmbeddedPostgres(tmp_path)
    url = embedded.start()
    server = start_server(url, jobs_enabled=False, pg_pool_timeout_ms=1000)
    try:
        with server.client() as api:
            assert api.post("/v1/remember", json={"content": "Written before the outage"}).status_code == 201
            embedded.stop()
            r = api.post("/v1/remember", json={"content": "Written during the outage"})
            assert r.status_code == 503 and r.json() == {"error": "database unavailable"}
            assert api.post("/v1/search", json={"query": "outage"}).status_code == 503
            assert api.get("/ready").json() == {"ok": False}
            assert api.get("/live").status_code == 200
            embedded.start()
            assert wait_for(lambda: api.get("/ready").status_code == 200, timeout=30)
            r = api.post("/v1/remember", json={"content": "Written after the outage"})
            assert r.status_code == 201
            contents = [x["content"] for x in api.post("/v1/recent").json()["results"]]
            assert contents == ["Written after the outage", "Written before the outage"]
    finally:
        server.stop()
        embedded.stop()


def test_acknowledged_write_survives_sigkill(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "NOVAMEM_DATA_DIR": str(tmp_path),
        "NOVAMEM_PORT": str(port),
        "NOVAMEM_JOBS_ENABLED": "false",
        "NOVAMEM_AUTH_MODE": "none",
        "NOVAMEM_LOG_LEVEL": "warning",
    }
    base = f"http://127.0.0.1:{port}"

    def launch() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "novamem", "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

        def ready() -> bool:
            try:
                return httpx.get(f"{base}/ready", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        assert wait_for(ready, timeout=90, every=0.2), "server did not become ready"
        return proc

    proc = launch()
    try:
        r = httpx.post(f"{base}/v1/remember", json={"content": "Acknowledged just before a crash"}, timeout=30)
        assert r.status_code == 201
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc = launch()
        results = httpx.post(f"{base}/v1/recent", json={}, timeout=30).json()["results"]
        assert [x["id"] for x in results] == [r.json()["id"]]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        EmbeddedPostgres(tmp_path).stop_if_running()


def test_two_replicas_migrating_at_once_apply_each_migration_once(make_database: Callable[[], str]) -> None:
    url = make_database()
    applied: list[list[str]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            applied.append(migrate(url))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    flat = [name for names in applied for name in names]
    assert flat and len(flat) == len(set(flat))
    with psycopg.connect(url) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert len(versions) == len(flat)
    assert migrate(url) == []
