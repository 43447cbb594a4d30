"""`novamem reindex --vectors` from the command line: the same rebuild, through the container."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from qdrant_client import AsyncQdrantClient
from qdrant_client.http import models as qm

from novamem.cli.main import main
from novamem.cli.reindex import ProgressBar
from novamem.services.memory.index_rebuild import RebuildProgress
from novamem.storage.base import VectorSpace
from novamem.storage.qdrant.vector_index import collection_name


def test_reindex_vectors_rebuilds_the_collection(
    make_database: Callable[[], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("NOVAMEM_DATABASE_URL", make_database())
    monkeypatch.setenv("NOVAMEM_AUTH_MODE", "none")
    monkeypatch.setenv("NOVAMEM_VECTOR_STORE", "qdrant")
    monkeypatch.setenv("NOVAMEM_QDRANT_URL", f"path:{tmp_path / 'qdrant'}")
    assert main(["reindex", "--vectors", "--batch", "50"]) == 0
    out = capsys.readouterr()
    assert "rebuilt; 0 entries written, 0 re-embedded" in out.out
    assert "indexing: 0/0" in out.err  # plain progress lines when stderr is not a terminal


async def _collections(path: Path, create: Sequence[str] = ()) -> set[str]:
    """Create collections in the local-mode store at `path` (one client at a time may open it); list them."""
    client = AsyncQdrantClient(path=str(path))
    try:
        for name in create:
            await client.create_collection(name, vectors_config=qm.VectorParams(size=4, distance=qm.Distance.COSINE))
        return {c.name for c in (await client.get_collections()).collections}
    finally:
        await client.close()


def test_reindex_vectors_drops_the_collections_of_other_models_and_nothing_else(
    make_database: Callable[[], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "qdrant"
    old = [collection_name(VectorSpace("an-older-model", 768)), collection_name(VectorSpace("an-older-model", 4))]
    foreign = ["customer_docs", "novamem_archive", "novamem_notes_2024"]  # not named by our scheme
    asyncio.run(_collections(path, [*old, *foreign]))
    monkeypatch.setenv("NOVAMEM_DATABASE_URL", make_database())
    monkeypatch.setenv("NOVAMEM_AUTH_MODE", "none")
    monkeypatch.setenv("NOVAMEM_VECTOR_STORE", "qdrant")
    monkeypatch.setenv("NOVAMEM_QDRANT_URL", f"path:{path}")
    assert main(["reindex", "--vectors"]) == 0
    out = capsys.readouterr().out
    current = out.split(":", 1)[0]
    assert current not in old and f"dropped old collection(s) {', '.join(sorted(old))}" in out
    assert asyncio.run(_collections(path)) == {current, *foreign}


def test_reindex_without_qdrant_or_without_a_target_is_refused(
    make_database: Callable[[], str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NOVAMEM_DATABASE_URL", make_database())
    monkeypatch.setenv("NOVAMEM_AUTH_MODE", "none")
    monkeypatch.setenv("NOVAMEM_EMBEDDINGS_PROVIDER", "none")
    assert main(["reindex", "--vectors"]) == 2
    assert "NOVAMEM_VECTOR_STORE is not qdrant" in capsys.readouterr().err
    assert main(["reindex"]) == 2
    assert "novamem reindex --vectors" in capsys.readouterr().err


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_redraws_on_a_terminal_and_prints_lines_otherwise() -> None:
    tty = _Tty()
    bar = ProgressBar(tty)
    bar(RebuildProgress("index", 5, 10))
    bar(RebuildProgress("index", 10, 10))
    assert tty.getvalue() == (
        "\rindexing     [###############---------------]  50% 5/10"
        "\rindexing     [##############################] 100% 10/10\n"
    )
    plain = io.StringIO()
    lines = ProgressBar(plain)
    lines(RebuildProgress("embed", 0, 3))
    lines(RebuildProgress("embed", 1, 3))  # within the quiet interval: not printed
    lines(RebuildProgress("embed", 3, 3))
    lines(RebuildProgress("index", 3, 3))
    assert plain.getvalue() == "re-embedding: 0/3 (0%)\nre-embedding: 3/3 (100%)\nindexing: 3/3 (100%)\n"
