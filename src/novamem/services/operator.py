"""Operator-triggered lifecycle passes.

There is no warm→cold demotion yet (vectors live in PostgreSQL next to their rows), so a decay pass
does what is real today: it purges expired entries (each logged `expired` in the change feed) and
records the run. Nothing is ever parked for a separate vector store, so there are no orphans to reap.
"""

from __future__ import annotations

from typing import Any

from novamem.domain.entries import now_utc
from novamem.storage.base import DecayLog, MemoryStore

__all__ = ["OperatorService"]


class OperatorService:
    def __init__(self, store: MemoryStore, decay_log: DecayLog) -> None:
        self._store = store
        self._decay_log = decay_log

    async def decay(self, effective_days: float | None) -> dict[str, Any]:
        """`{demoted, promoted, expired}` for one pass; a `decay_runs` row records it."""
        started = now_utc()
        expired = await self._store.purge_expired()
        await self._decay_log.record(started, demoted=0, promoted=0, effective_days=effective_days)
        return {"demoted": 0, "promoted": 0, "expired": expired}

    async def reap_orphans(self) -> dict[str, Any]:
        """`{attempted, cleared, abandoned, pending, total}`: always zero here, nothing is ever orphaned."""
        return {"attempted": 0, "cleared": 0, "abandoned": 0, "pending": 0, "total": 0}
