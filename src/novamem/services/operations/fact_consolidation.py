"""Fact consolidation, the dream cycle's second step (reference §7.3), when LLM fact extraction is on.

One pass: claim the next `FACT_WALK` active facts after the persisted cursor (the cursor moves before any
work, so a fact that makes a pass fail cannot stop the next one); cluster each with its `FACT_NEIGHBOURS`
nearest active facts at cosine `FACT_CLUSTER_COSINE` or more in its own tenant and owner; ask the chat model,
`CLUSTERS_PER_CALL` clusters a call, which fact is an outdated version of another; retire each judged fact in
favour of its replacement, one transaction per call's verdicts.

The model never blocks or breaks the pass: each answer has the extraction time limit; a model that is down
or too slow ends the judging for this pass (the rest of the dream cycle carries on, and the next pass walks
on), and an answer without a JSON array judges nothing. The fact texts are PII-redacted before they leave.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

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
        redactor: PiiRedactor | None = None,
    ) -> None:
        self._store = store
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
        judged = superseded = 0
        for start in range(0, len(clusters), self._per_call):
            batch = clusters[start : start + self._per_call]
            answer = await self._ask(batch)
            if answer is None:
                break  # down or too slow: asking again now would only wait as long again
            verdicts = parse_supersessions(answer, batch)
            if verdicts is None:
                log.warning("fact consolidation skipped %d clusters: the answer held no JSON array", len(batch))
                continue
            judged += len(batch)
            superseded += await self._store.supersede(verdicts)
        return FactConsolidation(walked=len(walked), clusters_judged=judged, superseded=superseded)

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
