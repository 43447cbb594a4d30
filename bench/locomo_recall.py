"""Retrieval quality on LoCoMo: evidence recall@k and MRR of novamem's presets next to plain BM25.

One namespace per conversation, one memory per dialogue turn (`"Speaker: text"`), stored in order
through `/v1/remember/batch` with the turn's session as a source reference (`locomo:<conversation>:D<n>`).
Every question whose evidence ids are real dialogue ids is searched within its conversation's namespace.
The presets of `search/presets.py` are sent as request weights; the BM25
baseline (Okapi, k1=1.5, b=0.75, lower-cased word tokens) runs in this process over the same turns.

    .venv/bin/python -m bench.locomo_recall [--conversations 10]

Optional retrieval stages, measured in the same run when an endpoint is given (`--rerank-endpoint`,
`--decomp-endpoint`; keys are read from the environment variable named by `--*-api-key-env`): the
preset rows then send `rerank: false`, and extra `novamem hybrid + rerank` / `+ decompose` rows use the
stage. Every row reports milliseconds per query (at the run's search concurrency) and how many answers
were degraded (a stage that failed: those rows measure the fallback, not the stage).

Each turn is stored with its session's date (`session_N_date_time`) as `occurredAt` (`--no-occurred-at`
stores it as a client that does not send one would). Rows `novamem hybrid, time W` repeat the hybrid
preset with the time weight W (`--time-weights`), so the time boost is measured with and without it
in one run; rows `novamem hybrid, graph W` do the same for the graph weight (`--graph-weights`).

To compare with earlier code, run it against an export of that code and save it under another name:
`PYTHONPATH=/tmp/old/src .venv/bin/python -m bench.locomo_recall --save-as locomo_recall_before --code 'commit abc123'`.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import statistics
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from bench import report
from bench.corpus import CATEGORY_NAMES, Conversation, Question, load_locomo
from bench.harness import machine_notes, remember_batches, running_server, search_all
from novamem.search.presets import PRESETS

KS = (1, 5, 10, 25)
SEARCH_CONCURRENCY = 4
_WORD = re.compile(r"\w+")

Ranking = list[set[str]]  # dialogue ids of each result, best first


class BM25:
    """Okapi BM25 over lower-cased word tokens, as in the `rank-bm25` package's defaults."""

    def __init__(self, texts: Sequence[str], k1: float = 1.5, b: float = 0.75) -> None:
        self._docs = [Counter(_WORD.findall(t.lower())) for t in texts]
        self._lengths = [sum(d.values()) for d in self._docs]
        self._avg = sum(self._lengths) / max(len(self._docs), 1)
        df: Counter[str] = Counter()
        for doc in self._docs:
            df.update(doc.keys())
        n = len(self._docs)
        self._idf = {t: math.log((n - f + 0.5) / (f + 0.5) + 1) for t, f in df.items()}
        self._k1, self._b = k1, b

    def rank(self, query: str) -> list[int]:
        terms = _WORD.findall(query.lower())
        scores = []
        for doc, length in zip(self._docs, self._lengths, strict=True):
            norm = self._k1 * (1 - self._b + self._b * length / self._avg)
            score = sum(self._idf[t] * doc[t] * (self._k1 + 1) / (doc[t] + norm) for t in terms if t in doc)
            scores.append(score)
        return sorted(range(len(scores)), key=lambda i: -scores[i])


class Scores:
    """Evidence recall@k, hit@k and MRR, overall and per question category."""

    def __init__(self) -> None:
        self._rows: list[tuple[int, dict[int, float], dict[int, bool], float]] = []
        self.ms: list[float] = []  # the search's wall time per question, where the server answered it
        self.degraded = 0

    def add(self, question: Question, ranking: Ranking) -> None:
        evidence = set(question.evidence)
        recall, hit = {}, {}
        for k in KS:
            found = set().union(*ranking[:k]) & evidence if ranking else set()
            recall[k] = len(found) / len(evidence)
            hit[k] = bool(found)
        first = next((i for i, ids in enumerate(ranking) if ids & evidence), None)
        self._rows.append((question.category, recall, hit, 0.0 if first is None else 1 / (first + 1)))

    @staticmethod
    def _summary(rows: list[tuple[int, dict[int, float], dict[int, bool], float]]) -> dict[str, Any]:
        n = max(len(rows), 1)
        return {
            "questions": len(rows),
            "recall": {str(k): sum(r[1][k] for r in rows) / n for k in KS},
            "hit": {str(k): sum(r[2][k] for r in rows) / n for k in KS},
            "mrr": sum(r[3] for r in rows) / n,
        }

    def summary(self) -> dict[str, Any]:
        result = self._summary(self._rows)
        result["by_category"] = {
            str(c): self._summary([r for r in self._rows if r[0] == c]) for c in sorted(CATEGORY_NAMES)
        }
        if self.ms:
            result["ms_per_query"] = {"mean": statistics.fmean(self.ms), "p50": statistics.median(self.ms)}
            result["degraded_answers"] = self.degraded
        return result


