"""Searches within a scope: a namespace, a small namespace, another user's memories, in a large store.

`bench/search_latency.py` times searches over everything one owner stored. Most searches are narrower: an
agent searches its project's namespace, a team's server holds many users. A narrow scope is where plans
that read the whole table and filter it to the scope afterwards cost the most (the HNSW walk, a term's
full-text matches, an entity's postings).

Each phase works on a fresh copy (`--work-dir`) of the store `bench/search_latency.py` builds (100,000
memories of one owner, ten namespaces of 10,000; run that first) and runs in a process of its own, on the
code in this checkout or, with `--baseline REV`, alternately on the code of that revision (a git worktree
under the work dir, imported ahead of this checkout's), so both are timed by this same script, minutes
apart; the store must not be migrated past the baseline's schema (the phase refuses it). A phase
starts the search service in process (timing its start-up, migrations included), stores
four more shelves through the batched write path (a second user with 200 and 1,800 memories in two
namespaces; 200 and 1,800 more of the first owner in two new namespaces), analyses the table as
autovacuum would, then times `--queries` LoCoMo questions (after 10 untimed) in each scope: wall-clock p50
and p95 of whole searches and the median of each stage.

    nice -n 10 .venv/bin/python -m bench.scoped_search [--baseline REV] [--rounds 2] [--queries 60]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import report
from bench.corpus import load_locomo, varied_texts
from bench.harness import ROOT, code_revision, copy_store, latency_summary, machine_notes, worktree
from bench.search_latency import DEFAULT_DATA_DIR, existing_store
from bench.search_stages import timed_call

STORED_TEXTS = 100_000
SECOND_USER = "bob"
# (owner, namespace, memories stored into it by the phase)
SHELVES = (
    (SECOND_USER, "small", 200),
    (SECOND_USER, "mid", 1800),
    (None, "small", 200),
    (None, "mid", 1800),
)
# (label, owner, namespace): None is the store's own owner and no namespace
SCOPES = (
    ("everything (100,000)", None, None),
    ("a namespace of 10,000", None, "conv-3"),
    ("a namespace of 1,800", None, "mid"),
    ("a namespace of 200", None, "small"),
    ("another user's 2,000", SECOND_USER, None),
    ("another user's namespace of 1,800", SECOND_USER, "mid"),
    ("another user's namespace of 200", SECOND_USER, "small"),
)
STAGES = ("keyword", "vector", "hydrate", "graph")
WARMUP = 10


async def _phase(store_dir: Path, query_count: int) -> dict[str, Any]:
    """One phase in this process, on `store_dir` (a copy), on whichever `novamem` this process imports."""
    os.environ.update(NOVAMEM_DATA_DIR=str(store_dir), NOVAMEM_AUTH_MODE="none", NOVAMEM_JOBS_ENABLED="false")
    from novamem.config import load_settings
    from novamem.container import Container
    from novamem.domain.scope import Caller
    from novamem.services.memory.models import MemoryCreate, SearchRequest

    conversations = load_locomo()
    questions = [q.text for c in conversations for q in c.questions]
    random.Random(5).shuffle(questions)
    started = time.perf_counter()
    container = await Container.build(load_settings(), serving=True)
    startup_s = time.perf_counter() - started
    await _refuse_a_newer_schema(container)
    owner = Caller.public()
    callers = {None: owner, SECOND_USER: Caller(tenant_id=owner.tenant_id, user_id=SECOND_USER, is_operator=True)}
    try:
        # texts after those the search-latency store holds, so none is a duplicate
        extra = sum(rows for _, _, rows in SHELVES)
        texts = itertools.islice(varied_texts(conversations, STORED_TEXTS + extra), STORED_TEXTS, None)
        for who, namespace, rows in SHELVES:
            batch = [MemoryCreate(content=next(texts), namespace=namespace, force=True) for _ in range(rows)]
            for at in range(0, rows, 200):
                await container.memories.remember_many(callers[who], batch[at : at + 200])
        async with container.database.connection() as conn:
            await conn.execute("ANALYZE memory_entries")
        recall = container.recall
        store = recall._store
        walls: dict[str, list[float]] = {stage: [] for stage in STAGES}
        for owner_obj, method, stage in (
            (store, "keyword_hits", "keyword"),
            (store, "hydrate", "hydrate"),
            (recall, "_nearest", "vector"),
            (recall._expansion, "expand", "graph"),
        ):
            setattr(owner_obj, method, timed_call(walls[stage], getattr(owner_obj, method)))
        for question in questions[:30]:  # a server just started on a copy: its buffers are cold
            await recall.search(owner, SearchRequest(query=question, k=10))
        scopes: dict[str, Any] = {}
        for label, who, namespace in SCOPES:
            for question in questions[:WARMUP]:
                await recall.search(callers[who], SearchRequest(query=question, k=10, namespace=namespace))
            for samples in walls.values():
                samples.clear()
            whole: list[float] = []
            for question in questions[WARMUP : WARMUP + query_count]:
                began = time.perf_counter()
                await recall.search(callers[who], SearchRequest(query=question, k=10, namespace=namespace))
                whole.append((time.perf_counter() - began) * 1000)
            scopes[label] = {
                "search": latency_summary(whole),
                "stages_p50_ms": {s: round(statistics.median(v), 2) for s, v in walls.items() if v},
            }
        await recall.close()
    finally:
        await container.close()
    return {"startup_s": round(startup_s, 1), "scopes": scopes}


async def _refuse_a_newer_schema(container: Any) -> None:
    """Exit when the store was migrated past this code's migrations: an older revision timed on a schema
    it never had (its indexes dropped) would measure plans it never ran."""
    from importlib import resources

    folder = resources.files("novamem.storage.postgres") / "migrations"
    known = max(int(item.name.split("_", 1)[0]) for item in folder.iterdir() if item.name.endswith(".sql"))
    async with container.database.connection() as conn:
        cur = await conn.execute("SELECT max(version) AS v FROM schema_migrations")
        row = await cur.fetchone()
    if row is not None and row["v"] is not None and int(row["v"]) > known:
        await container.close()
        raise SystemExit(
            f"the store is at migration {row['v']}, past this code's {known}: rebuild the store"
            " (`bench/search_latency.py` on an empty data dir) with the baseline's code first"
        )


def _run_phase(data_dir: Path, work_dir: Path, src: Path, query_count: int) -> dict[str, Any]:
    """A phase in a process of its own, importing `novamem` from `src`, on a fresh copy of the store."""
    copy = copy_store(data_dir, work_dir / "store")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), str(ROOT)])}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.scoped_search", "--phase", str(copy), "--queries", str(query_count)],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run(data_dir: Path, work_dir: Path, *, baseline: str | None, rounds: int, query_count: int) -> dict[str, Any]:
    codes = {f"{code_revision(ROOT)} (this checkout)": ROOT / "src"}
    if baseline is not None:
        tree = worktree(work_dir, baseline)
        codes = {f"{code_revision(tree)} (baseline)": tree / "src", **codes}
    phases: list[dict[str, Any]] = []
    load_start = os.getloadavg()[0]
    for round_no in range(rounds):
        for label, src in codes.items():
            phase = _run_phase(data_dir, work_dir, src, query_count)
            phases.append({"round": round_no + 1, "code": label, **phase})
            print(report.render_scoped_search_phase(phases[-1]), flush=True)
    return {
        "queries": query_count,
        "phases": phases,
        "load_average_start": round(load_start, 2),
        "machine": machine_notes(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=None, help="a git revision to time alternately with this checkout")
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the codes")
    parser.add_argument("--queries", type=int, default=60, help="timed searches in each scope")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="the search-latency store")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/novamem-scoped-search"), help="copies, checkouts")
    parser.add_argument("--phase", type=Path, default=None, help=argparse.SUPPRESS)  # one phase, on this store copy
    args = parser.parse_args()
    if args.phase is not None:
        print(json.dumps(asyncio.run(_phase(args.phase, args.queries))))
        return
    data_dir = existing_store(args.data_dir)
    result = run(data_dir, args.work_dir, baseline=args.baseline, rounds=args.rounds, query_count=args.queries)
    path = report.save("scoped_search", result)
    print(report.render_scoped_search(result))
    print(f"saved {path}")


if __name__ == "__main__":
    main()
