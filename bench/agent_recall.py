"""Retrieval quality on agent memory: updated facts, preferences, paraphrased setup facts, two-memory joins.

The dataset is made by `bench/agent_corpus.py` (templates filled in from a fixed seed; no LoCoMo text).
Each project is one namespace of one user; its memories are stored through `/v1/remember` in time order,
each with its `occurredAt` (one sequential client per namespace, the namespaces in parallel). Every
question is searched within its project's namespace. Metrics are those of `bench/locomo_recall.py`
(evidence recall@k, hit@k, MRR), per category and overall, plus:

- **all@k**: the share of questions whose evidence is all in the top k (for two-memory questions: both);
- **stale above newest** (updated facts): the share of questions where an older, superseded version of
  the fact ranks above the newest one in the top 25 (or is there while the newest is not).

Rows: novamem's presets (`search/presets.py` weights sent with each request), plain BM25 computed in this
process (the `BM25` of `bench/locomo_recall.py`), `novamem hybrid, graph W` / `recency W` rows for the
weights given with `--graph-weights` / `--recency-weights`, and the default again after one dream cycle
(`POST /v1/dream-cycle`: near-copies merged, `co_inferred` edges promoted), to show that the cycle keeps
the newest version of an updated fact on top.

    nice -n 10 .venv/bin/python -m bench.agent_recall [--seed 20261203]

To compare with earlier code, run it against an export of that code and save it under another name:
`PYTHONPATH=/tmp/old/src .venv/bin/python -m bench.agent_recall --save-as agent_recall_before --code 'commit abc123'`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Sequence
from typing import Any

import httpx

from bench import report
from bench.agent_corpus import (
    CATEGORIES,
    DEFAULT_SEED,
    NOTES_PER_PROJECT,
    PARAPHRASE_QUESTIONS,
    SETUP_FACTS_PER_PROJECT,
    AgentQuestion,
    Project,
    build_projects,
    template_counts,
)
from bench.harness import LoadStats, machine_notes, remember_all, running_server, search_all
from bench.locomo_recall import BM25, KS
from novamem.search.presets import PRESETS

SEARCH_CONCURRENCY = 4
STALE_DEPTH = max(KS)

Ranking = list[set[str]]  # memory keys of each result, best first
_Row = tuple[str, dict[int, float], dict[int, bool], dict[int, bool], float, bool | None]


class AgentScores:
    """Evidence recall@k, hit@k, all@k and MRR per category, and the stale-above-newest rate."""

    def __init__(self) -> None:
        self._rows: list[_Row] = []
        self.ms: list[float] = []
        self.degraded = 0

    def add(self, question: AgentQuestion, ranking: Ranking) -> None:
        evidence = set(question.evidence)
        recall, hit, complete = {}, {}, {}
        for k in KS:
            found = set().union(*ranking[:k]) & evidence if ranking else set()
            recall[k] = len(found) / len(evidence)
            hit[k] = bool(found)
            complete[k] = found == evidence
        first = next((i for i, keys in enumerate(ranking) if keys & evidence), None)
        stale = None
        if question.superseded:
            top = ranking[:STALE_DEPTH]
            newest = next((i for i, keys in enumerate(top) if keys & evidence), len(top))
            stale = any(keys & set(question.superseded) for keys in top[:newest])
        mrr = 0.0 if first is None else 1 / (first + 1)
        self._rows.append((question.category, recall, hit, complete, mrr, stale))

    @staticmethod
    def _summary(rows: list[_Row]) -> dict[str, Any]:
        n = max(len(rows), 1)
        stale = [r[5] for r in rows if r[5] is not None]
        result: dict[str, Any] = {
            "questions": len(rows),
            "recall": {str(k): sum(r[1][k] for r in rows) / n for k in KS},
            "hit": {str(k): sum(r[2][k] for r in rows) / n for k in KS},
            "all": {str(k): sum(r[3][k] for r in rows) / n for k in KS},
            "mrr": sum(r[4] for r in rows) / n,
        }
        if stale:
            result["stale_above_newest"] = sum(stale) / len(stale)
        return result

    def summary(self) -> dict[str, Any]:
        result = self._summary(self._rows)
        result["by_category"] = {c: self._summary([r for r in self._rows if r[0] == c]) for c in CATEGORIES}
        if self.ms:
            result["ms_per_query"] = {"mean": statistics.fmean(self.ms), "p50": statistics.median(self.ms)}
            result["degraded_answers"] = self.degraded
        return result


async def _store(client: httpx.AsyncClient, projects: list[Project]) -> dict[str, set[str]]:
    """Remember every memory in time order (one client per namespace); returns the keys behind each id."""

    async def load(project: Project) -> LoadStats:
        items = [
            (
                m.key,
                {
                    "content": m.text,
                    "namespace": project.namespace,
                    "force": True,
                    "sensitivity": "private",
                    "occurredAt": m.occurred_at_iso,
                    "metadata": {"benchKey": m.key},
                },
            )
            for m in project.memories
        ]
        return await remember_all(client, items, concurrency=1)

    started = time.perf_counter()
    loads = await asyncio.gather(*(load(p) for p in projects))
    keys: dict[str, set[str]] = {}
    for stats in loads:
        if stats.rejected or stats.not_embedded or stats.deduplicated:
            raise RuntimeError(f"load was not clean: {stats}")
        for key, memory_id in stats.ids.items():
            keys.setdefault(memory_id, set()).add(key)
    count = sum(len(p.memories) for p in projects)
    print(f"stored {count} memories in {time.perf_counter() - started:.0f}s", flush=True)
    return keys


async def _search_all(
    client: httpx.AsyncClient, projects: list[Project], weights: dict[str, float], keys: dict[str, set[str]]
) -> AgentScores:
    jobs = [(p, q) for p in projects for q in p.questions]
    bodies = [{"query": q.text, "namespace": p.namespace, "k": max(KS), "weights": weights} for p, q in jobs]
    run = await search_all(client, bodies, SEARCH_CONCURRENCY)
    scores = AgentScores()
    scores.ms, scores.degraded = run.ms, run.degraded
    for (_, question), ids in zip(jobs, run.results, strict=True):
        scores.add(question, [keys[i] for i in ids])
    return scores


def _bm25_scores(projects: list[Project]) -> AgentScores:
    scores = AgentScores()
    for project in projects:
        index = BM25([m.text for m in project.memories])
        for question in project.questions:
            order = index.rank(question.text)[: max(KS)]
            scores.add(question, [{project.memories[i].key} for i in order])
    return scores


def _dataset(projects: list[Project], seed: int) -> dict[str, Any]:
    questions = [q for p in projects for q in p.questions]
    updated = [q for q in questions if q.superseded]
    return {
        "seed": seed,
        "projects": len(projects),
        "memories": sum(len(p.memories) for p in projects),
        "questions": len(questions),
        "categories": [{"name": c, "questions": sum(q.category == c for q in questions)} for c in CATEGORIES],
        "templates": template_counts(),
        "updated_with_three_versions": sum(len(q.superseded) == 2 for q in updated),
        # a ranking that ignores time puts some older version above the newest this often
        "stale_by_chance": sum(len(q.superseded) / (len(q.superseded) + 1) for q in updated) / max(len(updated), 1),
        "setup_facts_stored": SETUP_FACTS_PER_PROJECT,
        "setup_facts_asked": PARAPHRASE_QUESTIONS,
        "notes_per_project": NOTES_PER_PROJECT,
        "first_occurred_at": min(m.occurred_at_iso for p in projects for m in p.memories),
        "last_occurred_at": max(m.occurred_at_iso for p in projects for m in p.memories),
        "examples": {c: next(q.text for q in questions if q.category == c) for c in CATEGORIES},
    }


async def run(seed: int, graph_weights: Sequence[float] = (), recency_weights: Sequence[float] = ()) -> dict[str, Any]:
    projects = build_projects(seed)
    result: dict[str, Any] = {
        **_dataset(projects, seed),
        "ks": list(KS),
        "primary": "novamem hybrid",
        "baseline": "BM25 (plain)",
        "machine": machine_notes(),
    }
    summaries: dict[str, dict[str, Any]] = {}
    with running_server("agent_recall") as server:
        async with server.client() as client:
            keys = await _store(client, projects)
            for name, strategy in PRESETS.items():
                summaries[f"novamem {name}"] = (
                    await _search_all(client, projects, strategy.weights.model_dump(), keys)
                ).summary()
                _progress(f"novamem {name}", summaries[f"novamem {name}"])
            extra = [("graph", w) for w in graph_weights] + [("recency", w) for w in recency_weights]
            for signal, weight in extra:
                row = f"novamem hybrid, {signal} {weight:g}"
                weights = {**PRESETS["hybrid"].weights.model_dump(), signal: weight}
                summaries[row] = (await _search_all(client, projects, weights, keys)).summary()
                _progress(row, summaries[row])
            # over time: a dream cycle (near-copies merged, edges promoted), then the same questions again
            dream = await client.post("/v1/dream-cycle")
            if dream.status_code != 200:
                raise RuntimeError(f"dream cycle answered {dream.status_code}: {dream.text[:200]}")
            result["dream_cycle"] = dream.json()
            if result["dream_cycle"]["merged"]:
                raise RuntimeError("the dream cycle merged memories of this dataset: their keys would need mapping")
            row = "novamem hybrid, after a dream cycle"
            summaries[row] = (
                await _search_all(client, projects, PRESETS["hybrid"].weights.model_dump(), keys)
            ).summary()
            _progress(row, summaries[row])
    summaries["BM25 (plain)"] = _bm25_scores(projects).summary()
    _progress("BM25 (plain)", summaries["BM25 (plain)"])
    result["systems"] = summaries
    result["machine"]["load_average_end"] = machine_notes()["load_average"]
    return result


def _progress(name: str, summary: dict[str, Any]) -> None:
    ms = summary.get("ms_per_query", {})
    cats = ", ".join(f"{c} {m['recall']['10']:.3f}" for c, m in summary["by_category"].items())
    print(
        f"{name}: recall@10 {summary['recall']['10']:.3f}, MRR {summary['mrr']:.3f}, "
        f"stale {summary.get('stale_above_newest', 0):.3f} ({cats}), {ms.get('mean', 0):.1f} ms/query",
        flush=True,
    )


def _weights(text: str) -> list[float]:
    return [float(w) for w in text.split(",") if w.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="the dataset's random seed")
    parser.add_argument("--save-as", default="agent_recall", help="result name under bench/results")
    parser.add_argument("--code", default="working tree", help="which code was measured, for the page")
    parser.add_argument(
        "--graph-weights",
        default="0,0.1,0.2",
        help="comma-separated graph weights, each measured as an extra hybrid row ('' for none)",
    )
    parser.add_argument(
        "--recency-weights",
        default="0,0.2",
        help="comma-separated recency weights, each measured as an extra hybrid row ('' for none)",
    )
    args = parser.parse_args()
    result = asyncio.run(run(args.seed, _weights(args.graph_weights), _weights(args.recency_weights)))
    result["code"] = args.code
    report.save(args.save_as, result)
    print(report.render_agent_recall(result))


if __name__ == "__main__":
    main()
