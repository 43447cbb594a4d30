"""`novamem reindex --vectors` from the command line: the same rebuild, through the container."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest

from novamem.cli.main import main
from novamem.cli.reindex import ProgressBar
from novamem.services.memory.index_rebuild import RebuildProgress


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
