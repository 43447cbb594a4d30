"""Fact consolidation (the dream cycle's second step): one pass with its model calls one at a time against
the same pass with calls in flight together, in the same run.

A store of `--facts` fact rows (as LLM fact extraction stores them: `source_type = 'fact'`) is written once:
each subject has one attribute (`Dana Okafor-kestrel home city is Oslo`), and `--outdated` of them also have
an older version with another value, stored a year earlier. The texts are embedded by
`bench/hashed_embeddings.py` (hashed bags of words, so the versions of one fact sit at cosine about 0.9 and
different subjects far apart), which the server also uses, so the vectors are of its active model. Every
fact carries a far expiry (2099), as facts of memories written with one do: the dream cycle's dedup walk
leaves such entries alone, so the pass's time is fact consolidation's (walk, neighbour searches, judging).

A local OpenAI-compatible chat server in this process answers every judgement after a fixed latency
(`--latency-ms`, a hosted model's typical answer time) and judges correctly: in each group, every older
version of a subject's attribute is superseded by its newest one. For each concurrency (`--concurrency`,
`1` first: the calls one after another, as before), the seeded store is copied afresh and a server started
with `NOVAMEM_EXTRACTION_MAX_CONCURRENT` set to it; one `POST /v1/dream-cycle` runs one pass. Reported per
concurrency: the pass's time (`durationMs`; the fact walk and its neighbour searches are the same work in
every run), the judging window (first model call to last answer, as the chat server saw it), the calls,
the most calls in flight at once, clusters judged and facts superseded; then the ratios to concurrency 1.

    nice -n 10 .venv/bin/python -m bench.lifecycle_consolidation [--facts 4000] [--outdated 1200]
        [--latency-ms 200] [--concurrency 1 4 12]

Saves `bench/results/lifecycle_consolidation.json` and prints it; it does not edit docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import shutil
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import psycopg
from ulid import ULID

from bench.harness import RESULTS_DIR, BenchServer, copy_store, machine_notes, running_server
from bench.hashed_embeddings import DIM, MODEL, embed
from bench.scale import EmbeddingsServer
from novamem.storage.embedded import EmbeddedPostgres

SEED_DIR = RESULTS_DIR / "lifecycle_consolidation-seed"
WORK_DIR = RESULTS_DIR / "lifecycle_consolidation-data"
TENANT, USER = "default", "bench"
PASS_TIMEOUT_S = 1800.0
# every fact carries this far expiry: the dedup walk leaves entries with an expiry alone, so the pass is fact
# consolidation's own work (plus edge promotion, with no edges here)
EXPIRES = datetime(2099, 1, 1, tzinfo=UTC)
STORED = datetime(2026, 6, 1, tzinfo=UTC)  # when the current versions were stored; older ones a year before

_FIRST = ["Dana", "Ravi", "Mei", "Tomas", "Aisha", "Lars", "Nina", "Kofi", "Elena", "Yuki", "Omar", "Greta"]
_LAST = ["Okafor", "Lindqvist", "Haddad", "Moreau", "Tanaka", "Silva", "Novak", "Brennan", "Mensah", "Ortiz"]
_ATTRIBUTES = [
    ("home city is", ["Oslo", "Lisbon", "Nairobi", "Osaka", "Quito", "Tallinn", "Perth", "Dakar", "Bergen"]),
    ("preferred editor is", ["Vim", "Emacs", "Helix", "Zed", "Kate", "Nano", "Sublime", "Neovim"]),
    ("deploy region is", ["Frankfurt", "Virginia", "Mumbai", "Montreal", "Bahrain", "Sydney", "Stockholm"]),
    ("team lead is", ["Harriet", "Joaquin", "Priya", "Sven", "Adaeze", "Mateo", "Ingrid", "Kenji"]),
    ("favourite tea is", ["sencha", "rooibos", "assam", "oolong", "chai", "darjeeling", "mint"]),
    ("laptop model is", ["ThinkPad", "MacBook", "Framework", "XPS", "Zenbook", "Surface", "Pixelbook"]),
]
_LINE = re.compile(r"^\s+(\d+)\. (.*) \[stored \d{4}-\d{2}-\d{2}\]$")


def _code(rng: random.Random) -> str:
    """A short pronounceable tag that makes each subject's words its own (letters only: nothing to redact)."""
    return "".join(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(3))


