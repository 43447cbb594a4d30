"""Scale: search latency, write throughput, memory and disk as the store grows 10k -> 100k -> 1M memories.

One `novamem serve` in `user` mode (embedded PostgreSQL, its bootstrap admin's token minted with
`novamem token create`) embeds through an OpenAI-compatible endpoint served by `bench/hashed_embeddings.py`
(hashed bags of words, 384 dims, answered at once), so loading is bound by the store and its indexes, not
by a model: this benchmark measures storage and the vector index. Memories are varied LoCoMo turns over 10
namespaces, loaded through the bulk path, `POST /v1/me/import` with 200 entries per call from a few
concurrent clients (one embedding call and one multi-row insert per call). At each size:

- search: `POST /v1/search` (k=10, default hybrid preset, no namespace filter, so every memory is in scope)
  over a fixed set of LoCoMo questions, one at a time, after a warm-up; several passes, the quietest
  (lowest p95) reported with every pass's p95 kept;
- remember throughput: single-entry `POST /v1/remember` (`force: true`) of new texts from concurrent
  clients (the write path one memory at a time); the probes are forgotten afterwards by their source ref;
- server RSS, the embedded PostgreSQL's PSS, `pg_database_size`, and the memory table's heap and indexes.

The store lives in `--data-dir` and outlasts the run, so the benchmark is resumable: run it with
`--sizes 10000,100000`, later with `--sizes 1000000` on the same directory, and it loads only what is
missing (an interrupted load resumes; re-imported entries are merged, never doubled). Results of every
size are kept in `bench/results/scale.json` and rendered with growth ratios against the first size.

    nice -n 10 .venv/bin/python -m bench.scale --sizes 10000,100000 [--vector-store pgvector|qdrant]
        [--data-dir DIR] [--queries 200] [--passes 3] [--concurrency 2] [--remembers 400]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any, LiteralString

import httpx
import psutil
import psycopg

from bench import report
from bench.auth_overhead import ADMIN_EMAIL, mint_token
from bench.corpus import load_locomo, varied_texts
from bench.harness import RESULTS_DIR, BenchServer, machine_notes, percentile, running_server
from bench.hashed_embeddings import DIM, MODEL

NAMESPACES = 10
IMPORT_BATCH = 200  # the contract's most entries per `POST /v1/me/import`
WARMUP_QUERIES = 30
PAUSE_BETWEEN_PASSES_S = 5.0
PROBE_REF = "bench-scale-probe"
K = 10


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddingsServer:
    """`bench.hashed_embeddings` as a subprocess on a free loopback port; stopped by its pid."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.hashed_embeddings", "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{self.port}/v1"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                r = httpx.post(self.url + "/embeddings", json={"input": ["ready"], "model": MODEL}, timeout=2)
                if r.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("the hashed embeddings server did not start")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def _database_url(server: BenchServer) -> str:
    """A URL of the server's embedded PostgreSQL (already running; this process never stops it)."""
    from novamem.storage.embedded import EmbeddedPostgres

    return EmbeddedPostgres(server.data_dir).start()


def _sql(url: str, query: LiteralString) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(query)
        return cur.fetchall() if cur.description else []


def _disk(url: str) -> dict[str, float]:
    """The database on disk, and the memory table's heap and its indexes (MiB)."""
    ((db, heap, indexes, hnsw),) = _sql(
        url,
        "SELECT pg_database_size(current_database()), pg_table_size('memory_entries'),"
        " pg_indexes_size('memory_entries'),"
        " (SELECT coalesce(sum(pg_relation_size(indexrelid)), 0) FROM pg_index i JOIN pg_class c"
        "  ON c.oid = i.indexrelid WHERE c.relname LIKE 'memory_entries_hnsw_%')",
    )
    mib = 2**20
    return {
        "database_mib": round(int(db) / mib, 1),
        "entries_heap_mib": round(int(heap) / mib, 1),
        "entries_indexes_mib": round(int(indexes) / mib, 1),
        "hnsw_mib": round(int(hnsw) / mib, 1),
    }


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


async def _stored(client: httpx.AsyncClient) -> int:
    response = await client.get("/v1/me/usage")
    response.raise_for_status()
    return int(response.json()["entries"])


async def _load(client: httpx.AsyncClient, texts: Iterator[tuple[int, str]], concurrency: int) -> dict[str, int]:
    """Import (index, text) pairs in batches of 200 from `concurrency` clients; counts what came back."""
    counts = {"imported": 0, "deduplicated": 0, "calls": 0}

    def next_batch() -> list[dict[str, Any]]:
        batch = []
        for i, text in texts:
            batch.append({"content": text, "namespace": f"conv-{i % NAMESPACES}"})
            if len(batch) == IMPORT_BATCH:
                break
        return batch

    async def worker() -> None:
        while batch := next_batch():
            response = await client.post("/v1/me/import", json={"entries": batch})
            body = response.json()
            if response.status_code != 201 or body["failed"]:
                raise RuntimeError(f"import answered {response.status_code}: {response.text[:300]}")
            counts["imported"] += body["imported"]
            counts["deduplicated"] += body["deduplicated"]
            counts["calls"] += 1
            if counts["calls"] % 50 == 0:
                print(f"  imported {counts['imported']} (+{counts['deduplicated']} merged)", flush=True)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return counts


