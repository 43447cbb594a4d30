"""The added cost of authentication per request: `user` mode with an `nm_` token against `none` mode.

Starts two private servers at once (embedded PostgreSQL each, built-in embedder): one with
`NOVAMEM_AUTH_MODE=none`, one in `user` mode whose bootstrap admin gets a token minted with
`novamem token create` (the CLI shares the running server's embedded database). Both get the same
memories through `POST /v1/remember`. Then the same requests go to both, interleaved in small batches
so that both servers see the same neighbours on a shared machine: `POST /v1/recent` (cheap, so the
authentication share is as large as it gets) and `POST /v1/search` (`k=10`, embeds the query). The
report gives p50/p95/mean per mode and the user/none ratio per route.

    .venv/bin/python -m bench.auth_overhead [--memories 200] [--requests 600] [--batch 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import subprocess
import sys
from contextlib import ExitStack
from typing import Any

from bench import report
from bench.corpus import load_locomo, varied_texts
from bench.harness import AB_ROUTES as ROUTES
from bench.harness import BenchServer, compare_side_by_side, machine_notes, remember_all, running_server

ADMIN_EMAIL = "bench-admin@example.com"
MODES = ("none", "user")


def mint_token(server: BenchServer) -> str:
    """A full-scope token for the bootstrap admin, from `novamem token create` against the server's data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOVAMEM_")}
    env.update(NOVAMEM_DATA_DIR=str(server.data_dir), NOVAMEM_AUTH_MODE="user", NOVAMEM_LOG_LEVEL="warning")
    done = subprocess.run(
        [sys.executable, "-m", "novamem", "token", "create", "--email", ADMIN_EMAIL, "--label", "bench", "--json"],
        env=env,
        capture_output=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"novamem token create failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    token = str(json.loads(done.stdout)["token"])
    if not token.startswith("nm_"):
        raise RuntimeError("novamem token create printed no nm_ token")
    return token


async def _load(server: BenchServer, texts: list[str], headers: dict[str, str], concurrency: int) -> None:
    items = [(str(i), {"content": text, "force": True}) for i, text in enumerate(texts)]
    async with server.client(headers=headers) as client:
        loaded = await remember_all(client, items, concurrency)
    if loaded.deduplicated or loaded.rejected or len(loaded.ids) != len(texts):
        raise RuntimeError(f"load was not clean: {loaded}")


async def _measure(
    servers: dict[str, BenchServer], token: str, queries: list[str], requests: int, batch: int, k: int
) -> dict[str, Any]:
    headers = {"none": {}, "user": {"authorization": f"Bearer {token}"}}
    clients = {mode: servers[mode].client(headers=headers[mode]) for mode in MODES}
    try:
        return await compare_side_by_side(clients, queries, requests=requests, batch=batch, k=k)
    finally:
        for client in clients.values():
            await client.aclose()


async def _stored(server: BenchServer, headers: dict[str, str]) -> int:
    async with server.client(headers=headers) as client:
        response = await client.get("/v1/stats")
        response.raise_for_status()
        body = response.json()
    return int(body["totalWarm"]) + int(body["totalCold"])


def run(memories: int, requests: int, batch: int, k: int, concurrency: int) -> dict[str, Any]:
    conversations = load_locomo()
    questions = [q.text for c in conversations for q in c.questions]
    random.Random(7).shuffle(questions)
    texts_iter = varied_texts(conversations, memories)
    texts = [next(texts_iter) for _ in range(memories)]
    result: dict[str, Any] = {
        "memories": memories,
        "requests_per_route_and_mode": max(1, requests // batch) * batch,
        "batch": batch,
        "k": k,
        "machine": machine_notes(),
    }
    password = secrets.token_urlsafe(18)
    with ExitStack() as stack:
        servers = {
            "none": stack.enter_context(running_server("auth_overhead_none", auth_mode="none")),
            "user": stack.enter_context(
                running_server(
                    "auth_overhead_user",
                    auth_mode="user",
                    bootstrap_admin_email=ADMIN_EMAIL,
                    bootstrap_admin_password=password,
                )
            ),
        }
        token = mint_token(servers["user"])
        auth = {"none": {}, "user": {"authorization": f"Bearer {token}"}}
        for mode in MODES:
            asyncio.run(_load(servers[mode], texts, auth[mode], concurrency))
            stored = asyncio.run(_stored(servers[mode], auth[mode]))
            if stored != memories:
                raise RuntimeError(f"{mode} server holds {stored} memories, expected {memories}")
        print(f"loaded {memories} memories into both servers", flush=True)
        result["routes"] = asyncio.run(_measure(servers, token, questions, requests, batch, k))
    result["machine"]["load_average_end"] = machine_notes()["load_average"]
    result["worst_ratio_p50"] = max(result["routes"][r]["ratio_p50"] for r in ROUTES)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--memories", type=int, default=200, help="memories stored in each server")
    parser.add_argument("--requests", type=int, default=600, help="timed requests per route and mode")
    parser.add_argument("--batch", type=int, default=20, help="requests per batch before switching server")
    parser.add_argument("--k", type=int, default=10, help="results per search")
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent clients while loading")
    args = parser.parse_args()
    result = run(args.memories, args.requests, args.batch, args.k, args.concurrency)
    print(json.dumps(result["routes"], indent=2))
    report.save("auth_overhead", result)
    print(report.render_auth_overhead(result))


if __name__ == "__main__":
    main()