def facts(count: int, outdated: int, seed: int = 7) -> list[tuple[str, str, int]]:
    """(content, subject key, version) of every fact, in a shuffled write order: `count` rows, of which
    `outdated` are an older version (0) of a subject whose newest version (1) is also stored."""
    rng = random.Random(seed)
    rows: list[tuple[str, str, int]] = []
    subjects: set[str] = set()
    for i in range(count - outdated):
        subject = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}-{_code(rng)}-{_code(rng)}"
        while subject in subjects:
            subject = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}-{_code(rng)}-{_code(rng)}"
        subjects.add(subject)
        phrase, values = _ATTRIBUTES[i % len(_ATTRIBUTES)]
        old, new = rng.sample(values, 2)
        key = f"{subject}|{phrase}"
        rows.append((f"[fact] {subject} {phrase} {new}", key, 1))
        if i < outdated:
            rows.append((f"[fact] {subject} {phrase} {old}", key, 0))
    rng.shuffle(rows)
    return rows


class JudgeServer:
    """An OpenAI-compatible chat model on loopback: answers each consolidation call after `latency_s`, with
    the correct verdicts (in each group, older versions of a subject's attribute superseded by the newest)."""

    def __init__(self, known: dict[str, tuple[str, int]], latency_s: float) -> None:
        self.known = known
        self.latency_s = latency_s
        self.lock = threading.Lock()
        self.calls = 0
        self.in_flight = 0
        self.most = 0
        self.first: float | None = None
        self.last: float | None = None
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                outer.arrived()
                try:
                    time.sleep(outer.latency_s)
                    answer = outer.judge(str(body["messages"][-1]["content"]))
                    message = {"role": "assistant", "content": json.dumps(answer)}
                    payload = json.dumps({"choices": [{"index": 0, "message": message}]}).encode()
                    self.send_response(200)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                finally:
                    outer.answered()

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def arrived(self) -> None:
        with self.lock:
            self.calls += 1
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            self.first = self.first or time.perf_counter()

    def answered(self) -> None:
        with self.lock:
            self.in_flight -= 1
            self.last = time.perf_counter()

    def judge(self, prompt: str) -> list[dict[str, int]]:
        """The verdicts on one call's groups, by group and fact number."""
        verdicts: list[dict[str, int]] = []
        groups: list[list[tuple[int, str]]] = []
        for line in prompt.splitlines():
            if line.startswith("Group "):
                groups.append([])
            elif (m := _LINE.match(line)) and groups:
                groups[-1].append((int(m.group(1)), m.group(2)))
        for g, members in enumerate(groups, start=1):
            newest: dict[str, tuple[int, int]] = {}
            for number, text in members:
                key, version = self.known.get(text, (None, -1))
                if key is not None and version > newest.get(key, (0, -1))[1]:
                    newest[key] = (number, version)
            for number, text in members:
                key, version = self.known.get(text, (None, -1))
                if key is not None and newest[key][0] != number:
                    verdicts.append({"group": g, "superseded": number, "by": newest[key][0]})
        return verdicts

    def reset(self) -> None:
        with self.lock:
            self.calls = self.in_flight = self.most = 0
            self.first = self.last = None

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _url(server: BenchServer) -> str:
    return EmbeddedPostgres(server.data_dir).start()  # already running: only its URL is read


def _seed(server: BenchServer, rows: list[tuple[str, str, int]]) -> None:
    """Write the facts with SQL, ids in write order, each with its hashed vector as the server's model's."""
    model = f"openai-compatible:{MODEL}"
    started = STORED.timestamp()
    params = []
    for i, (content, _, version) in enumerate(rows):
        created = STORED - timedelta(days=365 * (1 - version)) + timedelta(seconds=i)
        params.append(
            {
                "id": str(ULID.from_timestamp(started + i)),
                "content": content,
                "vec": "[" + ",".join(map(str, embed(content))) + "]",
                "model": model,
                "created": created,
                "expires": EXPIRES,
                "meta": json.dumps({"fact": {"type": "fact", "subject": content.split()[1]}, "source_chunk_id": ""}),
            }
        )
    with psycopg.connect(_url(server), autocommit=True) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO memory_entries (id, tenant_id, user_id, scope_key, namespace, namespaces, content,"
            " content_hash, embedding, embedding_model, embedded_at, created_at, status, source_type, metadata,"
            " expires_at)"
            f" VALUES (%(id)s, '{TENANT}', '{USER}', 'u:{USER}', 'default', ARRAY['default'], %(content)s,"
            " md5(%(content)s), %(vec)s::vector, %(model)s, %(created)s, %(created)s, 'active', 'fact',"
            " %(meta)s::jsonb, %(expires)s)",
            params,
        )
        conn.execute("VACUUM (ANALYZE) memory_entries")


