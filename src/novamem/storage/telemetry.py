"""Telemetry storage contract: aggregate counts over one tenant's memory rows.

Kept apart from `storage/operations.py` so the admin telemetry view has its own narrow Protocol. Every read
is confined to one tenant and returns counts keyed by a label (namespace, project id, agent name), never a
row's content nor the user it belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

__all__ = ["DEFAULT_TOP", "EntryAggregates", "LabelCount", "TelemetryStore"]

# how many groups a ranked aggregate returns unless asked otherwise
DEFAULT_TOP = 100


@dataclass(frozen=True, slots=True)
class LabelCount:
    """How many entries share one label; `name` is a display name where the label is an id (projects)."""

    label: str | None
    count: int
    name: str | None = None


@dataclass(frozen=True, slots=True)
class EntryAggregates:
    """Counts over one tenant's stored entries, each ranked list largest first."""

    total: int
    embedded: int
    pending_embeddings: int
    warm: int
    cold: int
    by_namespace: list[LabelCount]
    by_project: list[LabelCount]
    by_sensitivity: list[LabelCount]
    top_agents: list[LabelCount]
    created_per_day: dict[date, int]
    pending_extractions: int = 0  # entries owing an LLM fact extraction


class TelemetryStore(Protocol):
    """Aggregates only: counts per group, with bounded group lists."""

    async def aggregates(
        self, tenant_id: str, since: datetime, *, top: int = DEFAULT_TOP, top_small: int = 10
    ) -> EntryAggregates:
        """One tenant's counts; sensitivity and per-day counts cover entries created from `since` on.

        `top` bounds the namespace and project lists, `top_small` the sensitivity and agent lists.
        """
        ...
