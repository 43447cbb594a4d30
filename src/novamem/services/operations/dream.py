"""The dream cycle: daily compaction of the memory store (reference §7.3).

One pass, bounded whatever the store size:
1. **Dedup-merge.** Claim the next `DREAM_WALK` mergeable entries after the persisted cursor (the cursor
   moves before any work, so an entry that makes a pass fail cannot stop the next one); find each one's
   `DREAM_NEIGHBOURS` nearest neighbours in its own tenant, owner and namespace; fold every duplicate
   (`domain.dream.is_duplicate`) into the copy with more hits (the older on a tie).
2. **Fact consolidation** (only with LLM fact extraction on; its counts are 0 otherwise): the chat model
   judges clusters of near facts and each outdated fact is retired in favour of its replacement
   (`services.operations.fact_consolidation`).
3. **Edge promotion.** A `co_inferred` edge between every two entries of one owner that share at least
   three `co_occurs` neighbours (one SQL statement).

Deployment work: the scheduler runs it every 24 hours on the leader replica only, on a task of its own so
a long pass never holds up the short jobs (and cancelled when leadership is lost), and an operator may run
it now (`POST /v1/dream-cycle`). Fact consolidation's model calls run several at a time
(`NOVAMEM_EXTRACTION_MAX_CONCURRENT`). Two passes at once stay correct (each claims its own walk; merges lock
their rows and re-check them).
"""

from __future__ import annotations

import logging
import time

from novamem.domain.dream import DREAM_NEIGHBOURS, DREAM_WALK, plan_merges
from novamem.domain.scope import Caller
from novamem.services.operations.admin import AdminService, JobName, require_operator
from novamem.services.operations.fact_consolidation import FactConsolidation, FactConsolidator
from novamem.services.operations.operator_models import DreamCycleResponse
from novamem.storage.dream import DreamStore

__all__ = ["DREAM_INTERVAL_S", "DreamService"]

log = logging.getLogger("novamem.dream")

# fixed, as the reference has it: a compaction a day is the design, not a tuning knob
DREAM_INTERVAL_S = 24 * 3600.0


class DreamService:
    """Runs dream-cycle passes: on the daily schedule (`run_pass`) or for an operator (`run`)."""

    def __init__(
        self,
        store: DreamStore,
        *,
        admin: AdminService | None = None,
        walk: int = DREAM_WALK,
        neighbours: int = DREAM_NEIGHBOURS,
        facts: FactConsolidator | None = None,
    ) -> None:
        self._store = store
        self._facts = facts
        self._admin = admin
        self._walk = walk
        self._neighbours = neighbours

    async def run(self, caller: Caller) -> DreamCycleResponse:
        """An operator's pass, now; recorded as the job's latest run like a scheduled one."""
        require_operator(caller)
        result = await self.run_pass()
        if self._admin is not None:
            await self._admin.record_run(JobName.DREAM_CYCLE, result)
        return result

    async def run_pass(self) -> DreamCycleResponse:
        """One pass: walk and merge, consolidate facts (with extraction on), then promote edges (the scheduler
        records the run)."""
        started = time.monotonic()
        walked = await self._store.take_walk(self._walk)
        pairs = await self._store.neighbour_pairs(walked, self._neighbours)
        merged = await self._store.apply_merges(plan_merges(pairs))
        facts = await self._facts.run() if self._facts is not None else FactConsolidation()
        promoted = await self._store.promote_edges()
        result = DreamCycleResponse(
            walked=len(walked),
            merged=merged,
            edges_promoted=promoted,
            facts_walked=facts.walked,
            fact_clusters_judged=facts.clusters_judged,
            facts_superseded=facts.superseded,
            duration_ms=round((time.monotonic() - started) * 1000),
        )
        log.info(
            "dream cycle: walked %d, merged %d, retired %d of %d facts walked, promoted %d edges in %d ms",
            result.walked,
            result.merged,
            result.facts_superseded,
            result.facts_walked,
            result.edges_promoted,
            result.duration_ms,
        )
        return result

    async def close(self) -> None:
        """Close the fact consolidator's model connections (if any)."""
        if self._facts is not None:
            await self._facts.close()
