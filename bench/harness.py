"""A private novamem server for one benchmark run, and the HTTP client helpers that load and query it.

Each run starts `novamem serve` as a subprocess on a free loopback port with a fresh temporary data
directory, so the server also starts its own embedded PostgreSQL there. The benchmark talks to it over
HTTP only. `stop()` sends SIGINT (uvicorn shuts down, the lifespan stops the embedded PostgreSQL) and,
should anything be left, stops the server and then the PostgreSQL postmaster by their pids.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

__all__ = [
    "RESULTS_DIR",
    "ROOT",
    "CPU_FEATURES",
    "BenchServer",
    "LoadStats",
    "code_revision",
    "compare_side_by_side",
    "copy_store",
    "cpu_features",
    "latency_summary",
    "machine_notes",
    "percentile",
    "remember_all",
    "remember_batches",
    "running_server",
    "search_summary",
    "searches_one_at_a_time",
    "worktree",
]

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 60.0


def worktree(work_dir: Path, rev: str) -> Path:
    """A checkout of `rev` under the work dir (made once, by `git worktree`), for timing that code beside
    this checkout's."""
    path = work_dir / f"code-{rev}"
    if not path.is_dir():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), rev], check=True)
    return path


def code_revision(path: Path) -> str:
    """The checkout's short revision, marked `+changes` when its code (`src`) differs from that revision."""

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True).stdout.strip()

    revision = git("rev-parse", "--short", "HEAD") or "?"
    return revision + ("+changes" if git("status", "--porcelain", "--", "src") else "")


def copy_store(data_dir: Path, copy: Path) -> Path:
    """A fresh copy of a benchmark store (replacing an earlier one), so that one phase's writes (hit
    counts, analyses) never reach the next."""
    shutil.rmtree(copy, ignore_errors=True)
    copy.parent.mkdir(parents=True, exist_ok=True)
    # `cp -a` keeps the owner of the database files (the embedded server's own user when run as root)
    subprocess.run(["cp", "-a", str(data_dir), str(copy)], check=True)
    return copy


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # the postmaster runs as another user; it exists
        return True
    return True


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return not _alive(pid)


@dataclass
class BenchServer:
    """A running `novamem serve` subprocess, its base URL and its data directory."""

    process: subprocess.Popen[bytes]
    base_url: str
    data_dir: Path
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def postmaster_pid(self) -> int | None:
        """The embedded PostgreSQL's pid from its `postmaster.pid`, if it is running."""
        pidfile = self.data_dir / "pg" / "postmaster.pid"
        try:
            return int(pidfile.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        return httpx.AsyncClient(base_url=self.base_url, timeout=120, limits=limits, **kwargs)

    def stop(self) -> None:
        """SIGINT the server, then make sure it and its PostgreSQL are gone (each by its own pid)."""
        postmaster = self.postmaster_pid()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT_S)
        if postmaster is not None and not _wait_gone(postmaster, 10):
            # the lifespan did not stop it: ask the postmaster itself for a fast shutdown
            os.kill(postmaster, signal.SIGINT)
            if not _wait_gone(postmaster, STOP_TIMEOUT_S):
                os.kill(postmaster, signal.SIGKILL)


def _wait_ready(server: BenchServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited early; see {server.log_path}")
        try:
            if httpx.get(server.base_url + "/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"server not ready after {START_TIMEOUT_S:.0f}s; see {server.log_path}")


@contextmanager
def running_server(name: str, data_dir: Path | None = None, **settings: str) -> Iterator[BenchServer]:
    """Start a private server (embedded PostgreSQL, built-in embedder) and stop it on exit.

    Servers run in `none` auth mode and without the per-IP rate limit unless `auth_mode` or
    `rate_limit_per_minute` is given: the benchmarks measure memory work (one client sends thousands of
    requests a minute), `bench/auth_overhead.py` measures what authentication adds and
    `bench/edge_overhead.py` what the rate limit and request logging add.

    With `data_dir` the store lives there and outlasts the run (so a large load can be reused);
    otherwise it lives in a temporary directory.
    """
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"novamem-bench-{name}-") as tmp:
        data_dir = data_dir.resolve() if data_dir is not None else Path(tmp) / "data"
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("NOVAMEM_")}
        settings = {"auth_mode": "none", "rate_limit_per_minute": "0", **settings}
        env.update(
            NOVAMEM_DATA_DIR=str(data_dir),
            NOVAMEM_PORT=str(port),
            NOVAMEM_HOST="127.0.0.1",
            **{f"NOVAMEM_{k.upper()}": v for k, v in {"log_level": "warning", **settings}.items()},
        )
        log_path = RESULTS_DIR / f"{name}.server.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "novamem", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp
            )
        server = BenchServer(process, f"http://127.0.0.1:{port}", data_dir, log_path)
        try:
            _wait_ready(server)
            yield server
        finally:
            server.stop()