async def _time_pass(client: httpx.AsyncClient, queries: list[str]) -> list[float]:
    timings: list[float] = []
    for query in queries:
        started = time.perf_counter()
        response = await client.post("/v1/search", json={"query": query, "k": K})
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200 or not response.json()["results"]:
            raise RuntimeError(f"search answered {response.status_code}: {response.text[:200]}")
        timings.append(elapsed)
    return timings


async def _time_searches(client: httpx.AsyncClient, queries: list[str], passes: int) -> dict[str, Any]:
    await _time_pass(client, queries[:WARMUP_QUERIES])
    runs = []
    for _ in range(passes):
        timings = await _time_pass(client, queries)
        runs.append(
            {
                "queries": len(timings),
                "p50_ms": round(percentile(timings, 50), 2),
                "p95_ms": round(percentile(timings, 95), 2),
                "p99_ms": round(percentile(timings, 99), 2),
                "mean_ms": round(sum(timings) / len(timings), 2),
                "load_average": round(os.getloadavg()[0], 2),
            }
        )
        await asyncio.sleep(PAUSE_BETWEEN_PASSES_S)
    best = min(runs, key=lambda r: r["p95_ms"])
    return {**best, "pass_p95_ms": [r["p95_ms"] for r in runs], "pass_load": [r["load_average"] for r in runs]}


