"""Tool-call latency of `memory_search` over MCP against `POST /v1/search`, same queries, one run.

Starts one private server (`none` auth mode, embedded PostgreSQL, built-in embedder) and stores
LoCoMo-based memories through `POST /v1/remember`. Then, for each LoCoMo question, one client sends
`POST /v1/search` and a JSON-RPC `tools/call` of `memory_search` to `/mcp` with the same arguments
(plain HTTP POSTs on one keep-alive connection each, `Accept: application/json, text/event-stream`,
JSON responses), alternating which door goes first. MCP is measured twice: a handshake client
(`initialize`, then every call carries its `Mcp-Session-Id`, checked against PostgreSQL) and a client of the
stateless `2026-07-28` revision (no session). The report gives p50/p95/mean per door and the MCP/REST ratios.

    .venv/bin/python -m bench.mcp_latency [--memories 300] [--queries 300] [--k 10]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import time
from typing import Any

import httpx

from bench import report
from bench.corpus import load_locomo, varied_texts
from bench.harness import BenchServer, latency_summary, machine_notes, remember_all, running_server

WARMUP_QUERIES = 30
MCP_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
PROTOCOL_VERSION = "2025-06-18"
MODERN_VERSION = "2026-07-28"
DOORS = ("rest", "mcp", "mcp_stateless")

_ids = itertools.count(1)


def _rpc(method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": next(_ids), "method": method, "params": params}


def _search_call(query: str, k: int) -> dict[str, Any]:
    return _rpc("tools/call", {"name": "memory_search", "arguments": {"query": query, "k": k}})


async def _rest(client: httpx.AsyncClient, query: str, k: int) -> list[str]:
    response = await client.post("/v1/search", json={"query": query, "k": k})
    if response.status_code != 200:
        raise RuntimeError(f"search answered {response.status_code}: {response.text[:200]}")
    return [r["id"] for r in response.json()["results"]]


def _mcp_result(response: httpx.Response) -> dict[str, Any]:
    if response.status_code != 200:
        raise RuntimeError(f"/mcp answered {response.status_code}: {response.text[:200]}")
    if not response.headers.get("content-type", "").startswith("application/json"):
        raise RuntimeError(f"/mcp did not answer JSON: {response.headers.get('content-type')}")
    body = response.json()
    if "error" in body:
        raise RuntimeError(f"/mcp JSON-RPC error: {body['error']}")
    result: dict[str, Any] = body["result"]
    if result.get("isError"):
        raise RuntimeError(f"memory_search failed over MCP: {result['content']}")
    return result


async def _mcp(client: httpx.AsyncClient, query: str, k: int) -> list[str]:
    result = _mcp_result(await client.post("/mcp", json=_search_call(query, k)))
    return [r["id"] for r in result["structuredContent"]["results"]]


async def _mcp_stateless(client: httpx.AsyncClient, query: str, k: int) -> list[str]:
    call = _search_call(query, k)
    call["params"]["_meta"] = {
        "io.modelcontextprotocol/protocolVersion": MODERN_VERSION,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
    }
    headers = {"mcp-protocol-version": MODERN_VERSION, "mcp-method": "tools/call", "mcp-name": "memory_search"}
    result = _mcp_result(await client.post("/mcp", json=call, headers=headers))
    return [r["id"] for r in result["structuredContent"]["results"]]


async def _open_session(client: httpx.AsyncClient) -> None:
    """`initialize` once; the session id and protocol version then go with every request of this client."""
    init = _rpc(
        "initialize",
        {"protocolVersion": PROTOCOL_VERSION, "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}},
    )
    response = await client.post("/mcp", json=init)
    _mcp_result(response)
    client.headers["mcp-session-id"] = response.headers["mcp-session-id"]
    client.headers["mcp-protocol-version"] = PROTOCOL_VERSION


async def _measure(server: BenchServer, queries: list[str], k: int) -> dict[str, Any]:
    timings: dict[str, list[float]] = {door: [] for door in DOORS}
    same = 0
    async with (
        server.client() as rest,
        server.client(headers=MCP_HEADERS) as mcp,
        server.client(headers=MCP_HEADERS) as modern,
    ):
        await _open_session(mcp)
        doors = {
            "rest": lambda q: _rest(rest, q, k),
            "mcp": lambda q: _mcp(mcp, q, k),
            "mcp_stateless": lambda q: _mcp_stateless(modern, q, k),
        }
        for query in queries[:WARMUP_QUERIES]:  # connections, caches, the embedder's first calls
            for door in DOORS:
                await doors[door](query)
        for i, query in enumerate(queries):
            order = DOORS[i % 3 :] + DOORS[: i % 3]  # each door goes first, second and third equally often
            got: dict[str, list[str]] = {}
            for door in order:
                started = time.perf_counter()
                got[door] = await doors[door](query)
                timings[door].append((time.perf_counter() - started) * 1000)
            same += got["rest"] == got["mcp"] == got["mcp_stateless"]
    rest_s, mcp_s, modern_s = (latency_summary(timings[door]) for door in DOORS)
    return {
        "rest": rest_s,
        "mcp": mcp_s,
        "mcp_stateless": modern_s,
        "ratio_p50": round(mcp_s["p50_ms"] / rest_s["p50_ms"], 3),
        "ratio_p95": round(mcp_s["p95_ms"] / rest_s["p95_ms"], 3),
        "ratio_mean": round(mcp_s["mean_ms"] / rest_s["mean_ms"], 3),
        "added_p50_ms": round(mcp_s["p50_ms"] - rest_s["p50_ms"], 3),
        "stateless_ratio_p50": round(modern_s["p50_ms"] / rest_s["p50_ms"], 3),
        "stateless_added_p50_ms": round(modern_s["p50_ms"] - rest_s["p50_ms"], 3),
        "same_results_share": round(same / len(queries), 3),
    }


async def _load(server: BenchServer, texts: list[str], concurrency: int) -> None:
    items = [(str(i), {"content": text, "force": True}) for i, text in enumerate(texts)]
    async with server.client() as client:
        loaded = await remember_all(client, items, concurrency)
        stats = (await client.get("/v1/stats")).json()
    if loaded.deduplicated or loaded.rejected or len(loaded.ids) != len(texts):
        raise RuntimeError(f"load was not clean: {loaded}")
    if stats["totalWarm"] + stats["totalCold"] != len(texts):
        raise RuntimeError(f"server holds {stats['totalWarm'] + stats['totalCold']} memories, expected {len(texts)}")


def run(memories: int, query_count: int, k: int, concurrency: int) -> dict[str, Any]:
    conversations = load_locomo()
    questions = [q.text for c in conversations for q in c.questions]
    random.Random(5).shuffle(questions)
    queries = (questions * (1 + query_count // len(questions)))[:query_count]
    texts_iter = varied_texts(conversations, memories)
    texts = [next(texts_iter) for _ in range(memories)]
    result: dict[str, Any] = {"memories": memories, "queries": query_count, "k": k, "machine": machine_notes()}
    with running_server("mcp_latency", auth_mode="none") as server:
        asyncio.run(_load(server, texts, concurrency))
        print(f"loaded {memories} memories", flush=True)
        result.update(asyncio.run(_measure(server, queries, k)))
    result["machine"]["load_average_end"] = machine_notes()["load_average"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--memories", type=int, default=300, help="memories stored before timing")
    parser.add_argument("--queries", type=int, default=300, help="timed searches per door")
    parser.add_argument("--k", type=int, default=10, help="results per search")
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent clients while loading")
    args = parser.parse_args()
    result = run(args.memories, args.queries, args.k, args.concurrency)
    print(json.dumps({key: v for key, v in result.items() if key != "machine"}, indent=2))
    report.save("mcp_latency", result)
    print(report.render_mcp_latency(result))


if __name__ == "__main__":
    main()