@dataclass
class LoadStats:
    """What a load produced: ids by the caller's key, and counts of the odd outcomes."""

    ids: dict[str, str] = field(default_factory=dict)
    deduplicated: int = 0
    rejected: int = 0
    not_embedded: int = 0
    seconds: float = 0.0

    def count(self, key: str, answer: dict[str, Any]) -> None:
        """Tally one write's answer (`/v1/remember`, or one entry of `/v1/remember/batch`)."""
        if answer.get("id") is None:
            self.rejected += 1
            return
        self.ids[key] = answer["id"]
        self.deduplicated += bool(answer.get("deduplicated"))
        self.not_embedded += not answer.get("embedded", False)


async def remember_all(
    client: httpx.AsyncClient, items: Iterable[tuple[str, dict[str, Any]]], concurrency: int
) -> LoadStats:
    """POST each (key, body) to /v1/remember with `concurrency` clients; fails on any error status."""
    stats = LoadStats()
    iterator = iter(items)

    async def worker() -> None:
        for key, body in iterator:
            response = await client.post("/v1/remember", json=body)
            if response.status_code != 201:
                raise RuntimeError(f"remember answered {response.status_code}: {response.text[:200]}")
            stats.count(key, response.json())

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    stats.seconds = time.perf_counter() - started
    return stats


@dataclass
class SearchRun:
    """What `search_all` saw: each request's result ids (in request order), wall times, degraded answers."""

    results: list[list[str]] = field(default_factory=list)
    ms: list[float] = field(default_factory=list)
    degraded: int = 0


async def search_all(client: httpx.AsyncClient, bodies: Sequence[dict[str, Any]], concurrency: int) -> SearchRun:
    """POST each body to /v1/search from `concurrency` clients; fails on any error status."""
    run = SearchRun(results=[[] for _ in bodies])
    iterator = iter(enumerate(bodies))

    async def worker() -> None:
        for index, body in iterator:
            started = time.perf_counter()
            response = await client.post("/v1/search", json=body)
            run.ms.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"search answered {response.status_code}: {response.text[:200]}")
            data = response.json()
            run.degraded += bool(data["degraded"])
            run.results[index] = [r["id"] for r in data["results"]]

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return run


REMEMBER_BATCH = 200  # most entries per `POST /v1/remember/batch`


async def remember_batches(
    client: httpx.AsyncClient,
    items: Iterable[tuple[str, dict[str, Any]]],
    concurrency: int,
    batch: int = REMEMBER_BATCH,
) -> LoadStats:
    """POST (key, body) pairs to /v1/remember/batch, `batch` per call, from `concurrency` clients.

    Each body is what `/v1/remember` takes; the counts are those `remember_all` keeps. Fails on any error status
    or on an entry refused on its own.
    """
    stats = LoadStats()
    iterator = iter(items)

    def next_chunk() -> list[tuple[str, dict[str, Any]]]:
        chunk: list[tuple[str, dict[str, Any]]] = []
        for item in iterator:
            chunk.append(item)
            if len(chunk) == batch:
                break
        return chunk

    async def worker() -> None:
        while chunk := next_chunk():
            response = await client.post("/v1/remember/batch", json={"entries": [body for _, body in chunk]})
            if response.status_code != 201:
                raise RuntimeError(f"remember/batch answered {response.status_code}: {response.text[:200]}")
            for (key, _), data in zip(chunk, response.json()["results"], strict=True):
                if data.get("error") is not None:
                    raise RuntimeError(f"remember/batch refused an entry: {data['error']}")
                stats.count(key, data)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    stats.seconds = time.perf_counter() - started
    return stats


AB_ROUTES = ("recent", "search")
AB_WARMUP_REQUESTS = 30


def _ab_body(route: str, query: str, k: int) -> dict[str, Any]:
    return {"query": query, "k": k} if route == "search" else {"k": 20}


