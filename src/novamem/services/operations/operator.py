"""Operator-triggered lifecycle passes.

There is no warm→cold demotion yet (vectors live in PostgreSQL next to their rows), so a decay pass
does what is real today: it purges expired entries (each logged `expired` in the change feed) and
records the run. Nothing is ever parked for a separate vector store, so there are no orphans to reap.
"""

from __future__ import annotations

from novamem.domain.entries import now_utc
from novamem.domain.scope import Caller
from novamem.services.operations.admin import AdminService, JobName, require_operator
from novamem.services.operations.metrics import Counter, MetricsService
from novamem.services.operations.operator_models import DecayResponse, ReapResponse
from novamem.storage.base import DecayLog, MemoryStore
from novamem.storage.operations import DEPLOYMENT

__all__ = ["OperatorService"]


class OperatorService:
    """Lifecycle passes an operator runs on demand: decay and the orphan reaper."""

    def __init__(
        self,
        store: MemoryStore,
        decay_log: DecayLog,
        *,
        metrics: MetricsService | None = None,
        admin: AdminService | None = None,
    ) -> None:
        self._store = store
        self._decay_log = decay_log
        self._metrics = metrics or MetricsService(None)
        self._admin = admin

    async def decay(self, caller: Caller, effective_days: float | None) -> DecayResponse:
        """One decay pass: what it demoted, promoted and purged; a `decay_runs` row records it."""
        require_operator(caller)
        started = now_utc()
        expired = await self._store.purge_expired()
        await self._decay_log.record(started, demoted=0, promoted=0, effective_days=effective_days)
        self._metrics.count(DEPLOYMENT, Counter.DECAY_RUNS)
        return DecayResponse(demoted=0, promoted=0, expired=expired)

    async def reap_orphans(self, caller: Caller) -> ReapResponse:
        """Retry parked vector work: always zero here, nothing is ever orphaned."""
        require_operator(caller)
        result = ReapResponse(attempted=0, cleared=0, abandoned=0, pending=0, total=0)
        self._metrics.count(DEPLOYMENT, Counter.ORPHANS_REAPED, result.cleared)
        if self._admin is not None:
            await self._admin.record_run(JobName.ORPHAN_REAPER, result)
        return result
