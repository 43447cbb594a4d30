"""What `occurredAt` and the time boost do on LoCoMo: evidence recall@k and MRR per question category.

Two servers, one after the other, each loaded with every LoCoMo turn as `bench/locomo_recall.py` does
(one namespace per conversation, one memory per turn):

1. **before**: the turns stored without `occurredAt`, as a client that does not send it (and the code
   before it existed: recency from the update time, which is the load time for every turn; no window
   of a question can match a 2023 conversation stored today). Searched with the hybrid preset.
2. **after**: each turn stored with its session's date (`session_N_date_time`) as `occurredAt`, then
   searched with the hybrid preset at each time weight of `--time-weights` (0 is "dates stored, no
   boost"), in the same run.

    nice -n 10 .venv/bin/python -m bench.locomo_time [--conversations 10] [--time-weights 0,0.05,0.1,0.2,0.3]
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from bench import report
from bench.corpus import CATEGORY_NAMES, load_locomo
from bench.harness import machine_notes, running_server
from bench.locomo_recall import KS, _search_all, _store
from novamem.search.presets import DEFAULT_TIME_WEIGHT, PRESETS

DEFAULT_WEIGHTS_TRIED = (0.0, 0.05, 0.1, 0.2, 0.3)
BEFORE = "before: no occurredAt"


def _after(weight: float) -> str:
    return f"occurredAt, time {weight:g}"


async def run(limit: int | None, time_weights: tuple[float, ...]) -> dict[str, Any]:
    conversations = load_locomo()[:limit]
    result: dict[str, Any] = {
        "conversations": len(conversations),
        "turns": sum(len(c.turns) for c in conversations),
        "questions": sum(len(c.questions) for c in conversations),
        "ks": list(KS),
        "default_time_weight": DEFAULT_TIME_WEIGHT,
        "before": BEFORE,
        "categories": [
            {"id": c, "name": name, "questions": sum(1 for v in conversations for q in v.questions if q.category == c)}
            for c, name in sorted(CATEGORY_NAMES.items())
        ],
        "machine": machine_notes(),
    }
    hybrid = PRESETS["hybrid"].weights.model_dump()
    systems: dict[str, dict[str, Any]] = {}
    for with_dates in (False, True):
        with running_server("locomo_time") as server:
            async with server.client() as client:
                dia_ids = await _store(client, conversations, with_dates=with_dates)
                rows = [(_after(w), {**hybrid, "time": w}) for w in time_weights] if with_dates else [(BEFORE, hybrid)]
                for name, weights in rows:
                    systems[name] = (await _search_all(client, conversations, weights, dia_ids)).summary()
                    summary = systems[name]
                    temporal = summary["by_category"]["2"]
                    print(
                        f"{name}: recall@10 {summary['recall']['10']:.3f}, MRR {summary['mrr']:.3f};"
                        f" temporal recall@10 {temporal['recall']['10']:.3f}, MRR {temporal['mrr']:.3f}",
                        flush=True,
                    )
    result["systems"] = systems
    result["machine"]["load_average_end"] = machine_notes()["load_average"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=None, help="only the first N conversations")
    parser.add_argument(
        "--time-weights",
        default=",".join(f"{w:g}" for w in DEFAULT_WEIGHTS_TRIED),
        help="comma-separated time weights measured after occurredAt is stored",
    )
    parser.add_argument("--code", default="working tree", help="which code was measured, for the page")
    args = parser.parse_args()
    weights = tuple(float(w) for w in args.time_weights.split(",") if w.strip())
    result = asyncio.run(run(args.conversations, weights))
    result["code"] = args.code
    report.save("locomo_time", result)
    print(report.render_locomo_time(result))


if __name__ == "__main__":
    main()
