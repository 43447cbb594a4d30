"""Admin telemetry: aggregate counts over the admin's own tenant, for the dashboard's telemetry page.

Only counts leave this service: per namespace, project, sensitivity, tier, day and agent name. No entry's
content and no user id is read or returned. The tenant is the wall: even a server admin sees only the
default tenant's numbers here (deployment-wide numbers are `/v1/admin/metrics`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from novamem.domain.entries import iso, now_utc
from novamem.domain.scope import Caller
from novamem.services.operations.admin import require_admin
from novamem.services.operations.health import HealthService
from novamem.services.operations.models import DayCount
from novamem.services.operations.telemetry_models import (
    UNASSIGNED,
    AgentCount,
    NamespaceCount,
    ProjectCount,
    SensitivityCount,
    Telemetry,
    TierCounts,
)
from novamem.storage.operations import JobRunLog
from novamem.storage.telemetry import TelemetryStore

__all__ = ["TELEMETRY_DAYS", "TOP_AGENTS", "TOP_GROUPS", "TOP_SENSITIVITIES", "TelemetryService"]

TELEMETRY_DAYS = 30
TOP_GROUPS = 100
TOP_SENSITIVITIES = 10
TOP_AGENTS = 10


class TelemetryService:
    """`snapshot(caller)`: the tenant's aggregate counts, its dependencies' state and the last decay."""

    def __init__(self, store: TelemetryStore, runs: JobRunLog, health: HealthService) -> None:
        self._store = store
        self._runs = runs
        self._health = health

    async def snapshot(self, caller: Caller) -> Telemetry:
        """Counts over the admin's tenant; sensitivity and per-day counts cover the last 30 UTC days."""
        require_admin(caller)
        today = now_utc().date()
        first = today - timedelta(days=TELEMETRY_DAYS - 1)
        since = datetime(first.year, first.month, first.day, tzinfo=UTC)
        counts = await self._store.aggregates(
            caller.tenant_id, since, top=TOP_GROUPS, top_small=max(TOP_SENSITIVITIES, TOP_AGENTS)
        )
        decay = await self._runs.last_decay()
        health = await self._health.deep(caller)
        return Telemetry(
            total_entries=counts.total,
            embedded_entries=counts.embedded,
            pending_embeddings=counts.pending_embeddings,
            pending_extractions=counts.pending_extractions,
            # vectors are stored beside their rows: there are no cold orphans in this version
            pending_cold_orphans=0,
            by_namespace=[NamespaceCount(namespace=str(g.label), count=g.count) for g in counts.by_namespace],
            by_project=[
                ProjectCount(project=g.label or UNASSIGNED, name=g.name, count=g.count) for g in counts.by_project
            ],
            by_sensitivity=[
                SensitivityCount.model_validate({"sensitivity": g.label, "count": g.count})
                for g in counts.by_sensitivity[:TOP_SENSITIVITIES]
            ],
            by_tier=TierCounts(warm=counts.warm, cold=counts.cold),
            created_per_day=[
                DayCount(day=day.isoformat(), entries=counts.created_per_day.get(day, 0))
                for day in (first + timedelta(days=i) for i in range(TELEMETRY_DAYS))
            ],
            top_agents=[AgentCount(agent=str(g.label), count=g.count) for g in counts.top_agents[:TOP_AGENTS]],
            last_decay_at=iso(decay.finished_at) if decay is not None else None,
            health=health.deps,
        )