def occurred_at(session_date: str) -> str | None:
    """A LoCoMo session date (`1:56 pm on 8 May, 2023`) as ISO-8601 in UTC (the dataset names no zone)."""
    try:
        moment = datetime.strptime(session_date.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)
    except ValueError:
        return None
    return moment.isoformat().replace("+00:00", "Z")


async def _store(
    client: httpx.AsyncClient, conversations: list[Conversation], *, with_dates: bool = True
) -> dict[str, set[str]]:
    """Remember every turn (with its session date as `occurredAt` unless `with_dates` is false) as a client
    that stores transcripts does: in order, through `/v1/remember/batch`, each turn naming its session as a
    source reference. Returns the dialogue ids behind each memory id (repeated lines share one)."""
    items = [
        (
            f"{c.sample_id}|{t.dia_id}",
            {
                "content": t.content,
                "namespace": _namespace(c),
                "force": True,
                "sensitivity": "private",
                "metadata": {"diaId": t.dia_id, "sessionDate": t.session_date},
                "sourceRefs": [f"locomo:{c.sample_id}:{t.dia_id.split(':', 1)[0]}"],
                **({"occurredAt": when} if with_dates and (when := occurred_at(t.session_date)) else {}),
            },
        )
        for c in conversations
        for t in c.turns
    ]
    # one client, so the turns of a session are written in order (the graph stage reads a turn's neighbours)
    stats = await remember_batches(client, items, concurrency=1)
    if stats.rejected or stats.not_embedded:
        raise RuntimeError(f"load was not clean: {stats}")
    dia_ids: dict[str, set[str]] = {}
    for key, memory_id in stats.ids.items():
        dia_ids.setdefault(memory_id, set()).add(key.split("|", 1)[1])
    print(f"stored {len(items)} turns in {stats.seconds:.0f}s ({stats.deduplicated} repeated lines)", flush=True)
    return dia_ids


def _namespace(conversation: Conversation) -> str:
    return "locomo-" + re.sub(r"[^a-z0-9._:-]", "-", conversation.sample_id.lower())


async def _search_all(
    client: httpx.AsyncClient,
    conversations: list[Conversation],
    weights: dict[str, float],
    dia_ids: dict[str, set[str]],
    stages: dict[str, bool] | None = None,
) -> Scores:
    """`stages`: request fields of the optional stages (`rerank`, `decompose`), sent with every search."""
    jobs = [(c, q) for c in conversations for q in c.questions]
    bodies = [
        {"query": q.text, "namespace": _namespace(c), "k": max(KS), "weights": weights, **(stages or {})}
        for c, q in jobs
    ]
    run = await search_all(client, bodies, SEARCH_CONCURRENCY)
    scores = Scores()
    scores.ms, scores.degraded = run.ms, run.degraded
    for (_, question), ids in zip(jobs, run.results, strict=True):
        scores.add(question, [dia_ids[i] for i in ids])
    return scores


def _bm25_scores(conversations: list[Conversation]) -> Scores:
    scores = Scores()
    for conversation in conversations:
        index = BM25([t.content for t in conversation.turns])
        for question in conversation.questions:
            order = index.rank(question.text)[: max(KS)]
            scores.add(question, [{conversation.turns[i].dia_id} for i in order])
    return scores


def _stage_settings(args: argparse.Namespace) -> dict[str, str]:
    """Server settings of the optional stages the command line names (none: the stages stay off)."""
    settings: dict[str, str] = {}
    if args.rerank_endpoint:
        settings.update(rerank_enabled="1", rerank_endpoint=args.rerank_endpoint, rerank_format=args.rerank_format)
        if args.rerank_model:
            settings["rerank_model"] = args.rerank_model
        if args.rerank_api_key_env:
            settings["rerank_api_key"] = os.environ[args.rerank_api_key_env]
    if args.decomp_endpoint:
        settings.update(
            query_decomp_enabled="1", query_decomp_endpoint=args.decomp_endpoint, query_decomp_model=args.decomp_model
        )
        if args.decomp_api_key_env:
            settings["query_decomp_api_key"] = os.environ[args.decomp_api_key_env]
    return settings


def _stage_rows(settings: dict[str, str]) -> dict[str, dict[str, bool]]:
    """The extra rows measured with the optional stages that are configured, with their request fields."""
    rows: dict[str, dict[str, bool]] = {}
    if "rerank_endpoint" in settings:
        rows["novamem hybrid + rerank"] = {"rerank": True}
    if "query_decomp_endpoint" in settings:
        rows["novamem hybrid + decompose"] = {"rerank": False, "decompose": True}
    if len(rows) == 2:
        rows["novamem hybrid + rerank + decompose"] = {"rerank": True, "decompose": True}
    return rows


