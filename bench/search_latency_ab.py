"""Search latency over HTTP, this checkout against a baseline revision, alternating in one run.

One run of `bench/search_latency.py` cannot show a change of a millisecond or two: on this shared machine
the passes of one run differ by several milliseconds, and runs an hour apart by more. This script times
both codes in turn. Each phase starts a server on a fresh copy of the search-latency store, with the
code's `src` first on the import path, warms it up and times `--passes` passes over the same questions
(`/v1/search`, one request at a time, the default preset, as `bench/search_latency.py` does); rounds
alternate which code goes first. The summary gives, per code, the median over its phases of the best
pass's p50 and p95 and the mean p95 of every pass, and this checkout's ratio to the baseline for each.
The store must not be migrated past the baseline's schema (build it with the baseline's code).

With `--clients N` (N > 1), N clients send the questions at once, each its share one request at a time,
and the best pass's searches per second are compared too; that run is saved as `search_concurrent_ab`,
a section of its own, so the one-client comparison on the page stays.

    nice -n 10 .venv/bin/python -m bench.search_latency_ab --baseline REV [--rounds 2] [--queries 500]
        [--passes 3] [--clients 1] [--data-dir DIR] [--work-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import report
from bench.harness import ROOT, code_revision, copy_store, machine_notes, running_server, worktree
from bench.search_latency import DEFAULT_DATA_DIR, existing_store, latency_queries, time_searches


@contextmanager
def _importing(src: Path) -> Iterator[None]:
    """Servers started inside import `novamem` from `src` (PYTHONPATH is passed on to them)."""
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(src), *([before] if before else [])])
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before


async def _phase(store: Path, src: Path, queries: list[str], k: int, passes: int, clients: int) -> dict[str, Any]:
    with _importing(src), running_server("search_latency_ab", data_dir=store, jobs_enabled="false") as server:
        return await time_searches(server, queries, k, passes, clients=clients)


def summarise(phases: list[dict[str, Any]], codes: list[str]) -> list[dict[str, Any]]:
    """Per code: medians over its phases of the best pass's p50 and p95, the mean p95 of every pass, and
    (for codes after the first) the ratios of those to the first code's."""
    rows: list[dict[str, Any]] = []
    for code in codes:
        own = [p for p in phases if p["code"] == code]
        rows.append(
            {
                "code": code,
                "phases": len(own),
                "p50_ms": round(statistics.median(p["p50_ms"] for p in own), 2),
                "p95_ms": round(statistics.median(p["p95_ms"] for p in own), 2),
                "every_pass_p95_ms": round(statistics.mean(x for p in own for x in p["pass_p95_ms"]), 2),
                "searches_per_s": round(statistics.median(p["searches_per_s"] for p in own), 1),
            }
        )
    first = rows[0]
    for row in rows[1:]:
        for key in ("p50_ms", "p95_ms", "every_pass_p95_ms", "searches_per_s"):
            row[f"{key}_ratio"] = round(row[key] / first[key], 3)
    return rows


def run(
    data_dir: Path,
    work_dir: Path,
    *,
    baseline: str,
    rounds: int,
    query_count: int,
    k: int,
    passes: int,
    clients: int = 1,
) -> dict[str, Any]:
    tree = worktree(work_dir, baseline)
    codes = {f"{code_revision(tree)} (baseline)": tree / "src", f"{code_revision(ROOT)} (this checkout)": ROOT / "src"}
    queries = latency_queries(query_count)
    phases: list[dict[str, Any]] = []
    machine = machine_notes()
    load_start = os.getloadavg()[0]
    for round_no in range(rounds):
        order = list(codes.items()) if round_no % 2 == 0 else list(reversed(codes.items()))
        for label, src in order:
            store = copy_store(data_dir, work_dir / "store")
            timing = asyncio.run(_phase(store, src, queries, k, passes, clients))
            phases.append({"round": round_no + 1, "code": label, **timing})
            print(
                f"round {round_no + 1}, {label}: p50 {timing['p50_ms']} ms, p95 {timing['p95_ms']} ms"
                f" (passes' p95 {timing['pass_p95_ms']})",
                flush=True,
            )
    return {
        "queries": query_count,
        "k": k,
        "passes": passes,
        "clients": clients,
        "phases": phases,
        "summary": summarise(phases, list(codes)),
        "load_average_start": round(load_start, 2),
        "machine": {**machine, "load_average_end": machine_notes()["load_average"]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", required=True, help="a git revision to time alternately with this checkout")
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the two codes")
    parser.add_argument("--queries", type=int, default=500, help="timed searches per pass")
    parser.add_argument("--passes", type=int, default=3, help="timed passes per phase")
    parser.add_argument("--k", type=int, default=10, help="results per search")
    parser.add_argument("--clients", type=int, default=1, help="concurrent clients (saved apart when > 1)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="the search-latency store")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/novamem-latency-ab"), help="copies, checkouts")
    args = parser.parse_args()
    if args.clients < 1:
        parser.error("--clients must be at least 1")
    data_dir = existing_store(args.data_dir)
    result = run(
        data_dir,
        args.work_dir,
        baseline=args.baseline,
        rounds=args.rounds,
        query_count=args.queries,
        k=args.k,
        passes=args.passes,
        clients=args.clients,
    )
    path = report.save("search_latency_ab" if args.clients == 1 else "search_concurrent_ab", result)
    print(report.render_search_latency_ab(result))
    print(f"saved {path}")


if __name__ == "__main__":
    main()
