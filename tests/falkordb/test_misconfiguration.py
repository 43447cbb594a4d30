"""A FalkorDB graph store that is misconfigured refuses the start, naming the variable to fix."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from novamem.config import GraphStore, load_settings
from novamem.errors import ConfigError
from novamem.storage.falkordb.graphs import graph_name
from tests.conftest import free_port


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        (None, "NOVAMEM_GRAPH_STORE=falkordb needs NOVAMEM_FALKORDB_URL"),
        ("", "NOVAMEM_GRAPH_STORE=falkordb needs NOVAMEM_FALKORDB_URL"),
        ("http://falkordb:6379", "NOVAMEM_FALKORDB_URL must be a redis://"),
        ("redis://falkordb:port", "NOVAMEM_FALKORDB_URL must be a redis://"),
        ("redis://", "NOVAMEM_FALKORDB_URL must be a redis://"),
        ("falkordb:6379", "NOVAMEM_FALKORDB_URL must be a redis://"),
    ],
)
def test_a_falkordb_store_without_a_usable_url_is_refused(
    monkeypatch: pytest.MonkeyPatch, url: str | None, needle: str
) -> None:
    monkeypatch.setenv("NOVAMEM_GRAPH_STORE", "falkordb")
    if url is not None:
        monkeypatch.setenv("NOVAMEM_FALKORDB_URL", url)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert needle in caught.value.message


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6379", "rediss://:pw@falkordb:6380/0", "falkor://falkordb:6379", "unix:///run/f.sock"]
)
def test_usable_urls_are_accepted(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("NOVAMEM_GRAPH_STORE", "falkordb")
    monkeypatch.setenv("NOVAMEM_FALKORDB_URL", url)
    assert load_settings().graph_store is GraphStore.FALKORDB


def test_an_unknown_graph_store_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOVAMEM_GRAPH_STORE", "neo4j")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "graph_store" in caught.value.message.lower() or "GRAPH_STORE" in caught.value.message


def test_the_url_is_never_needed_by_the_postgres_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOVAMEM_FALKORDB_URL", "not a url")
    assert load_settings().graph_store is GraphStore.POSTGRES


def test_novamem_serve_exits_naming_the_variable(make_database: Callable[[], str], tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOVAMEM_")}
    env.update(
        NOVAMEM_DATABASE_URL=make_database(),
        NOVAMEM_AUTH_MODE="none",
        NOVAMEM_EMBEDDINGS_PROVIDER="none",
        NOVAMEM_PORT=str(free_port()),
        NOVAMEM_DATA_DIR=str(tmp_path),
        NOVAMEM_GRAPH_STORE="falkordb",
        NOVAMEM_FALKORDB_URL="http://:secret-password@falkordb:6379",
    )
    done = subprocess.run(
        [sys.executable, "-m", "novamem", "serve"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode != 0
    assert "NOVAMEM_FALKORDB_URL must be" in done.stdout + done.stderr
    assert "secret-password" not in done.stdout + done.stderr


def test_tenant_graph_names_are_safe_and_distinct() -> None:
    names = {graph_name(t) for t in ("default", "a/b", "a_b", "a b", "x" * 500, "Ünïcode")}
    assert len(names) == 6
    assert all(n.startswith("novamem_") and n.replace("_", "").replace("-", "").isalnum() for n in names)
    assert all(len(n) <= 100 for n in names)
