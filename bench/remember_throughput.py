"""Remember throughput, sequential and concurrent, next to the embedder's own batched rate.

The embedder rate is measured in this process on exactly the texts the server is sent afterwards
(`BuiltinEmbedder.encode_blocking`, batches of 32, server idle), so the ratio compares like with
like. The server batches embedding across concurrent requests (`embedding/base.py` BatchingQueue);
the goal is concurrent throughput >= 0.70 of the embedder alone. A third phase has one client send
`POST /v1/remember/batch` requests one after another (issue 13: goal >= 0.80 of the embedder alone).

    .venv/bin/python -m bench.remember_throughput [--texts 1500] [--concurrency 8] [--batch-size 200]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from bench import report
from bench.corpus import load_locomo, varied_texts
from bench.harness import BenchServer, machine_notes, remember_all, running_server

BATCH = 32
WARMUP = 64


def _embedder_rates(texts: list[str]) -> tuple[float, float]:
    """Texts per second of the built-in model alone: batches of 32 as given, and the same batches
    run as similar-length groups (what the server's queue does with a batch)."""
    from novamem.embedding.base import similar_length_groups
    from novamem.embedding.builtin import SIMILAR_LENGTH_RATIO, BuiltinEmbedder

    embedder = BuiltinEmbedder()
    batches = [texts[i : i + BATCH] for i in range(0, len(texts), BATCH)]
    grouped = [g for b in batches for g in similar_length_groups(b, len, SIMILAR_LENGTH_RATIO)]
    try:
        embedder.encode_blocking(texts[:BATCH])  # first call allocates; not timed
        rates = []
        for plan in (batches, grouped):
            started = time.perf_counter()
            for batch in plan:
                embedder.encode_blocking(batch)
            rates.append(len(texts) / (time.perf_counter() - started))
        return rates[0], rates[1]
    finally:
        asyncio.run(embedder.close())


async def _remember_rate(server: BenchServer, texts: list[str], concurrency: int, namespace: str) -> float:
    items = [(str(i), {"content": t, "namespace": namespace, "force": True}) for i, t in enumerate(texts)]
    async with server.client() as client:
        stats = await remember_all(client, items, concurrency)
    if stats.deduplicated or stats.rejected or stats.not_embedded:
        raise RuntimeError(f"load was not clean: {stats}")
    return len(texts) / stats.seconds


async def _batched_rate(server: BenchServer, texts: list[str], batch_size: int, namespace: str) -> float:
    """One client, `POST /v1/remember/batch` requests of `batch_size` entries sent one after another."""
    async with server.client() as client:
        started = time.perf_counter()
        for i in range(0, len(texts), batch_size):
            entries = [{"content": t, "namespace": namespace, "force": True} for t in texts[i : i + batch_size]]
            response = await client.post("/v1/remember/batch", json={"entries": entries})
            if response.status_code != 201:
                raise RuntimeError(f"batch answered {response.status_code}: {response.text[:200]}")
            results = response.json()["results"]
            if any(r["id"] is None or r.get("deduplicated") or not r.get("embedded") for r in results):
                raise RuntimeError(f"load was not clean: {[r for r in results if r['id'] is None][:3]}")
        return len(texts) / (time.perf_counter() - started)


async def _server_phases(
    server: BenchServer, warmup: list[str], phases: tuple[list[str], list[str], list[str]], concurrency: int, batch: int
) -> tuple[float, float, float]:
    sequential, concurrent, batched = phases
    await _remember_rate(server, warmup, concurrency, "warmup")
    seq = await _remember_rate(server, sequential, 1, "sequential")
    print(f"sequential: {seq:.1f}/s", flush=True)
    conc = await _remember_rate(server, concurrent, concurrency, "concurrent")
    print(f"{concurrency} concurrent: {conc:.1f}/s", flush=True)
    bat = await _batched_rate(server, batched, batch, "batched")
    print(f"1 client, batches of {batch}: {bat:.1f}/s", flush=True)
    return seq, conc, bat


def run(count: int, concurrency: int, batch: int) -> dict[str, Any]:
    texts = list(varied_texts(load_locomo(), WARMUP + 3 * count, seed=23))
    warmup = texts[:WARMUP]
    sequential, concurrent, batched = (texts[WARMUP + i * count : WARMUP + (i + 1) * count] for i in range(3))
    machine = machine_notes()
    with running_server("remember_throughput") as server:
        embed_seq, grouped_seq = _embedder_rates(sequential)
        embed_conc, grouped_conc = _embedder_rates(concurrent)
        embed_bat, grouped_bat = _embedder_rates(batched)
        print(f"embedder alone: {embed_seq:.1f}/s and {embed_conc:.1f}/s (grouped {grouped_conc:.1f}/s)", flush=True)
        print(f"embedder alone on the batched texts: {embed_bat:.1f}/s (grouped {grouped_bat:.1f}/s)", flush=True)
        phases = (sequential, concurrent, batched)
        seq, conc, bat = asyncio.run(_server_phases(server, warmup, phases, concurrency, batch))
    machine["load_average_end"] = machine_notes()["load_average"]
    return {
        "texts": count,
        "concurrency": concurrency,
        "embedder_per_s": round((embed_seq + embed_conc) / 2, 1),
        "embedder_grouped_per_s": round((grouped_seq + grouped_conc) / 2, 1),
        "concurrent_ratio_to_grouped": round(conc / grouped_conc, 3),
        "sequential_per_s": round(seq, 1),
        "concurrent_per_s": round(conc, 1),
        "sequential_ratio": round(seq / embed_seq, 3),
        "concurrent_ratio": round(conc / embed_conc, 3),
        "batch_size": batch,
        "batched_per_s": round(bat, 1),
        "batched_embedder_per_s": round(embed_bat, 1),
        "batched_embedder_grouped_per_s": round(grouped_bat, 1),
        "batched_ratio": round(bat / embed_bat, 3),
        "batched_ratio_to_grouped": round(bat / grouped_bat, 3),
        "machine": machine,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=1500, help="texts per phase")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients in the concurrent phase")
    parser.add_argument("--batch-size", type=int, default=200, help="entries per request in the batched phase")
    args = parser.parse_args()
    result = run(args.texts, args.concurrency, args.batch_size)
    report.save("remember_throughput", result)
    print(report.render_throughput(result))


if __name__ == "__main__":
    main()