async def run(
    limit: int | None,
    stage_settings: dict[str, str] | None = None,
    *,
    with_dates: bool = True,
    time_weights: Sequence[float] = (),
    graph_weights: Sequence[float] = (),
) -> dict[str, Any]:
    conversations = load_locomo()[:limit]
    stage_settings = stage_settings or {}
    result: dict[str, Any] = {
        "conversations": len(conversations),
        "turns": sum(len(c.turns) for c in conversations),
        "questions": sum(len(c.questions) for c in conversations),
        "skipped": sum(c.skipped_questions for c in conversations),
        "ks": list(KS),
        "primary": "novamem hybrid",
        "baseline": "BM25 (plain)",
        "categories": [
            {"id": c, "name": name, "questions": sum(1 for v in conversations for q in v.questions if q.category == c)}
            for c, name in sorted(CATEGORY_NAMES.items())
        ],
        "machine": machine_notes(),
        "occurred_at": with_dates,
    }
    summaries: dict[str, dict[str, Any]] = {}
    plain = {"rerank": False} if "rerank_endpoint" in stage_settings else None
    with running_server("locomo_recall", None, **stage_settings) as server:
        async with server.client() as client:
            dia_ids = await _store(client, conversations, with_dates=with_dates)
            for name, strategy in PRESETS.items():
                scores = await _search_all(client, conversations, strategy.weights.model_dump(), dia_ids, plain)
                summaries[f"novamem {name}"] = scores.summary()
                _progress(f"novamem {name}", summaries[f"novamem {name}"])
            extra = [("time", w) for w in time_weights] + [("graph", w) for w in graph_weights]
            for signal, weight in extra:
                row = f"novamem hybrid, {signal} {weight:g}"
                weights = {**PRESETS["hybrid"].weights.model_dump(), signal: weight}
                summaries[row] = (await _search_all(client, conversations, weights, dia_ids, plain)).summary()
                _progress(row, summaries[row])
            for row, fields in _stage_rows(stage_settings).items():
                weights = PRESETS["hybrid"].weights.model_dump()
                summaries[row] = (await _search_all(client, conversations, weights, dia_ids, fields)).summary()
                _progress(row, summaries[row])
    summaries["BM25 (plain)"] = _bm25_scores(conversations).summary()
    result["systems"] = summaries
    result["machine"]["load_average_end"] = machine_notes()["load_average"]
    return result


def _progress(name: str, summary: dict[str, Any]) -> None:
    ms = summary.get("ms_per_query", {})
    print(
        f"{name}: recall@10 {summary['recall']['10']:.3f}, MRR {summary['mrr']:.3f}, "
        f"{ms.get('mean', 0):.1f} ms/query mean, {ms.get('p50', 0):.1f} p50, "
        f"{summary.get('degraded_answers', 0)} degraded",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=None, help="only the first N conversations")
    parser.add_argument(
        "--save-as",
        default="locomo_recall",
        help="result name; 'locomo_recall_before' is shown on the page as the earlier code's figures",
    )
    parser.add_argument("--code", default="working tree", help="which code was measured, for the page")
    parser.add_argument(
        "--no-occurred-at", action="store_true", help="store the turns without their session date as occurredAt"
    )
    parser.add_argument(
        "--time-weights",
        default="",
        help="comma-separated time weights, each measured as an extra hybrid row (e.g. 0,0.05,0.2)",
    )
    parser.add_argument(
        "--graph-weights",
        default="",
        help="comma-separated graph weights, each measured as an extra hybrid row (e.g. 0.1,0.2)",
    )
    stages = parser.add_argument_group("optional retrieval stages (measured only when an endpoint is given)")
    stages.add_argument("--rerank-endpoint", help="full URL of a /rerank endpoint")
    stages.add_argument("--rerank-model", help="model name (required with the cohere format)")
    stages.add_argument("--rerank-format", choices=["cohere", "tei"], default="cohere")
    stages.add_argument("--rerank-api-key-env", help="name of the environment variable holding the reranker key")
    stages.add_argument("--decomp-endpoint", help="base URL of an OpenAI-compatible API for query decomposition")
    stages.add_argument("--decomp-model", help="chat model name for query decomposition")
    stages.add_argument("--decomp-api-key-env", help="name of the environment variable holding that API's key")
    args = parser.parse_args()
    if args.decomp_endpoint and not args.decomp_model:
        parser.error("--decomp-endpoint needs --decomp-model")
    time_weights = [float(w) for w in args.time_weights.split(",") if w.strip()]
    graph_weights = [float(w) for w in args.graph_weights.split(",") if w.strip()]
    result = asyncio.run(
        run(
            args.conversations,
            _stage_settings(args),
            with_dates=not args.no_occurred_at,
            time_weights=time_weights,
            graph_weights=graph_weights,
        )
    )
    result["code"] = args.code
    report.save(args.save_as, result)
    print(report.render_locomo(result))


if __name__ == "__main__":
    main()
