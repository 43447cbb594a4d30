"""Operations storage contracts: the admin inventory, metrics, job runs and dependency probes.

Kept apart from `storage/base.py` (as `storage/accounts.py` is) so operations have their own narrow
Protocols. Inventory reads take the tenant and filter by it; metric and gauge reads take a tenant or
`None` for the whole deployment (see `services/operations/metrics.py` for who gets which).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

__all__ = [
    "DEPLOYMENT",
    "DecayRun",
    "ExtractionDebt",
    "GaugeReader",
    "HealthProbe",
    "InventoryStore",
    "JobRun",
    "JobRunLog",
    "MetricsStore",
    "ProjectListing",
    "TokenListing",
]

# the tenant key of counters that belong to the deployment rather than to one tenant (job runs)
DEPLOYMENT = "*"


@dataclass(frozen=True, slots=True)
class ProjectListing:
    """A project of one tenant with its owner and how much it holds (the admin projects list)."""

    id: str
    name: str
    owner_user_id: str
    owner_email: str | None
    member_count: int
    entry_count: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ExtractionDebt:
    """The LLM fact-extraction backlog: entries owing an extraction, since when the oldest has owed it, and how
    many of them are waiting for a retry after a failed model call."""

    pending: int
    oldest_owed_at: datetime | None
    failing: int


@dataclass(frozen=True, slots=True)
class TokenListing:
    """An API token's metadata; deliberately without its hash (the hash is a lookup key)."""

    user_id: str
    email: str
    label: str
    scope: str
    project_id: str | None
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class InventoryStore(Protocol):
    """Everything of one kind in one tenant, newest first."""

    async def projects(self, tenant_id: str) -> list[ProjectListing]: ...
    async def tokens(self, tenant_id: str) -> list[TokenListing]: ...


@dataclass(frozen=True, slots=True)
class JobRun:
    """The last completed run of a periodic job and how many runs completed in all."""

    job: str
    last_run_at: datetime
    runs: int
    result: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DecayRun:
    """The last finished `decay_runs` row and how many there are."""

    started_at: datetime
    finished_at: datetime
    demoted: int
    promoted: int
    effective_days: float | None
    runs: int


class JobRunLog(Protocol):
    """Deployment-wide bookkeeping of completed periodic work."""

    async def record(self, job: str, result: dict[str, Any]) -> None: ...
    async def last_runs(self) -> dict[str, JobRun]: ...
    async def last_decay(self) -> DecayRun | None: ...


class MetricsStore(Protocol):
    """Counters summed over every replica: deltas are added, never overwritten."""

    async def add(
        self, counters: dict[tuple[str, str], int], buckets: dict[tuple[datetime, str, str], int]
    ) -> None: ...
    async def totals(self, tenant_id: str | None) -> dict[str, int]: ...
    async def window(self, tenant_id: str | None, since: datetime, names: tuple[str, ...]) -> dict[str, int]: ...
    async def series(
        self, tenant_id: str | None, since: datetime, step_seconds: int, names: tuple[str, ...]
    ) -> dict[tuple[datetime, str], int]: ...
    async def prune_buckets(self, before: datetime) -> int: ...


class GaugeReader(Protocol):
    """Current sizes, read at scrape time; each read is bounded by a statement timeout."""

    async def entry_tiers(self, tenant_id: str | None) -> tuple[int, int]: ...
    async def graph_edges(self, tenant_id: str | None) -> int: ...
    async def pending_embeddings(self, tenant_id: str | None) -> int: ...
    async def pending_facts(self, tenant_id: str | None) -> int: ...
    async def extraction_debt(self, tenant_id: str | None) -> ExtractionDebt: ...
    async def entries_per_day(self, tenant_id: str | None, since: datetime) -> dict[date, int]: ...


class HealthProbe(Protocol):
    """Cheap liveness queries of the warm tier and of the vector index."""

    async def ping(self) -> bool: ...
    async def vector_ping(self) -> bool: ...