def _superseded(server: BenchServer) -> int:
    with psycopg.connect(_url(server), autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM memory_entries WHERE status = 'superseded'").fetchone()
    return int(row[0]) if row else 0


def _server_settings(embeddings_url: str) -> dict[str, str]:
    return {
        "jobs_enabled": "false",
        "embeddings_provider": "openai-compatible",
        "embeddings_endpoint": embeddings_url,
        "embeddings_model": MODEL,
        "embeddings_dim": str(DIM),
    }


async def _one_pass(server: BenchServer) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=PASS_TIMEOUT_S) as client:
        started = time.perf_counter()
        response = await client.post("/v1/dream-cycle")
        wall = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"dream cycle answered {response.status_code}: {response.text[:200]}")
    return {**response.json(), "wall_ms": round(wall)}


def run(count: int, outdated: int, latency_ms: int, levels: list[int]) -> dict[str, Any]:
    rows = facts(count, outdated)
    judge = JudgeServer({content: (key, version) for content, key, version in rows}, latency_ms / 1000)
    embeddings = EmbeddingsServer()
    result: dict[str, Any] = {
        "facts": count,
        "outdated": outdated,
        "latency_ms": latency_ms,
        "embedder": f"{MODEL} (bench/hashed_embeddings.py, {DIM} dims)",
        "machine": machine_notes(),
        "passes": [],
    }
    try:
        for path in (SEED_DIR, WORK_DIR):
            if path.exists():
                shutil.rmtree(path)
        settings = _server_settings(embeddings.url)
        with running_server("lifecycle_consolidation", data_dir=SEED_DIR, **settings) as server:
            _seed(server, rows)
        print(f"seeded {count} facts ({outdated} outdated)", flush=True)
        for level in levels:
            copy_store(SEED_DIR, WORK_DIR)
            judge.reset()
            with running_server(
                "lifecycle_consolidation",
                data_dir=WORK_DIR,
                extraction_enabled="true",
                extraction_endpoint=judge.url,
                extraction_model="bench-judge",
                extraction_timeout_ms="60000",
                extraction_max_concurrent=str(level),
                **settings,
            ) as server:
                passed = asyncio.run(_one_pass(server))
                superseded_rows = _superseded(server)
            window = (judge.last - judge.first) * 1000 if judge.first and judge.last else 0.0
            entry = {
                "concurrency": level,
                "pass_ms": passed["durationMs"],
                "wall_ms": passed["wall_ms"],
                "judging_ms": round(window),
                "calls": judge.calls,
                "most_in_flight": judge.most,
                "facts_walked": passed["factsWalked"],
                "clusters_judged": passed["factClustersJudged"],
                "facts_superseded": passed["factsSuperseded"],
                "superseded_rows": superseded_rows,
                "walked": passed["walked"],
                "merged": passed["merged"],
            }
            result["passes"].append(entry)
            print(json.dumps(entry), flush=True)
    finally:
        judge.stop()
        embeddings.stop()
        for path in (SEED_DIR, WORK_DIR):
            if path.exists():
                shutil.rmtree(path)
    base = result["passes"][0]
    for entry in result["passes"][1:]:
        entry["speedup_pass"] = round(base["pass_ms"] / max(entry["pass_ms"], 1), 2)
        entry["speedup_judging"] = round(base["judging_ms"] / max(entry["judging_ms"], 1), 2)
        entry["same_outcome"] = (entry["clusters_judged"], entry["facts_superseded"]) == (
            base["clusters_judged"],
            base["facts_superseded"],
        )
    result["machine"]["load_average_end"] = machine_notes()["load_average"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--facts", type=int, default=4000, help="fact rows in the store")
    parser.add_argument("--outdated", type=int, default=1200, help="of them, older versions of another fact")
    parser.add_argument("--latency-ms", type=int, default=200, help="the model's time to answer one call")
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=[1, 4, 12], help="calls in flight, the first the baseline"
    )
    args = parser.parse_args()
    if args.outdated * 2 > args.facts:
        parser.error("--outdated can be at most half of --facts")
    result = run(args.facts, args.outdated, args.latency_ms, args.concurrency)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "lifecycle_consolidation.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
