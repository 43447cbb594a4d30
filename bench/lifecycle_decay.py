"""Decay passes on a large store: time per pass, rows touched, and what a pass does to search latency.

Works on a copy of the 100,000-memory store `bench/search_latency.py` builds (`--source`, copied afresh to
`--data-dir` each run, so the original is never changed: a pass turns memories cold). That store was written
within the last day, so with the default base (7 days) a pass finds nothing to demote: that is the steady
state, where each pass still reads every warm row to judge it. `effectiveDays` = 0.0001 (under nine
seconds) then makes every memory idle past its lifespan, the worst case: one statement demoting the whole
store. Against one server:

1. search p95 with no pass running (`--queries` LoCoMo questions, one at a time);
2. `--passes` passes with nothing to demote, back to back, while the same searches run one at a time next
   to them: each pass's time and the search p95 during them;
3. one pass demoting every memory (`effectiveDays` 0.0001), with searches running next to it;
4. one more pass over the now all-cold store (nothing warm to judge);
5. search p95 with no pass running again (each search now also promotes the cold memories it returns).

    nice -n 10 .venv/bin/python -m bench.lifecycle_decay [--passes 10] [--queries 300]

Saves `bench/results/lifecycle_decay.json` and prints it; it does not edit docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.corpus import load_locomo
from bench.harness import (
    RESULTS_DIR,
    BenchServer,
    copy_store,
    machine_notes,
    percentile,
    running_server,
    search_summary,
    searches_one_at_a_time,
)
from novamem.storage.embedded import EmbeddedPostgres

DEFAULT_SOURCE = RESULTS_DIR / "search_latency-data"
DEFAULT_DATA_DIR = RESULTS_DIR / "lifecycle_decay-data"
WARMUP_QUERIES = 30
#: a base under nine seconds: every memory of the store is idle past its lifespan
DEMOTE_ALL_DAYS = 0.0001
PASS_TIMEOUT_S = 3600.0


def _url(server: BenchServer) -> str:
    return EmbeddedPostgres(server.data_dir).start()  # already running: only its URL is read


def _tiers(server: BenchServer) -> dict[str, int]:
    with psycopg.connect(_url(server), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) - (SELECT count(*) FROM memory_cold), (SELECT count(*) FROM memory_cold)"
            " FROM memory_entries"
        ).fetchone()
    return {"warm": int(row[0]), "cold": int(row[1])} if row else {"warm": 0, "cold": 0}


async def _passes(
    server: BenchServer, passes: int, queries: list[str], body: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[float]]:
    """`passes` decay passes back to back with searches running one at a time next to them."""
    stop = asyncio.Event()
    searching = asyncio.create_task(searches_one_at_a_time(server, queries, stop))
    await asyncio.sleep(0.5)  # the searches are under way before the first pass starts
    results = []
    try:
        async with server.client() as client:
            client.timeout = httpx.Timeout(PASS_TIMEOUT_S)
            for _ in range(passes):
                started = time.perf_counter()
                response = await client.post("/v1/decay", json=body)
                if response.status_code != 200:
                    raise RuntimeError(f"decay answered {response.status_code}: {response.text[:200]}")
                results.append({**response.json(), "wall_ms": round((time.perf_counter() - started) * 1000, 1)})
                print(json.dumps(results[-1]), flush=True)
    finally:
        stop.set()
    return results, await searching


def _pass_summary(passes: list[dict[str, Any]]) -> dict[str, Any]:
    walls = [p["wall_ms"] for p in passes]
    return {
        "passes": len(passes),
        "demoted": sum(p["demoted"] for p in passes),
        "median_ms": round(percentile(walls, 50), 1),
        "max_ms": max(walls),
        "each_ms": walls,
    }


async def run(source: Path, data_dir: Path, passes: int, query_count: int) -> dict[str, Any]:
    if (source / "pg" / "postmaster.pid").exists():
        raise RuntimeError(f"{source} is in use by a running server; copy it when it is stopped")
    print(f"copying {source} to {data_dir}", flush=True)
    copy_store(source, data_dir)
    questions = [q.text for c in load_locomo() for q in c.questions]
    random.Random(13).shuffle(questions)
    queries = questions[:query_count]
    result: dict[str, Any] = {"passes": passes, "machine": machine_notes()}
    with running_server("lifecycle_decay", data_dir=data_dir, jobs_enabled="false") as server:
        result["before"] = _tiers(server)
        await searches_one_at_a_time(server, queries[:WARMUP_QUERIES])
        result["search_idle_before"] = search_summary(await searches_one_at_a_time(server, queries))
        steady, during = await _passes(server, passes, queries, {})
        result["steady_passes"] = _pass_summary(steady)
        result["search_during_steady_passes"] = search_summary(during)
        demote_all, during_all = await _passes(server, 1, queries, {"effectiveDays": DEMOTE_ALL_DAYS})
        result["demote_all_pass"] = _pass_summary(demote_all)
        result["search_during_demote_all_pass"] = search_summary(during_all)
        result["after_demote_all"] = _tiers(server)
        async with server.client() as client:
            client.timeout = httpx.Timeout(PASS_TIMEOUT_S)
            started = time.perf_counter()
            answer = (await client.post("/v1/decay", json={})).json()
            result["all_cold_pass"] = {**answer, "wall_ms": round((time.perf_counter() - started) * 1000, 1)}
        result["search_idle_after"] = search_summary(await searches_one_at_a_time(server, queries))
        result["after"] = _tiers(server)
    result["machine"]["load_average_end"] = machine_notes()["load_average"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="the store to copy (never changed)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="the working copy (replaced each run)")
    parser.add_argument("--passes", type=int, default=10, help="passes with nothing to demote")
    parser.add_argument("--queries", type=int, default=300, help="searches per latency measurement")
    args = parser.parse_args()
    result = asyncio.run(run(args.source, args.data_dir, args.passes, args.queries))
    out = RESULTS_DIR / "lifecycle_decay.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
