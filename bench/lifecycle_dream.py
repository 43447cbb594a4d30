"""Dream-cycle passes on a large store: time per pass, rows touched, and what a pass does to search latency.

Works on a copy of the 100,000-memory store `bench/search_latency.py` builds (`--source`, copied afresh to
`--data-dir` each run, so the original is never changed: a pass deletes the duplicates it merges).
Near-copies of the first `--copies` memories (the same text with its final full stop added or removed, same
namespace) are written first, so the walk has duplicates to find. Then, against one server:

1. search p95 with no pass running (`--queries` LoCoMo questions, one at a time);
2. `--passes` dream-cycle passes back to back (`POST /v1/dream-cycle`, each walking the next 5,000
   memories from the cursor) while the same searches run one at a time next to them: each pass's result
   and duration, and the search p95 during the passes;
3. search p95 with no pass running again, then the edge-promotion statement alone (EXPLAIN ANALYZE in a
   transaction that is rolled back);
4. search latency with the promoted `co_inferred` edges and without them, alternated twice.

    nice -n 10 .venv/bin/python -m bench.lifecycle_dream [--passes 3] [--copies 500] [--queries 300]

Saves `bench/results/lifecycle_dream.json` and prints it; it does not edit docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from pathlib import Path
from typing import Any

import psycopg

from bench.corpus import load_locomo
from bench.harness import (
    RESULTS_DIR,
    BenchServer,
    copy_store,
    machine_notes,
    remember_batches,
    running_server,
    search_summary,
    searches_one_at_a_time,
)
from novamem.storage.embedded import EmbeddedPostgres

DEFAULT_SOURCE = RESULTS_DIR / "search_latency-data"
DEFAULT_DATA_DIR = RESULTS_DIR / "lifecycle_dream-data"
WARMUP_QUERIES = 30


def _url(server: BenchServer) -> str:
    return EmbeddedPostgres(server.data_dir).start()  # already running: only its URL is read


def _counts(server: BenchServer) -> dict[str, int]:
    with psycopg.connect(_url(server), autocommit=True) as conn:
        entries = conn.execute("SELECT count(*) FROM memory_entries").fetchone()
        edges = conn.execute("SELECT relation, count(*) FROM memory_relations GROUP BY relation").fetchall()
    return {"memories": int(entries[0]) if entries else 0, **{f"edges_{r}": int(n) for r, n in edges}}


def _originals(server: BenchServer, count: int) -> list[tuple[str, str]]:
    """(content, namespace) of the first `count` memories in id order: the first pass walks them."""
    with psycopg.connect(_url(server), autocommit=True) as conn:
        rows = conn.execute("SELECT content, namespace FROM memory_entries ORDER BY id LIMIT %s", (count,)).fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def _promotion_alone(server: BenchServer) -> dict[str, Any]:
    """The edge-promotion statement alone, executed and rolled back."""
    from novamem.domain import dream as rules
    from novamem.storage.postgres import dream

    params = {
        "cap": rules.INFERRED_NEIGHBOUR_CAP,
        "min_shared": rules.INFERRED_MIN_SHARED,
        "base": rules.INFERRED_BASE,
        "per": float(rules.INFERRED_PER_SHARED),
        "max": rules.INFERRED_MAX,
    }
    with psycopg.connect(_url(server)) as conn:
        started = time.perf_counter()
        plan = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + dream._PROMOTE, params).fetchone()
        elapsed = (time.perf_counter() - started) * 1000
        conn.rollback()
    top = plan[0][0] if plan else {}
    return {"ms": round(elapsed, 1), "execution_ms": round(float(top.get("Execution Time", 0.0)), 1)}


async def _edge_cost(server: BenchServer, queries: list[str]) -> list[dict[str, Any]]:
    """Idle search latency with the promoted `co_inferred` edges and without them, alternated twice (the
    graph stage of search reads every live relation); the edges are put back at the end."""
    out = []
    with psycopg.connect(_url(server), autocommit=True) as conn:
        conn.execute("CREATE TEMP TABLE promoted AS SELECT * FROM memory_relations WHERE relation = 'co_inferred'")
        for state in ("with", "without", "with", "without"):
            conn.execute("DELETE FROM memory_relations WHERE relation = 'co_inferred'")
            if state == "with":
                conn.execute("INSERT INTO memory_relations SELECT * FROM promoted")
            conn.execute("VACUUM (ANALYZE) memory_relations")
            out.append({"co_inferred_edges": state, **search_summary(await searches_one_at_a_time(server, queries))})
        conn.execute("DELETE FROM memory_relations WHERE relation = 'co_inferred'")
        conn.execute("INSERT INTO memory_relations SELECT * FROM promoted")
    return out


async def _passes(server: BenchServer, passes: int, queries: list[str]) -> tuple[list[dict[str, Any]], list[float]]:
    stop = asyncio.Event()
    searching = asyncio.create_task(searches_one_at_a_time(server, queries, stop))
    results = []
    try:
        async with server.client() as client:
            for _ in range(passes):
                started = time.perf_counter()
                response = await client.post("/v1/dream-cycle")
                if response.status_code != 200:
                    raise RuntimeError(f"dream cycle answered {response.status_code}: {response.text[:200]}")
                results.append({**response.json(), "wall_ms": round((time.perf_counter() - started) * 1000)})
                print(json.dumps(results[-1]), flush=True)
    finally:
        stop.set()
    return results, await searching


async def run(source: Path, data_dir: Path, passes: int, copies: int, query_count: int) -> dict[str, Any]:
    # a fresh copy each run: the passes merge (delete) memories and add edges
    print(f"copying {source} to {data_dir}", flush=True)
    copy_store(source, data_dir)
    questions = [q.text for c in load_locomo() for q in c.questions]
    random.Random(11).shuffle(questions)
    queries = questions[:query_count]
    result: dict[str, Any] = {"passes": passes, "copies": copies, "machine": machine_notes()}
    with running_server("lifecycle_dream", data_dir=data_dir, jobs_enabled="false") as server:
        if copies:
            near = [
                (str(i), {"content": c[:-1] if c.endswith(".") else c + ".", "namespace": ns, "force": True})
                for i, (c, ns) in enumerate(_originals(server, copies))
            ]
            async with server.client() as client:
                loaded = await remember_batches(client, near, 2)
            print(f"wrote {len(loaded.ids)} near-copies", flush=True)
        result["before"] = _counts(server)
        await searches_one_at_a_time(server, queries[:WARMUP_QUERIES])
        result["search_idle_before"] = search_summary(await searches_one_at_a_time(server, queries))
        dreams, during = await _passes(server, passes, queries)
        result["dream_passes"] = dreams
        result["search_during_passes"] = search_summary(during)
        result["search_idle_after"] = search_summary(await searches_one_at_a_time(server, queries))
        result["after"] = _counts(server)
        result["edge_promotion_alone"] = _promotion_alone(server)
        result["search_promoted_edges"] = await _edge_cost(server, queries)
    result["machine"]["load_average_end"] = machine_notes()["load_average"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="the store to copy (never changed)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="the working copy (replaced each run)")
    parser.add_argument("--passes", type=int, default=3, help="dream-cycle passes timed back to back")
    parser.add_argument("--copies", type=int, default=500, help="near-copies written before the passes")
    parser.add_argument("--queries", type=int, default=300, help="timed searches with no pass running")
    args = parser.parse_args()
    result = asyncio.run(run(args.source, args.data_dir, args.passes, args.copies, args.queries))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "lifecycle_dream.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
