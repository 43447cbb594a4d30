"""The dashboard's main pages against `POST /v1/recent`: time to first byte, total time, bytes and page weight.

Starts one private server in `user` mode (embedded PostgreSQL, built-in embedder) whose bootstrap admin signs
in through `/api/auth/sign-in/email` and changes the one-time password, stores LoCoMo-based memories through
`POST /v1/remember`, then requests every main page of `/admin` and the baseline, one request at a time, in
rounds that rotate the order so that every page sees the same neighbours on a shared machine. The baseline is
`POST /v1/recent` (k=20) with the same session cookie: the cheapest authenticated read of the data plane (the
reference has no `GET /v1/recent`). Time to first byte is taken when the response headers have arrived, total
time when the body has been read.

Page weight is what a browser fetches on a first visit with an empty cache: the HTML plus every stylesheet,
script and image it references from the server (counted as sent on the wire, compressed when the server
compresses).

    .venv/bin/python -m bench.dashboard_pages [--memories 200] [--rounds 150]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import secrets
import time
from typing import Any

import httpx

from bench import report
from bench.corpus import load_locomo, varied_texts
from bench.harness import BenchServer, latency_summary, machine_notes, remember_all, running_server

ADMIN_EMAIL = "bench-admin@example.com"
TRUSTED_ORIGIN = "http://localhost:5173"  # always among the trusted origins of the Origin rule
PAGES = {
    "sign-in (anonymous)": "/admin/",
    "home": "/admin/",
    "memories": "/admin/memories",
    "projects": "/admin/projects",
    "tokens": "/admin/tokens",
    "connect": "/admin/connect",
    "metrics": "/admin/metrics",
    "users": "/admin/users",
    "audit": "/admin/audit",
}
BASELINE = "POST /v1/recent"
_ASSET = re.compile(r"""(?:href|src)="(/admin/assets/[^"]+)\"""")


async def _sign_in(server: BenchServer, password: str) -> httpx.AsyncClient:
    """A client holding a session cookie of the bootstrap admin, its forced password change done."""
    client = server.client(headers={"origin": TRUSTED_ORIGIN})
    signed = await client.post("/api/auth/sign-in/email", json={"email": ADMIN_EMAIL, "password": password})
    signed.raise_for_status()
    changed = await client.post(
        "/api/auth/change-password",
        json={"currentPassword": password, "newPassword": secrets.token_urlsafe(18), "revokeOtherSessions": False},
    )
    changed.raise_for_status()
    return client


async def _timed(client: httpx.AsyncClient, name: str, path: str) -> tuple[float, float, int]:
    """(ms to first byte, ms in all, bytes on the wire) of one request."""
    if name == BASELINE:
        request = client.build_request("POST", "/v1/recent", json={"k": 20})
    else:
        request = client.build_request("GET", path, headers={"accept": "text/html"})
    start = time.perf_counter()
    response = await client.send(request, stream=True)
    first = time.perf_counter()
    size = 0
    async for chunk in response.aiter_raw():
        size += len(chunk)
    done = time.perf_counter()
    await response.aclose()
    if response.status_code != 200:
        raise RuntimeError(f"{name}: {path} answered {response.status_code}")
    return (first - start) * 1000, (done - start) * 1000, size


async def _page_weight(client: httpx.AsyncClient, path: str) -> dict[str, int]:
    """Bytes on the wire for the HTML and each asset it references (a first visit, nothing cached)."""
    _, _, html = await _timed(client, "page", path)
    page = (await client.get(path)).text
    assets = sorted(set(_ASSET.findall(page)))
    weight = {"html": html}
    for asset in assets:
        async with client.stream("GET", asset, headers={"accept-encoding": "gzip, br"}) as response:
            weight[asset.rsplit("/", 1)[-1]] = sum([len(c) async for c in response.aiter_raw()])
    weight["total"] = sum(weight.values())
    return weight


async def _measure(server: BenchServer, password: str, texts: list[str], rounds: int) -> dict[str, Any]:
    admin = await _sign_in(server, password)
    anonymous = server.client()
    try:
        items = [(str(i), {"content": text, "force": True}) for i, text in enumerate(texts)]
        loaded = await remember_all(admin, items, concurrency=4)
        if len(loaded.ids) != len(texts):
            raise RuntimeError(f"load was not clean: {loaded}")
        names = [BASELINE, *PAGES]
        clients = {name: anonymous if name.endswith("(anonymous)") else admin for name in names}
        timings: dict[str, dict[str, list[float]]] = {n: {"ttfb": [], "total": [], "bytes": []} for n in names}
        for _warm in range(5):
            for name in names:
                await _timed(clients[name], name, PAGES.get(name, ""))
        for r in range(rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                ttfb, total, size = await _timed(clients[name], name, PAGES.get(name, ""))
                timings[name]["ttfb"].append(ttfb)
                timings[name]["total"].append(total)
                timings[name]["bytes"].append(float(size))
        base_ttfb = latency_summary(timings[BASELINE]["ttfb"])
        base_total = latency_summary(timings[BASELINE]["total"])
        result: dict[str, Any] = {}
        for name in names:
            ttfb = latency_summary(timings[name]["ttfb"])
            total = latency_summary(timings[name]["total"])
            result[name] = {
                "path": PAGES.get(name, "/v1/recent"),
                "ttfb": ttfb,
                "total": total,
                "bytes": int(max(timings[name]["bytes"])),
                "ratio_ttfb_p50": ttfb["p50_ms"] / base_ttfb["p50_ms"],
                "ratio_total_p50": total["p50_ms"] / base_total["p50_ms"],
            }
        weights = {
            "sign-in (anonymous)": await _page_weight(anonymous, "/admin/"),
            "home": await _page_weight(admin, "/admin/"),
            "memories": await _page_weight(admin, "/admin/memories"),
        }
        return {"pages": result, "weights": weights}
    finally:
        await admin.aclose()
        await anonymous.aclose()


def run(memories: int, rounds: int) -> dict[str, Any]:
    texts_iter = varied_texts(load_locomo(), memories)
    texts = [next(texts_iter) for _ in range(memories)]
    password = secrets.token_urlsafe(18)
    result: dict[str, Any] = {"memories": memories, "rounds": rounds, "machine": machine_notes()}
    with running_server(
        "dashboard_pages",
        auth_mode="user",
        bootstrap_admin_email=ADMIN_EMAIL,
        bootstrap_admin_password=password,
        insecure_cookies="1",
    ) as server:
        result.update(asyncio.run(_measure(server, password, texts, rounds)))
    result["machine"]["load_average_end"] = machine_notes()["load_average"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--memories", type=int, default=200, help="memories stored before measuring")
    parser.add_argument("--rounds", type=int, default=150, help="timed requests per page")
    args = parser.parse_args()
    result = run(args.memories, args.rounds)
    print(json.dumps({"pages": result["pages"], "weights": result["weights"]}, indent=2))
    report.save("dashboard_pages", result)
    print(report.render_dashboard_pages(result))


if __name__ == "__main__":
    main()
