"""Fact consolidation, the dream cycle's second step (reference §7.3), when LLM fact extraction is on.

One pass: claim the next `FACT_WALK` active facts after the persisted cursor (the cursor moves before any
work, so a fact that makes a pass fail cannot stop the next one); cluster each with its `FACT_NEIGHBOURS`
nearest active facts at cosine `FACT_CLUSTER_COSINE` or more in its own tenant and owner; ask the chat model,
`CLUSTERS_PER_CALL` clusters a call, which fact is an outdated version of another; retire each judged fact in
favour of its replacement, one transaction per call's verdicts.

Up to `concurrency` calls are in flight at once (the container passes `NOVAMEM_EXTRACTION_MAX_CONCURRENT`);
each call's verdicts are applied as its answer comes, one call's transaction at a time, and the storage
re-checks every pair under row locks, so a fact that sits in two clusters judged by two calls is retired by
whichever verdict applies first and the other finds it retired and changes nothing.

The model never blocks or breaks the pass: each answer has the extraction time limit; a model that is down
or too slow ends the judging for this pass (no further call is made and the calls already in flight finish;
the rest of the dream cycle carries on, and the next pass walks on), and an answer without a JSON array
judges nothing for its clusters while the other calls' verdicts still apply. The fact texts are PII-redacted
before they leave.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from novamem.domain.fact_consolidation import (
    CLUSTERS_PER_CALL,
    CONSOLIDATION_MAX_TOKENS,
    CONSOLIDATION_PROMPT,
    FACT_CLUSTER_COSINE,
    FACT_NEIGHBOURS,
    FACT_WALK,
    FactMember,
    consolidation_input,
    distinct_clusters,
    parse_supersessions,
)
from novamem.domain.facts import PiiRedactor
from novamem.errors import Unavailable
from novamem.services.memory.decompose import ChatReplier
from novamem.storage.fact_consolidation import FactConsolidationStore

__all__ = ["FactConsolidation", "FactConsolidator"]

log = logging.getLogger("novamem.dream")


@dataclass(frozen=True, slots=True)
class FactConsolidation:
    """One pass's counts: facts walked, clusters the model judged, facts retired."""

    walked: int = 0
    clusters_judged: int = 0
    superseded: int = 0


@dataclass(slots=True)
class _Judging:
    """One pass's judging, shared by its workers: the batches not taken yet, the running counts, and the lock
    that applies one call's verdicts at a time."""

    batches: Iterator[Sequence[Sequence[FactMember]]]
    judged: int = 0
    superseded: int = 0
    stopped: bool = False
    applying: asyncio.Lock = field(default_factory=asyncio.Lock)


class FactConsolidator:
    """Retires facts the chat model judges outdated by a newer fact of the same subject and attribute."""

    def __init__(
        self,
        store: FactConsolidationStore,
        chat: ChatReplier,
        *,
        timeout_s: float,
        walk: int = FACT_WALK,
        neighbours: int = FACT_NEIGHBOURS,
        per_call: int = CLUSTERS_PER_CALL,
        concurrency: int = 1,
        redactor: PiiRedactor | None = None,
    ) -> None:
        self._store = store
        self._concurrency = max(1, concurrency)
        self._chat = chat
        self._timeout_s = timeout_s
        self._walk = walk
        self._neighbours = neighbours
        self._per_call = per_call
        self._redactor = redactor or PiiRedactor()

    async def run(self) -> FactConsolidation:
        """One pass: walk, cluster, judge and retire (database errors propagate; model failures do not)."""
        walked = await self._store.take_fact_walk(self._walk)
        groups = await self._store.fact_clusters(walked, self._neighbours, FACT_CLUSTER_COSINE)
        clusters = distinct_clusters(groups)
        batches = [clusters[start : start + self._per_call] for start in range(0, len(clusters), self._per_call)]
        judging = _Judging(iter(batches))
        workers = [asyncio.create_task(self._judge(judging)) for _ in range(min(self._concurrency, len(batches)))]
        try:
            await asyncio.gather(*workers)  # the first database error propagates ...
        finally:
            for worker in workers:  # ... and the other calls are given up
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        return FactConsolidation(walked=len(walked), clusters_judged=judging.judged, superseded=judging.superseded)

    async def _judge(self, judging: _Judging) -> None:
        """One worker: take the next batch, ask the model, apply its verdicts; until no batch is left or the
        model failed (down or too slow: asking again now would only wait as long again)."""
        for batch in judging.batches:  # one shared iterator: every batch is taken by exactly one worker
            if judging.stopped:
                return
            answer = await self._ask(batch)
            if answer is None:
                judging.stopped = True
                return
            verdicts = parse_supersessions(answer, batch)
            if verdicts is None:
                log.warning("fact consolidation skipped %d clusters: the answer held no JSON array", len(batch))
                continue
            async with judging.applying:
                judging.superseded += await self._store.supersede(verdicts)
            judging.judged += len(batch)

    async def _ask(self, batch: Sequence[Sequence[FactMember]]) -> str | None:
        """The model's answer on one batch, or None when it is down or gave none within the time limit."""
        prompt = consolidation_input(batch, self._redactor.redact)
        try:
            async with asyncio.timeout(self._timeout_s):
                return await self._chat.reply(CONSOLIDATION_PROMPT, prompt, max_tokens=CONSOLIDATION_MAX_TOKENS)
        except Unavailable as exc:
            log.warning("fact consolidation stopped for this pass: %s", exc.message)
        except TimeoutError:
            log.warning("fact consolidation stopped for this pass: no answer within %.0f ms", self._timeout_s * 1000)
        return None

    async def close(self) -> None:
        """Close the chat model's connections."""
        await self._chat.close()