async def _remember_rate(client: httpx.AsyncClient, size: int, count: int, concurrency: int) -> float:
    """Single-entry remembers of `count` new texts from `concurrency` clients (per second); then forgotten."""
    pending = iter(range(count))
    tag = secrets.token_hex(4)

    async def worker() -> None:
        for i in pending:
            body = {
                "content": f"Scale probe {tag}-{size}-{i}: the nightly job {i} writes its report to bucket {i % 17}",
                "namespace": "scale-probe",
                "force": True,
                "sourceRefs": [PROBE_REF],
            }
            response = await client.post("/v1/remember", json=body)
            if response.status_code != 201 or response.json().get("id") is None:
                raise RuntimeError(f"remember answered {response.status_code}: {response.text[:200]}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    rate = count / (time.perf_counter() - started)
    response = await client.post("/v1/forget", json={"sourceRef": PROBE_REF})
    if response.status_code != 200:
        raise RuntimeError(f"forget answered {response.status_code}: {response.text[:200]}")
    return round(rate, 1)


def _server_settings(vector_store: str, embeddings_url: str, data_dir: Path) -> dict[str, str]:
    settings = {
        "auth_mode": "user",
        "bootstrap_admin_email": ADMIN_EMAIL,
        "bootstrap_admin_password": secrets.token_urlsafe(18),
        "embeddings_provider": "openai-compatible",
        "embeddings_endpoint": embeddings_url,
        "embeddings_model": MODEL,
        "embeddings_dim": str(DIM),
        "embeddings_batch_max": "256",
        "vector_store": vector_store,
    }
    if vector_store == "qdrant":  # qdrant-client's local mode: no Qdrant server can run on these machines
        settings["qdrant_url"] = f"path:{data_dir / 'qdrant'}"
    return settings


async def _measure_size(
    server: BenchServer,
    client: httpx.AsyncClient,
    url: str,
    size: int,
    texts: Iterator[tuple[int, str]],
    args: argparse.Namespace,
    queries: list[str],
) -> dict[str, Any] | None:
    """Load the store up to `size` from `texts` (this size's share of the corpus; only what is missing) and
    measure it; None when the store already holds more."""
    stored = await _stored(client)
    if stored >= size:
        deque(texts, maxlen=0)  # this size's texts are stored: move past them
    if stored > size:
        print(f"store holds {stored} memories, more than {size}: size skipped", flush=True)
        return None
    resume_from = max(0, stored - args.concurrency * IMPORT_BATCH)  # batches in flight when a load stopped
    missing = ((i, t) for i, t in texts if i >= resume_from)
    started = time.perf_counter()
    counts = await _load(client, missing, args.concurrency) if stored < size else None
    load_s = time.perf_counter() - started
    if (now := await _stored(client)) != size:
        raise RuntimeError(f"expected {size} memories in the store, found {now}")
    load = None
    if counts is not None:
        load = {**counts, "seconds": round(load_s, 1), "per_s": round(counts["imported"] / load_s, 1)}
        print(f"loaded {size}: {json.dumps(load)}", flush=True)
    catch_up = await _index_caught_up(url)
    vacuum_started = time.perf_counter()
    _sql(url, "VACUUM (ANALYZE) memory_entries")
    vacuum_s = round(time.perf_counter() - vacuum_started, 1)
    search = await _time_searches(client, queries, args.passes)
    remember_per_s = await _remember_rate(client, size, args.remembers, args.remember_concurrency)
    return {
        "memories": size,
        "load": load,
        "vacuum_s": vacuum_s,
        "index_catch_up_s": catch_up,
        "search": search,
        "remember_per_s": remember_per_s,
        **_memory(server),
        **_disk(url),
        "load_average": round(os.getloadavg()[0], 2),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


async def _index_caught_up(url: str, timeout_s: float = 3600.0) -> float:
    """Wait until the index outbox (Qdrant's feed) is drained; the seconds waited (0 without an outbox)."""
    exists = _sql(url, "SELECT to_regclass('index_outbox') IS NOT NULL")[0][0]
    started = time.perf_counter()
    while exists and _sql(url, "SELECT count(*) FROM index_outbox")[0][0]:
        if time.perf_counter() - started > timeout_s:
            raise RuntimeError("the index outbox did not drain")
        await asyncio.sleep(1.0)
    return round(time.perf_counter() - started, 1)


def _ordered(conversations: list[Any], total: int) -> Iterator[tuple[int, str]]:
    return enumerate(varied_texts(conversations, total))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = sorted(int(s) for s in args.sizes.split(","))
    conversations = load_locomo()
    questions = [q.text for c in conversations for q in c.questions]
    random.Random(11).shuffle(questions)
    queries = (questions * (1 + args.queries // len(questions)))[: args.queries]
    data_dir: Path = args.data_dir or RESULTS_DIR / f"scale-{args.vector_store}-data"
    data_dir.mkdir(parents=True, exist_ok=True)
    run_started = time.perf_counter()
    result: dict[str, Any] = {
        "vector_store": args.vector_store,
        "k": K,
        "queries": args.queries,
        "passes": args.passes,
        "load_concurrency": args.concurrency,
        "remembers": args.remembers,
        "remember_concurrency": args.remember_concurrency,
        "embedder": f"{MODEL} (bench/hashed_embeddings.py, OpenAI-compatible, {DIM} dims)",
        "machine": machine_notes(),
        "notes": args.note,
        "sizes": [],
    }
    embeddings = EmbeddingsServer()
    try:
        settings = _server_settings(args.vector_store, embeddings.url, data_dir)
        with running_server(f"scale_{args.vector_store}", data_dir=data_dir, **settings) as server:
            token = mint_token(server)
            url = _database_url(server)
            texts = _ordered(conversations, max(sizes))
            headers = {"authorization": f"Bearer {token}"}
            consumed = 0
            async with server.client(headers=headers) as client:
                for size in sizes:
                    chunk = islice(texts, size - consumed)  # this size's texts, in corpus order
                    consumed = size
                    row = await _measure_size(server, client, url, size, chunk, args, queries)
                    if row is not None:
                        print(json.dumps(row), flush=True)
                        result["sizes"].append(row)
                        _save(result, time.perf_counter() - run_started)
    finally:
        embeddings.stop()
    result["machine"]["load_average_end"] = machine_notes()["load_average"]
    return _save(result, time.perf_counter() - run_started)


def _save(result: dict[str, Any], elapsed_s: float) -> dict[str, Any]:
    """Merge this run's sizes into `scale.json` (per vector store, newest figure per size) and re-render."""
    result["run_seconds"] = round(elapsed_s, 1)
    path = RESULTS_DIR / "scale.json"
    saved: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {"stores": {}}
    store = result["vector_store"]
    previous = saved["stores"].get(store, {}).get("sizes", [])
    measured = {row["memories"] for row in result["sizes"]}
    merged = {
        **result,
        "sizes": sorted(
            [*(r for r in previous if r["memories"] not in measured), *result["sizes"]],
            key=lambda r: int(r["memories"]),
        ),
    }
    saved["stores"][store] = merged
    report.save("scale", saved)
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="store sizes, comma-separated")
    parser.add_argument("--vector-store", choices=("pgvector", "qdrant"), default="pgvector")
    parser.add_argument("--data-dir", type=Path, default=None, help="where the store lives (kept for resuming)")
    parser.add_argument("--queries", type=int, default=200, help="timed searches per pass")
    parser.add_argument("--passes", type=int, default=3, help="timed passes per size; the quietest is reported")
    parser.add_argument("--concurrency", type=int, default=2, help="concurrent import clients while loading")
    parser.add_argument("--remembers", type=int, default=400, help="single-entry remembers timed per size")
    parser.add_argument("--remember-concurrency", type=int, default=4, help="concurrent remember clients")
    parser.add_argument("--note", action="append", default=[], help="a line printed under the store's table")
    args = parser.parse_args()
    # started in the background, this process may have inherited an ignored SIGINT: make SIGINT and SIGTERM
    # both stop it cleanly (the server, its PostgreSQL and the embeddings server are stopped on the way out)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    result = asyncio.run(run(args))
    print(report.render_scale({"stores": {result["vector_store"]: result}}))


if __name__ == "__main__":
    main()
