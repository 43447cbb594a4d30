"""Shared fixtures: one embedded PostgreSQL per session, real uvicorn servers on loopback.

Each server fixture gets its own database, so servers with different embedders never share vectors.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn

from novamem.app import create_app
from novamem.config import load_settings
from novamem.http.middleware.limits import UVICORN_MAX_HEAD_BYTES
from novamem.storage.embedded import EmbeddedPostgres

from .fake_embedder import FakeEmbeddingServer


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees NOVAMEM_*, LOG_LEVEL or OTEL_* variables from the developer's shell."""
    for name in list(os.environ):
        if name.startswith(("NOVAMEM_", "OTEL_")) or name == "LOG_LEVEL":
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def pg_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of the session's embedded PostgreSQL (its `novamem` database)."""
    embedded = EmbeddedPostgres(tmp_path_factory.mktemp("pg"))
    url = embedded.start()
    yield url
    embedded.stop()


_db_counter = iter(range(1, 10_000))


@pytest.fixture(scope="session")
def make_database(pg_root: str) -> Callable[[], str]:
    """Create a fresh, empty database and return its URL."""

    def make() -> str:
        name = f"t{os.getpid()}_{next(_db_counter)}"
        with psycopg.connect(pg_root, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return psycopg.conninfo.make_conninfo(pg_root, dbname=name)

    return make


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, every: float = 0.1) -> bool:
    """Poll `predicate` until it holds or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningServer:
    """A real uvicorn server in a thread, its base URL and its database URL."""

    base_url: str
    database_url: str
    app: Any
    server: uvicorn.Server
    thread: threading.Thread

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30, **kwargs)

    @property
    def container(self) -> Any:
        return self.app.state.container

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            cur = conn.execute(query, params)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else []

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def start_server(database_url: str, **env: Any) -> RunningServer:
    """Settings as keyword arguments; the request rate limit is off unless a test asks for one."""
    env.setdefault("auth_mode", "none")
    env.setdefault("rate_limit_per_minute", 0)
    settings = load_settings(database_url=database_url, port=free_port(), **env)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=settings.port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=5,
        h11_max_incomplete_event_size=UVICORN_MAX_HEAD_BYTES,  # as `novamem serve`
        proxy_headers=False,  # as `novamem serve`: only NOVAMEM_TRUSTED_PROXIES decides
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.05)
    return RunningServer(f"http://127.0.0.1:{settings.port}", database_url, app, server, thread)


@pytest.fixture(scope="session")
def server(make_database: Callable[[], str]) -> Iterator[RunningServer]:
    """The default server: auth none, built-in embedder, background jobs off."""
    running = start_server(make_database(), jobs_enabled=False)
    yield running
    running.stop()


@pytest.fixture
def api(server: RunningServer) -> Iterator[httpx.Client]:
    """A client of the default server, over an emptied database."""
    server.sql("TRUNCATE memory_entries CASCADE")
    with server.client() as client:
        yield client


@pytest.fixture(scope="session")
def fake_embedder() -> Iterator[FakeEmbeddingServer]:
    fake = FakeEmbeddingServer()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def tmp_data_dir(tmp_path: Path) -> Path:
    return tmp_path
