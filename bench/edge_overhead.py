"""What the public-internet hardening costs per request: a default server against a bare one.

Starts two private servers at once (`none` auth mode, embedded PostgreSQL each, built-in embedder):
- **bare**: rate limit off (`NOVAMEM_RATE_LIMIT_PER_MINUTE=0`) and log level `warning`, so no per-request
  log line;
- **default**: the per-IP rate limit on (its counter is one upsert in PostgreSQL per request; the budget is
  set high enough never to refuse, because the cost is the counting) and log level `info`, so every request
  writes its JSON "request completed" line.
Both always run the other edge middleware (request id, security headers, CORS, request limits), so the ratio
is what an operator pays for the limiter and the request log. Both get the same memories; then the same
requests go to both, interleaved in small batches: `POST /v1/recent` (cheap, so the share is as large as it
gets) and `POST /v1/search` (`k=10`, embeds the query). The report gives p50/p95/mean per server and the
default/bare ratio per route.

    .venv/bin/python -m bench.edge_overhead [--memories 200] [--requests 600] [--batch 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
from contextlib import ExitStack
from typing import Any

from bench import report
from bench.corpus import load_locomo, varied_texts
from bench.harness import AB_ROUTES as ROUTES
from bench.harness import BenchServer, compare_side_by_side, machine_notes, remember_all, running_server

SERVERS = ("bare", "default")
NEVER_REFUSES = str(10**9)


async def _load(server: BenchServer, texts: list[str], concurrency: int) -> None:
    items = [(str(i), {"content": text, "force": True}) for i, text in enumerate(texts)]
    async with server.client() as client:
        loaded = await remember_all(client, items, concurrency)
    if loaded.deduplicated or loaded.rejected or len(loaded.ids) != len(texts):
        raise RuntimeError(f"load was not clean: {loaded}")


def _check(name: str, response: Any) -> None:
    if (name == "default") != ("x-ratelimit-limit" in response.headers):
        raise RuntimeError("the rate limit is not in the state this benchmark expects")


async def _measure(servers: dict[str, BenchServer], queries: list[str], requests: int, batch: int, k: int) -> Any:
    clients = {name: servers[name].client() for name in SERVERS}
    try:
        return await compare_side_by_side(clients, queries, requests=requests, batch=batch, k=k, check=_check)
    finally:
        for client in clients.values():
            await client.aclose()


def run(memories: int, requests: int, batch: int, k: int, concurrency: int) -> dict[str, Any]:
    conversations = load_locomo()
    questions = [q.text for c in conversations for q in c.questions]
    random.Random(11).shuffle(questions)
    texts_iter = varied_texts(conversations, memories)
    texts = [next(texts_iter) for _ in range(memories)]
    result: dict[str, Any] = {
        "memories": memories,
        "requests_per_route_and_server": max(1, requests // batch) * batch,
        "batch": batch,
        "k": k,
        "machine": machine_notes(),
    }
    with ExitStack() as stack:
        servers = {
            "bare": stack.enter_context(running_server("edge_overhead_bare")),
            "default": stack.enter_context(
                running_server("edge_overhead_default", rate_limit_per_minute=NEVER_REFUSES, log_level="info")
            ),
        }
        for name in SERVERS:
            asyncio.run(_load(servers[name], texts, concurrency))
        print(f"loaded {memories} memories into both servers", flush=True)
        result["routes"] = asyncio.run(_measure(servers, questions, requests, batch, k))
    result["machine"]["load_average_end"] = machine_notes()["load_average"]
    result["worst_ratio_p50"] = max(result["routes"][r]["ratio_p50"] for r in ROUTES)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--memories", type=int, default=200, help="memories stored in each server")
    parser.add_argument("--requests", type=int, default=600, help="timed requests per route and server")
    parser.add_argument("--batch", type=int, default=20, help="requests per batch before switching server")
    parser.add_argument("--k", type=int, default=10, help="results per search")
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent clients while loading")
    args = parser.parse_args()
    result = run(args.memories, args.requests, args.batch, args.k, args.concurrency)
    print(json.dumps(result["routes"], indent=2))
    report.save("edge_overhead", result)
    print(report.render_edge_overhead(result))


if __name__ == "__main__":
    main()
