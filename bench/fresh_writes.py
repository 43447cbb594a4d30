"""Searches after a burst of writes: what the GIN indexes' pending lists cost, at PostgreSQL's limit and ours.

A GIN index appends new entries to an unsorted pending list and merges it into the index when it outgrows
`gin_pending_list_limit` or a vacuum runs; every search through the index reads the whole list first. The
other benchmarks vacuum their store after loading it, so they never see this; a live server that keeps
storing memories does. Since migration 0023 both GIN indexes of `memory_entries` merge after 64 kB instead
of PostgreSQL's 4 MB.

Runs the search service in this process on the store `bench/search_latency.py` builds (100,000 memories;
run that first). For each limit in turn (PostgreSQL's default, then 64 kB; `--rounds` alternations), on
the vacuumed store: time `--queries` searches (the baseline), store `--writes` new memories through the
batched write path (200 a call, namespace `fresh-writes`) with no vacuum, time the same searches again
and count the pages left pending. Each phase works on a fresh copy of the store (`--work-dir`), so every
phase starts from the same vacuumed store and the store itself is left as it was. Times are wall-clock in
process, p50 / p95 of whole searches and of their keyword phase; each phase's ratio is to its own
baseline, taken minutes apart in the same process.

    nice -n 10 .venv/bin/python -m bench.fresh_writes [--writes 8000] [--queries 300] [--rounds 2] [--work-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import time
from pathlib import Path
from typing import Any

from bench import report
from bench.corpus import load_locomo, varied_texts
from bench.harness import copy_store, latency_summary, machine_notes
from bench.search_latency import DEFAULT_DATA_DIR, WARMUP_QUERIES, existing_store
from bench.search_stages import timed_call

GIN_INDEXES = ("memory_entries_terms",)
LIMITS = {"PostgreSQL default (4 MB)": None, "64 kB (migration 0023)": 64}
BURST_NAMESPACE = "fresh-writes"
BATCH = 200
STORED_TEXTS = 100_000


async def _phase(store_dir: Path, limit: int | None, texts: list[str], queries: list[str]) -> dict[str, Any]:
    """One phase on `store_dir` (a copy): searches, a burst of writes at `limit`, the same searches again."""
    os.environ.update(NOVAMEM_DATA_DIR=str(store_dir), NOVAMEM_AUTH_MODE="none", NOVAMEM_JOBS_ENABLED="false")
    from novamem.config import load_settings
    from novamem.container import Container
    from novamem.domain.scope import Caller
    from novamem.services.memory.models import MemoryCreate, SearchRequest

    container = await Container.build(load_settings(), serving=True)
    caller = Caller.public()
    store = container.recall._store
    keyword: list[float] = []
    setattr(store, "keyword_hits", timed_call(keyword, store.keyword_hits))  # noqa: B010 (instrumentation)

    async def sql(statement: str) -> Any:
        async with container.database.connection() as conn:
            cur = await conn.execute(statement)
            return await cur.fetchone() if cur.description else None

    async def pending_pages() -> dict[str, int]:
        pages = {}
        for index in GIN_INDEXES:
            row = await sql(f"SELECT gin_clean_pending_list('{index}'::regclass) AS pages")
            pages[index] = int(row["pages"])
        return pages

    async def searches() -> dict[str, dict[str, float]]:
        for query in queries[:WARMUP_QUERIES]:
            await container.recall.search(caller, SearchRequest(query=query, k=10))
        keyword.clear()
        whole: list[float] = []
        for query in queries:
            started = time.perf_counter()
            await container.recall.search(caller, SearchRequest(query=query, k=10))
            whole.append((time.perf_counter() - started) * 1000)
        return {"search": latency_summary(whole), "keyword": latency_summary(list(keyword))}

    try:
        for index in GIN_INDEXES:
            option = f"SET (gin_pending_list_limit = {limit})" if limit else "RESET (gin_pending_list_limit)"
            await sql(f"ALTER INDEX {index} {option}")
        await pending_pages()
        stored = int((await sql("SELECT count(*) AS n FROM memory_entries"))["n"])
        await searches()  # a server just started on a copy: its buffers are cold
        baseline = await searches()
        started = time.perf_counter()
        for at in range(0, len(texts), BATCH):
            batch = [MemoryCreate(content=t, namespace=BURST_NAMESPACE, force=True) for t in texts[at : at + BATCH]]
            await container.memories.remember_many(caller, batch)
        rate = round(len(texts) / (time.perf_counter() - started), 1)
        inserted = int((await sql("SELECT count(*) AS n FROM memory_entries"))["n"]) - stored
        await asyncio.sleep(2)  # the batched hit counts of the searches before
        after = await searches()
        pages = await pending_pages()
        await container.recall.close()
    finally:
        await container.close()
    return {
        "memories": stored,
        "baseline": baseline,
        "after": after,
        "pending_pages": pages,
        "writes_per_s": rate,
        "inserted": inserted,
    }


async def run(data_dir: Path, work_dir: Path, *, writes: int, query_count: int, rounds: int) -> dict[str, Any]:
    conversations = load_locomo()
    questions = [q.text for c in conversations for q in c.questions]
    random.Random(11).shuffle(questions)
    queries = (questions * (1 + query_count // len(questions)))[:query_count]
    # texts after those `bench/search_latency.py` stores (its first 100,000, the largest size), so none is a duplicate
    texts = list(varied_texts(conversations, STORED_TEXTS + writes))[STORED_TEXTS:]
    phases: list[dict[str, Any]] = []
    load_start = os.getloadavg()[0]
    for round_no in range(rounds):
        for label, limit in LIMITS.items():
            copy = copy_store(data_dir, work_dir / "store")
            try:
                phase = await _phase(copy, limit, texts, queries)
            finally:
                shutil.rmtree(copy, ignore_errors=True)
            phases.append({"round": round_no + 1, "limit": label, **phase})
            print(report.render_fresh_writes_phase(phases[-1]), flush=True)
    return {
        "memories": phases[0]["memories"],
        "writes": writes,
        "queries": len(queries),
        "phases": phases,
        "load_average_start": round(load_start, 2),
        "machine": machine_notes(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=8000, help="memories stored in each burst")
    parser.add_argument("--queries", type=int, default=300, help="timed searches before and after each burst")
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the two limits")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="the search-latency store")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/novamem-fresh-writes"), help="for the copies")
    args = parser.parse_args()
    data_dir = existing_store(args.data_dir)
    result = asyncio.run(run(data_dir, args.work_dir, writes=args.writes, query_count=args.queries, rounds=args.rounds))
    path = report.save("fresh_writes", result)
    print(report.render_fresh_writes(result))
    print(f"saved {path}")


if __name__ == "__main__":
    main()
