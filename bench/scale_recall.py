"""Recall at scale: LoCoMo's questions over the whole 100,000-memory store, and what the keyword pool's
bounds cost in quality and time there.

`bench/locomo_recall.py` searches each conversation's own namespace, a few hundred memories, where the
keyword phase reads every matching row. A caller with a large store is searched differently: from
`SCOPE_COUNT_CAP` rows on, the keyword phase reads a bounded pool (`LARGE_SCOPE_POOL` rows matching every
term, plus a share of each term's rows). This benchmark measures that path on the store `bench/search_latency.py`
builds: all ten LoCoMo conversations' turns among about 94,000 variations of them (the same sentences
under other speakers, dates and places, and pairs of sentences joined), searched over everything, as one
caller's whole memory would be. A question's evidence turn counts as found when a result contains that
turn's sentence, which its variations also do (they are the same statement in other words); evidence
recall@10 and MRR are given per LoCoMo category.

Each variant is a setting of the pool's bounds (`--pools`, pairs of pool rows and per-term rows) and of
the candidates each tier hands to fusion (`--candidates`, the default strategy's `min_candidates`); every
combination is run. The search service runs in this process (no HTTP), and the variants take turns
question by question, so their times compare as ratios within one run. The keyword phase's wall time
and the whole search's are given per variant.

    nice -n 10 .venv/bin/python -m bench.scale_recall [--pools 1000:100,500:50] [--candidates 50]
        [--queries N] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from pathlib import Path
from typing import Any

from bench import report
from bench.corpus import load_locomo
from bench.harness import machine_notes, percentile
from bench.search_latency import DEFAULT_DATA_DIR, WARMUP_QUERIES, existing_store
from bench.search_stages import timed_call

K = 10
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}


def _parse_pools(text: str) -> list[tuple[int, int]]:
    """`--pools`: comma-separated `pool:per-term` pairs of positive row counts."""
    pools = []
    for part in text.split(","):
        pool, _, per_term = part.partition(":")
        try:
            pair = (int(pool), int(per_term))
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a pool:per-term pair of numbers: {part!r}") from None
        if min(pair) < 1:
            raise argparse.ArgumentTypeError(f"row counts must be positive: {part!r}")
        pools.append(pair)
    return pools


def _parse_counts(text: str) -> list[int]:
    """`--candidates`: comma-separated positive numbers."""
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not comma-separated numbers: {text!r}") from None
    if min(counts) < 1:
        raise argparse.ArgumentTypeError(f"counts must be positive: {text!r}")
    return counts


async def run(
    data_dir: Path, pools: list[tuple[int, int]], candidates: list[int], query_count: int | None
) -> dict[str, Any]:
    os.environ.update(NOVAMEM_DATA_DIR=str(data_dir), NOVAMEM_AUTH_MODE="none", NOVAMEM_JOBS_ENABLED="false")
    from novamem.config import load_settings
    from novamem.container import Container
    from novamem.domain.scope import Caller
    from novamem.services.memory.models import SearchRequest
    from novamem.storage.postgres import memory_retrieval

    conversations = load_locomo()
    questions = [(q, {t.dia_id: t.text for t in c.turns}) for c in conversations for q in c.questions]
    if query_count is not None:
        questions = questions[:: max(1, len(questions) // query_count)][:query_count]
    settings = [(pool, per_term, count) for pool, per_term in pools for count in candidates]
    labels = [f"pool {pool}, per term {per_term}, {count} candidates" for pool, per_term, count in settings]
    keyword_ms: dict[str, list[float]] = {label: [] for label in labels}
    search_ms: dict[str, list[float]] = {label: [] for label in labels}
    rows: dict[str, list[tuple[int, float, float]]] = {label: [] for label in labels}
    defaults = (memory_retrieval.LARGE_SCOPE_POOL, memory_retrieval.LARGE_SCOPE_TERM_ROWS)
    container = await Container.build(load_settings(), serving=True)
    try:
        recall = container.recall
        strategy = recall._strategy
        store = recall._store
        current: list[float] = []
        store.keyword_hits = timed_call(current, store.keyword_hits)  # type: ignore[method-assign]
        caller = Caller.public()
        for question, _ in questions[:WARMUP_QUERIES]:
            await recall.search(caller, SearchRequest(query=question.text, k=K))
        for n, (question, turns) in enumerate(questions):
            evidence = {e: turns[e] for e in question.evidence}
            order = list(zip(labels, settings, strict=True))
            if n % 2:
                order.reverse()
            for label, (pool, per_term, count) in order:
                memory_retrieval.LARGE_SCOPE_POOL, memory_retrieval.LARGE_SCOPE_TERM_ROWS = pool, per_term
                recall._strategy = strategy.model_copy(update={"min_candidates": count})
                current.clear()
                started = time.perf_counter()
                found = await recall.search(caller, SearchRequest(query=question.text, k=K))
                search_ms[label].append((time.perf_counter() - started) * 1000)
                keyword_ms[label].extend(current)
                contents = [r.content for r in found.results]
                hit = {e for e, text in evidence.items() if any(text in c for c in contents)}
                first = next((i for i, c in enumerate(contents) if any(t in c for t in evidence.values())), None)
                rows[label].append(
                    (question.category, len(hit) / len(evidence), 0.0 if first is None else 1 / (first + 1))
                )
        await recall.close()
    finally:
        memory_retrieval.LARGE_SCOPE_POOL, memory_retrieval.LARGE_SCOPE_TERM_ROWS = defaults
        await container.close()
    variants = []
    for label in labels:
        mine = rows[label]
        by_category = {
            name: round(statistics.mean(r for c, r, _ in mine if c == cat), 3)
            for cat, name in CATEGORIES.items()
            if any(c == cat for c, _, _ in mine)
        }
        variants.append(
            {
                "variant": label,
                "recall_at_10": round(statistics.mean(r for _, r, _ in mine), 3),
                "mrr": round(statistics.mean(m for _, _, m in mine), 3),
                "by_category": by_category,
                "keyword_p50_ms": round(percentile(keyword_ms[label], 50), 2),
                "keyword_p95_ms": round(percentile(keyword_ms[label], 95), 2),
                "search_p50_ms": round(percentile(search_ms[label], 50), 2),
                "search_p95_ms": round(percentile(search_ms[label], 95), 2),
            }
        )
    return {"questions": len(questions), "k": K, "variants": variants, "machine": machine_notes()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--pools", type=_parse_pools, default="1000:100,500:50", help="variants, comma-separated pool:per-term rows"
    )
    parser.add_argument(
        "--candidates", type=_parse_counts, default="50", help="variants, comma-separated candidates per tier"
    )
    parser.add_argument("--queries", type=int, default=None, help="a spread subset of the questions (default: all)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="the search-latency store")
    args = parser.parse_args()
    data_dir = existing_store(args.data_dir)
    result = asyncio.run(run(data_dir, args.pools, args.candidates, args.queries))
    path = report.save("scale_recall", result)
    print(report.render_scale_recall(result))
    print(f"saved {path}")


if __name__ == "__main__":
    main()
