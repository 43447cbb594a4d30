"""Operator-triggered lifecycle passes.

A decay pass demotes every warm memory left unused past its lifespan to the cold tier (one bulk statement
over the deployment), purges expired entries (each logged `expired` in the change feed), and records the
run with the promotions search and context hits made since the previous pass. The scheduled decay job runs
the same pass. Vectors live beside their rows, so nothing is ever parked for a separate vector store and
there are no orphans to reap.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from novamem.domain.entries import now_utc
from novamem.domain.scope import Caller
from novamem.services.operations.admin import AdminService, JobName, require_operator
from novamem.services.operations.metrics import Counter, MetricsService
from novamem.services.operations.operator_models import DecayResponse, ReapResponse
from novamem.storage.base import DecayLog, MemoryStore
from novamem.storage.operations import DEPLOYMENT

__all__ = ["OperatorService"]


class OperatorService:
    """Lifecycle passes an operator runs on demand (decay and the orphan reaper); the scheduler runs decay too."""

    def __init__(
        self,
        store: MemoryStore,
        decay_log: DecayLog,
        *,
        decay_days: float,
        clock: Callable[[], datetime] = now_utc,
        metrics: MetricsService | None = None,
        admin: AdminService | None = None,
    ) -> None:
        """`decay_days`: the base of entries without their own; `clock`: the time a pass decides by."""
        self._store = store
        self._decay_log = decay_log
        self._decay_days = decay_days
        self._clock = clock
        self._metrics = metrics or MetricsService(None)
        self._admin = admin

    async def decay(self, caller: Caller, effective_days: float | None) -> DecayResponse:
        """One decay pass for an operator: what it demoted, promoted and purged; a `decay_runs` row records it.

        `effective_days` replaces the configured base for this pass (an entry's own base still wins).
        """
        require_operator(caller)
        return await self.run_decay(effective_days)

    async def run_decay(self, effective_days: float | None = None) -> DecayResponse:
        """The decay pass itself (the scheduled job's call): demote, purge, record.

        Deployment work on behalf of no caller: every tenant's idle memories are demoted in one statement,
        judged by this service's clock.
        """
        started = self._clock()
        base = effective_days if effective_days is not None else self._decay_days
        demoted = await self._decay_log.demote_idle(started, base_days=base)
        expired = await self._store.purge_expired()
        promoted = await self._decay_log.record(
            started, max(self._clock(), started), demoted=demoted, effective_days=effective_days
        )
        self._metrics.count(DEPLOYMENT, Counter.DECAY_RUNS)
        self._metrics.count(DEPLOYMENT, Counter.DEMOTIONS, demoted)
        self._metrics.count(DEPLOYMENT, Counter.PROMOTIONS, promoted)
        return DecayResponse(demoted=demoted, promoted=promoted, expired=expired)

    async def reap_orphans(self, caller: Caller) -> ReapResponse:
        """Retry parked vector work: always zero here, nothing is ever orphaned."""
        require_operator(caller)
        result = ReapResponse(attempted=0, cleared=0, abandoned=0, pending=0, total=0)
        self._metrics.count(DEPLOYMENT, Counter.ORPHANS_REAPED, result.cleared)
        if self._admin is not None:
            await self._admin.record_run(JobName.ORPHAN_REAPER, result)
        return result
