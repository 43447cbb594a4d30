"""Remember throughput, sequential and concurrent, next to the embedder's own batched rate.

The embedder rate is measured in this process on exactly the texts the server is sent afterwards
(`BuiltinEmbedder.encode_blocking`, batches of 32, server idle), so the ratio compares like with
like. The server batches embedding across concurrent requests (`embedding/base.py` BatchingQueue);
the goal is concurrent throughput >= 0.70 of the embedder alone.

    .venv/bin/python -m bench.remember_throughput [--texts 1500] [--concurrency 8]
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


async def _server_phases(
    server: BenchServer, warmup: list[str], sequential: list[str], concurrent: list[str], concurrency: int
) -> tuple[float, float]:
    await _remember_rate(server, warmup, concurrency, "warmup")
    seq = await _remember_rate(server, sequential, 1, "sequential")
    print(f"sequential: {seq:.1f}/s", flush=True)
    conc = await _remember_rate(server, concurrent, concurrency, "concurrent")
    print(f"{concurrency} concurrent: {conc:.1f}/s", flush=True)
    return seq, conc


def run(count: int, concurrency: int) -> dict[str, Any]:
    texts = list(varied_texts(load_locomo(), WARMUP + 2 * count, seed=23))
    warmup, sequential, concurrent = texts[:WARMUP], texts[WARMUP : WARMUP + count], texts[WARMUP + count :]
    machine = machine_notes()
    with running_server("remember_throughput") as server:
        embed_seq, grouped_seq = _embedder_rates(sequential)
        embed_conc, grouped_conc = _embedder_rates(concurrent)
        print(f"embedder alone: {embed_seq:.1f}/s and {embed_conc:.1f}/s (grouped {grouped_conc:.1f}/s)", flush=True)
        seq, conc = asyncio.run(_server_phases(server, warmup, sequential, concurrent, concurrency))
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
        "machine": machine,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=1500, help="texts per phase")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients in the concurrent phase")
    args = parser.parse_args()
    result = run(args.texts, args.concurrency)
    report.save("remember_throughput", result)
    print(report.render_throughput(result))


if __name__ == "__main__":
    main()