async def compare_side_by_side(
    clients: dict[str, httpx.AsyncClient],
    queries: list[str],
    *,
    requests: int,
    batch: int,
    k: int,
    check: Callable[[str, httpx.Response], None] | None = None,
) -> dict[str, Any]:
    """Time `POST /v1/recent` (k=20) and `POST /v1/search` (k) on two servers, interleaved.

    `clients` maps two names to clients, the baseline first. After a warm-up on each, the same queries go to
    both in batches of `batch`, one request at a time (no queueing inside a server), alternating which server
    goes first so that both see the same neighbours on a shared machine. `check(name, response)` may refuse a
    response. Returns, per route, each server's latency summary and the second/first ratios.
    """
    (base, other) = clients

    async def send(name: str, route: str, chunk: list[str], out: list[float]) -> None:
        for query in chunk:
            started = time.perf_counter()
            response = await clients[name].post(f"/v1/{route}", json=_ab_body(route, query, k))
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise RuntimeError(f"{name} {route} answered {response.status_code}: {response.text[:200]}")
            if check is not None:
                check(name, response)
            out.append(elapsed)

    timings: dict[str, dict[str, list[float]]] = {route: {name: [] for name in clients} for route in AB_ROUTES}
    for route in AB_ROUTES:  # connections, caches, the embedder's first calls
        for name in clients:
            await send(name, route, queries[:AB_WARMUP_REQUESTS], [])
    for i in range(max(1, requests // batch)):
        chunk = [queries[(i * batch + j) % len(queries)] for j in range(batch)]
        order = (base, other) if i % 2 == 0 else (other, base)
        for route in AB_ROUTES:
            for name in order:
                await send(name, route, chunk, timings[route][name])
    result: dict[str, Any] = {}
    for route in AB_ROUTES:
        first, second = latency_summary(timings[route][base]), latency_summary(timings[route][other])
        result[route] = {
            base: first,
            other: second,
            "ratio_p50": round(second["p50_ms"] / first["p50_ms"], 3),
            "ratio_mean": round(second["mean_ms"] / first["mean_ms"], 3),
            "added_p50_ms": round(second["p50_ms"] - first["p50_ms"], 3),
        }
    return result


def latency_summary(timings: list[float]) -> dict[str, float]:
    """Count, p50, p95 and mean (ms) of request timings, as every latency report shows them."""
    return {
        "requests": len(timings),
        "p50_ms": round(percentile(timings, 50), 3),
        "p95_ms": round(percentile(timings, 95), 3),
        "mean_ms": round(sum(timings) / len(timings), 3),
    }


async def searches_one_at_a_time(
    server: BenchServer, queries: list[str], stop: asyncio.Event | None = None
) -> list[float]:
    """Search timings (ms), one search at a time over `queries` (cycled until `stop` is set, when given)."""
    timings: list[float] = []
    async with server.client() as client:
        i = 0
        while (stop is None and i < len(queries)) or (stop is not None and not stop.is_set()):
            started = time.perf_counter()
            response = await client.post("/v1/search", json={"query": queries[i % len(queries)], "k": 10})
            timings.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"search answered {response.status_code}: {response.text[:200]}")
            i += 1
    return timings


def search_summary(timings: list[float]) -> dict[str, float]:
    """Count, p50, p95 and max (ms) of search timings beside a background pass, as the lifecycle reports show."""
    return {
        "searches": len(timings),
        "p50_ms": round(percentile(timings, 50), 2),
        "p95_ms": round(percentile(timings, 95), 2),
        "max_ms": round(max(timings), 2),
    }


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def machine_notes() -> dict[str, Any]:
    """CPU, memory and load figures recorded next to every result."""
    import platform

    import psutil

    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "cpu_features": cpu_features(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


# vector instruction sets that change what a search costs: pgvector's distances and the embedder's
# products (onnxruntime multiplies int8 much faster with VNNI); hosts sold under one model name differ in them
CPU_FEATURES = ("avx2", "avx512f", "avx512_vnni", "avx_vnni")


def _cpuinfo(field: str) -> str | None:
    """The first `field` line of /proc/cpuinfo (None where the file cannot be read or has no such line)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return None
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith(field)), None)


def cpu_features() -> list[str] | None:
    """Which of CPU_FEATURES this CPU has (None where /proc/cpuinfo does not tell)."""
    flags = _cpuinfo("flags")
    return None if flags is None else [f for f in CPU_FEATURES if f in flags.split()]


def _cpu_model() -> str:
    return _cpuinfo("model name") or "unknown"
