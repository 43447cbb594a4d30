"""Wire models of `GET /v1/admin/telemetry`: aggregate counts only, never content nor user ids."""

from __future__ import annotations

from pydantic import Field

from novamem.services.operations.models import DayCount, HealthDeps
from novamem.services.wire import Out, SensitivityName

__all__ = [
    "AgentCount",
    "NamespaceCount",
    "ProjectCount",
    "SensitivityCount",
    "Telemetry",
    "TierCounts",
    "UNASSIGNED",
]

# the `project` of entries that belong to no project (user-global memories)
UNASSIGNED = "unassigned"


class NamespaceCount(Out):
    namespace: str
    count: int


class ProjectCount(Out):
    project: str = Field(description='the project id, or "unassigned" for entries outside any project')
    name: str | None = Field(description="the project's name (null for unassigned entries)")
    count: int


class SensitivityCount(Out):
    sensitivity: SensitivityName
    count: int


class AgentCount(Out):
    agent: str = Field(description="the agent name the entries were written with")
    count: int


class TierCounts(Out):
    warm: int
    cold: int


class Telemetry(Out):
    """Aggregate counts over the admin's tenant; every list is largest first."""

    total_entries: int
    embedded_entries: int = Field(description="entries whose vector is stored")
    pending_embeddings: int = Field(description="entries whose vector is owed")
    pending_extractions: int = Field(description="entries owing an LLM fact extraction (0 while extraction is off)")
    pending_cold_orphans: int = Field(
        description="vector work parked for a separate cold store (none: vectors live beside their rows)"
    )
    by_namespace: list[NamespaceCount] = Field(description="the 100 largest namespaces")
    by_project: list[ProjectCount] = Field(description="the 100 largest projects, unassigned entries included")
    by_sensitivity: list[SensitivityCount] = Field(description="entries created in the last 30 days, by sensitivity")
    by_tier: TierCounts
    created_per_day: list[DayCount] = Field(description="entries created per UTC day, the last 30 days, today last")
    top_agents: list[AgentCount] = Field(description="the 10 agents with the most entries")
    last_decay_at: str | None = Field(description="when a decay pass last finished (deployment-wide)")
    health: HealthDeps = Field(description="each dependency's state, as `/v1/admin/health/deep` reports it")
