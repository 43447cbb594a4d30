"""Operator-triggered lifecycle passes.

There is no warm→cold demotion yet (vectors live in PostgreSQL next to their rows), so a decay pass
does what is real today: it purges expired entries (each logged `expired` in the change feed) and
records the run. Nothing is ever parked for a separate vector store, so there are no orphans to reap.
"""

from __future__ import annotations

from typing import Any

from novamem.domain.entries import now_utc
from novamem.services.operations.admin import AdminService, JobName
from novamem.services.operations.metrics import Counter, MetricsService
from novamem.storage.base import DecayLog, MemoryStore
from novamem.storage.operations import DEPLOYMENT

__all__ = ["OperatorService"]


class OperatorService:
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

    async def decay(self, effective_days: float | None) -> dict[str, Any]:
        """`{demoted, promoted, expired}` for one pass; a `decay_runs` row records it."""
        started = now_utc()
        expired = await self._store.purge_expired()
        await self._decay_log.record(started, demoted=0, promoted=0, effective_days=effective_days)
        self._metrics.count(DEPLOYMENT, Counter.DECAY_RUNS)
        return {"demoted": 0, "promoted": 0, "expired": expired}

    async def reap_orphans(self) -> dict[str, Any]:
        """`{attempted, cleared, abandoned, pending, total}`: always zero here, nothing is ever orphaned."""
        result = {"attempted": 0, "cleared": 0, "abandoned": 0, "pending": 0, "total": 0}
        self._metrics.count(DEPLOYMENT, Counter.ORPHANS_REAPED, result["cleared"])
        if self._admin is not None:
            await self._admin.record_run(JobName.ORPHAN_REAPER, result)
        return result
