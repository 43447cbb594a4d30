"""Where a search's time goes: each stage's wall time, and the CPU one search costs in each process.

Runs the search service in this process (no HTTP) on the store `bench/search_latency.py` builds (100,000
memories by default; run that first), one search at a time over the same LoCoMo questions, so that each
stage can be timed where it runs:

- **keyword**: the BM25 statements (they start at once and run while the query is embedded);
- **embed**: the query's embedding, from the request to the result on the event loop;
- **vector**: the nearest-neighbour statement, after the embedding;
- **hydrate**: the statement that reads both tiers' rows and scores each by the other tier;
- **graph**: the expansion from the strongest hits (one statement) and its scoring;
- **search**: the whole `RecallService.search`, which also fuses, ranks and picks the results.

The timers wrap those methods on the running service's objects, which changes nothing they do. CPU per
search is measured three ways over the same timed searches: the event loop's thread (`thread_time`),
the embedder's query thread (inside its encode call) and every PostgreSQL process of the store (from
`/proc`, through psutil), so the table shows how much of the two cores one search needs.

    nice -n 10 .venv/bin/python -m bench.search_stages [--queries 300] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psutil

from bench import report
from bench.corpus import load_locomo
from bench.harness import machine_notes, percentile
from bench.search_latency import DEFAULT_DATA_DIR, WARMUP_QUERIES, existing_store

STAGES = ("keyword", "embed", "vector", "hydrate", "graph", "search")


def timed_call(samples: list[float], call: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """`call`, appending its wall time in ms to `samples`."""

    @functools.wraps(call)
    async def run(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await call(*args, **kwargs)
        finally:
            samples.append((time.perf_counter() - started) * 1000)

    return run


def _postgres_cpu_s(data_dir: Path) -> float:
    """User + system CPU seconds of the store's PostgreSQL processes so far (ended backends excluded)."""
    pid = int((data_dir / "pg" / "postmaster.pid").read_text().split()[0])
    root = psutil.Process(pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(samples, 50), 2),
        "p95_ms": round(percentile(samples, 95), 2),
        "mean_ms": round(statistics.mean(samples), 2),
    }


async def run(data_dir: Path, query_count: int) -> dict[str, Any]:
    os.environ.update(NOVAMEM_DATA_DIR=str(data_dir), NOVAMEM_AUTH_MODE="none", NOVAMEM_JOBS_ENABLED="false")
    from novamem.config import load_settings
    from novamem.container import Container
    from novamem.domain.scope import Caller
    from novamem.embedding.builtin import BuiltinEmbedder
    from novamem.services.memory.models import SearchRequest

    questions = [q.text for c in load_locomo() for q in c.questions]
    random.Random(11).shuffle(questions)
    queries = (questions * (1 + query_count // len(questions)))[:query_count]
    walls: dict[str, list[float]] = {stage: [] for stage in STAGES}
    encode_cpu: list[float] = []
    container = await Container.build(load_settings(), serving=True)
    try:
        recall = container.recall
        store = recall._store
        embedder = recall._embedder
        timed = [(store, "keyword_hits", "keyword"), (store, "hydrate", "hydrate"), (recall, "_nearest", "vector")]
        timed += [(embedder, "query", "embed"), (recall._expansion, "expand", "graph")]
        for owner, method, stage in timed:
            if owner is not None:
                setattr(owner, method, timed_call(walls[stage], getattr(owner, method)))
        model = embedder.embedder
        if not isinstance(model, BuiltinEmbedder):
            raise RuntimeError("this benchmark measures the built-in embedder")
        session = model._query_model
        encode = session.encode

        def counted_encode(texts: list[str]) -> list[list[float]]:
            started = time.thread_time()
            try:
                return encode(texts)
            finally:
                encode_cpu.append((time.thread_time() - started) * 1000)

        setattr(session, "encode", counted_encode)  # noqa: B010 (instrumentation)
        async with store._db.connection() as conn:
            cur = await conn.execute("SELECT count(*) AS n FROM memory_entries")
            row = await cur.fetchone()
        stored = int(row["n"]) if row else 0
        caller = Caller.public()
        for query in queries[:WARMUP_QUERIES]:
            await recall.search(caller, SearchRequest(query=query, k=10))
        for samples in (*walls.values(), encode_cpu):
            samples.clear()
        main_cpu: list[float] = []
        load_start = os.getloadavg()[0]
        pg_before = _postgres_cpu_s(data_dir)
        process_before = time.process_time()
        for query in queries:
            started, cpu = time.perf_counter(), time.thread_time()
            await recall.search(caller, SearchRequest(query=query, k=10))
            walls["search"].append((time.perf_counter() - started) * 1000)
            main_cpu.append((time.thread_time() - cpu) * 1000)
        await recall.close()  # the batched hit counts of the timed searches are part of their cost
        process_ms = (time.process_time() - process_before) * 1000 / len(queries)
        pg_ms = (_postgres_cpu_s(data_dir) - pg_before) * 1000 / len(queries)
    finally:
        await container.close()
    cpu: dict[str, float] = {
        "event_loop_ms": round(statistics.mean(main_cpu), 2),
        "embedder_ms": round(statistics.mean(encode_cpu), 2),
        "server_process_ms": round(process_ms, 2),
        "postgres_ms": round(pg_ms, 2),
    }
    cpu["total_ms"] = round(cpu["server_process_ms"] + cpu["postgres_ms"], 2)
    return {
        "memories": stored,
        "queries": len(queries),
        "stages": {stage: _summary(samples) for stage, samples in walls.items() if samples},
        "cpu_per_search": cpu,
        "cores": psutil.cpu_count(),
        "load_average_start": round(load_start, 2),
        "machine": machine_notes(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=300, help="timed searches")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="the search-latency store")
    args = parser.parse_args()
    data_dir = existing_store(args.data_dir)
    result = asyncio.run(run(data_dir, args.queries))
    path = report.save("search_stages", result)
    print(report.render_search_stages(result))
    print(f"saved {path}")


if __name__ == "__main__":
    main()
