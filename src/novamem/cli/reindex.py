"""`novamem reindex --vectors`: rebuild derived indexes from PostgreSQL (the source of truth), through the
container's services; resumable, with a progress bar on stderr (plain lines when stderr is not a TTY)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any, TextIO

from novamem.config import load_settings
from novamem.container import Container
from novamem.errors import ConfigError
from novamem.services.memory.graph_rebuild import RebuildProgress as GraphProgress
from novamem.services.memory.index_rebuild import DEFAULT_REBUILD_BATCH, RebuildProgress

__all__ = ["ProgressBar", "add_parser", "run"]

_BAR_WIDTH = 30
_PLAIN_EVERY_S = 2.0


def add_parser(sub: Any) -> None:
    """Register the `reindex` command on the top-level subparsers."""
    reindex = sub.add_parser(
        "reindex",
        help="rebuild derived indexes (Qdrant vectors, FalkorDB graphs) from PostgreSQL",
        description="Rebuild derived indexes from PostgreSQL. --vectors re-embeds entries whose vector is "
        "owed or came from another embedding model, then refills the Qdrant collection in pages; "
        "interrupted, it resumes where it stopped when run again.",
    )
    reindex.add_argument("--vectors", action="store_true", help="rebuild the Qdrant vector collection")
    reindex.add_argument(
        "--graph", action="store_true", help="rebuild the FalkorDB tenant graphs (NOVAMEM_GRAPH_STORE=falkordb)"
    )
    reindex.add_argument("--tenant", default=None, help="with --graph: rebuild only this tenant's graph")
    reindex.add_argument(
        "--batch", type=int, default=DEFAULT_REBUILD_BATCH, help="entries per page (default %(default)s)"
    )


class ProgressBar:
    """Renders rebuild progress: a bar redrawn in place on a TTY, else a plain line now and then."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._phase: str | None = None
        self._last_plain = 0.0

    def __call__(self, p: RebuildProgress) -> None:
        label = "re-embedding" if p.phase == "embed" else "indexing"
        share = p.done / p.total if p.total else 1.0
        counts = f"{p.done}/{p.total}" if p.total is not None else str(p.done)
        if self._tty:
            filled = round(share * _BAR_WIDTH)
            bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
            end = "\n" if p.total is not None and p.done >= p.total else ""
            self._stream.write(f"\r{label:<12} [{bar}] {share:4.0%} {counts}{end}")
        else:
            now = time.monotonic()
            finished = p.total is not None and p.done >= p.total
            if p.phase != self._phase or finished or now - self._last_plain >= _PLAIN_EVERY_S:
                self._stream.write(f"{label}: {counts} ({share:.0%})\n")
                self._last_plain = now
        self._phase = p.phase
        self._stream.flush()


def run(args: argparse.Namespace) -> int:
    """Run the rebuilds asked for; errors surface as NovamemError (mapped to exit codes by main)."""
    if not (args.vectors or args.graph):
        raise ConfigError("say what to rebuild: novamem reindex --vectors and/or --graph")
    if args.batch < 1:
        raise ConfigError("--batch must be at least 1")
    code = asyncio.run(_vectors(args.batch)) if args.vectors else 0
    return asyncio.run(_graph(args.batch, args.tenant)) if args.graph else code


def _graph_progress(p: GraphProgress) -> None:
    """One line per batch on stderr: the tenant and its entries written so far."""
    how = " (resumed)" if p.resumed else ""
    sys.stderr.write(f"graph {p.tenant_id}{how}: {p.done} entries\n")
    sys.stderr.flush()


async def _graph(batch: int, tenant_id: str | None) -> int:
    settings = load_settings(jobs_enabled=False)
    container = await Container.build(settings)
    try:
        rebuild = container.graph_rebuild
        if rebuild is None:
            raise ConfigError("there is no graph index to rebuild: NOVAMEM_GRAPH_STORE is not falkordb")
        rebuild.batch = batch
        dropped: list[str] = []
        if tenant_id is not None:
            written = await rebuild.tenant(tenant_id, _graph_progress)
        else:
            result = await rebuild.all(_graph_progress)
            written, dropped = result.written, result.dropped
    finally:
        await container.close()
    stale = f"; dropped {len(dropped)} stale tenant graph(s): {', '.join(dropped)}" if dropped else ""
    print(f"graph: rebuilt; {written} entries written in this run{stale}")  # noqa: T201
    return 0


async def _vectors(batch: int) -> int:
    settings = load_settings(jobs_enabled=False)
    container = await Container.build(settings)
    try:
        if container.vector_rebuild is None:
            raise ConfigError("there is no vector index to rebuild: NOVAMEM_VECTOR_STORE is not qdrant")
        result = await container.vector_rebuild.run(batch=batch, progress=ProgressBar(sys.stderr))
    finally:
        await container.close()
    how = "resumed and finished" if result.resumed else "rebuilt"
    print(  # noqa: T201
        f"{result.index}: {how}; {result.indexed} entries written, {result.embedded} re-embedded"
        + (f", {result.still_owed} still owed a vector (embedder unavailable)" if result.still_owed else "")
        + (f"; dropped old collection(s) {', '.join(result.dropped)}" if result.dropped else "")
    )
    return 0
