"""The near-duplicate read of a write (`nearest_active`) in a large and in a new namespace of a large owner.

Runs in this process on the store `bench/search_latency.py` builds (100,000 memories of one owner in ten
namespaces; run that first) and only reads it. For each namespace (one of the ten, a tenth of the rows, and
one that holds nothing yet, as on the first write into a new namespace) it times `--reads` calls of the
store's `nearest_active` with vectors of stored memories, alternating (which goes first alternates too)
with the statement before b539b25,
which left the plan to PostgreSQL's planner (same filter, no count, no plan settings), so both are timed
in the same process on the same warm buffers. p50 / p95 in ms.

    .venv/bin/python -m bench.near_duplicates [--reads 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path
from typing import Any

from bench import report
from bench.harness import latency_summary, machine_notes
from bench.search_latency import DEFAULT_DATA_DIR, existing_store

NAMESPACES = {"a tenth of the store (conv-3)": "conv-3", "a new namespace": "not-written-yet"}


async def run(data_dir: Path, reads: int) -> dict[str, Any]:
    os.environ.update(NOVAMEM_DATA_DIR=str(data_dir), NOVAMEM_AUTH_MODE="none", NOVAMEM_JOBS_ENABLED="false")
    from psycopg import sql

    from novamem.config import load_settings
    from novamem.container import Container
    from novamem.domain.scope import WriteTarget
    from novamem.storage.postgres.database import VectorParam
    from novamem.storage.postgres.memory_table import ENTRY_COLUMNS
    from novamem.storage.postgres.scoping import target_filter

    container = await Container.build(load_settings(), serving=True)
    try:
        store = container.recall._store
        target = WriteTarget("default", "public", None, None)
        async with container.database.connection() as conn:
            cur = await conn.execute(
                "SELECT embedding::text AS v FROM memory_entries WHERE embedding IS NOT NULL ORDER BY id LIMIT %s",
                (reads,),
            )
            vectors = [[float(x) for x in r["v"].strip("[]").split(",")] for r in await cur.fetchall()]
            cur = await conn.execute("SELECT count(*) AS n FROM memory_entries")
            row = await cur.fetchone()
        stored = int(row["n"]) if row else 0
        where, base = target_filter(target)
        before = sql.SQL(
            "SELECT {c}, 1 - ({ev} <=> {qv}) AS cos FROM memory_entries e WHERE {w} AND {m}"
            " AND (e.namespace = %(ns)s OR %(ns)s = ANY(e.namespaces)) AND e.status = 'active'"
            " AND (e.expires_at IS NULL OR e.expires_at > now())"
            " ORDER BY {ev} <=> {qv} LIMIT %(lim)s"
        ).format(c=ENTRY_COLUMNS, ev=store._vec(), qv=store._qvec(), w=where, m=store._model_match())

        async def planner_choice(namespace: str, vector: list[float]) -> None:
            async with container.database.connection() as conn:
                await conn.execute(before, {**base, "ns": namespace, "lim": 5, "qvec": VectorParam(vector)})

        rows: dict[str, dict[str, Any]] = {}
        for label, namespace in NAMESPACES.items():
            now: list[float] = []
            was: list[float] = []
            for i, vector in enumerate(vectors):
                # which goes first alternates: the second read of a vector finds the first one's pages warm
                for which in (0, 1) if i % 2 else (1, 0):
                    started = time.perf_counter()
                    if which == 0:
                        await store.nearest_active(target, namespace, vector, 5)
                    else:
                        await planner_choice(namespace, vector)
                    (now if which == 0 else was).append((time.perf_counter() - started) * 1000)
            rows[label] = {"shelf_plan": latency_summary(now), "planner_choice": latency_summary(was)}
            print(label, rows[label], flush=True)
    finally:
        await container.close()
    return {"memories": stored, "reads": len(vectors), "namespaces": rows, "machine": machine_notes()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=200, help="reads per namespace and statement")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="the search-latency store")
    args = parser.parse_args()
    data_dir = existing_store(args.data_dir)
    result = asyncio.run(run(data_dir, args.reads))
    path = report.save("near_duplicates", result)
    print(report.render_near_duplicates(result))
    print(f"saved {path}")


if __name__ == "__main__":
    main()
