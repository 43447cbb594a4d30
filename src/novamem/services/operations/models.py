"""Wire models of the admin operations surface: inventory, health, metrics and job status.

They back both the `/v1/admin/*` operations routes and the read-only admin MCP tools. The metrics
snapshot keeps the reference's snake_case names (`queries_total`, `uptime_ms`) exactly, because
dashboards and alerts match on them; everything else is camelCase like the rest of the API.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from novamem.services.wire import Out, Wire

__all__ = [
    "AdminProjectList",
    "AdminProjectView",
    "AdminStats",
    "AdminTokenList",
    "AdminTokenView",
    "AuditRecentArgs",
    "DayCount",
    "DecayRunView",
    "DreamCycleRunView",
    "ExpiryPurgeRunView",
    "HealthDeep",
    "HealthDeps",
    "InstanceStats",
    "JobRunView",
    "MetricCounters",
    "MetricGauges",
    "MetricRates",
    "MetricsOverview",
    "MetricsSnapshot",
    "OpsStatus",
    "OrphanReapRunView",
    "PruneRunView",
    "ReconcileRunView",
    "SnakeOut",
    "ThroughputBucket",
]


# ---- inventory ---------------------------------------------------------------------------------------


class AdminProjectView(Out):
    id: str
    name: str
    owner_user_id: str
    owner_email: str | None = Field(description="null when the owner's account is gone")
    member_count: int
    entry_count: int
    created_at: str


class AdminProjectList(Out):
    """Every project of the admin's tenant, newest first."""

    projects: list[AdminProjectView]


class AdminTokenView(Out):
    """An API token's metadata: never its plaintext nor its hash."""

    user_id: str
    email: str
    label: str
    scope: Literal["full", "read_only"]
    project_id: str | None = Field(description="the project the token is confined to, if any")
    created_at: str
    last_used_at: str | None
    expires_at: str | None
    revoked: bool


class AdminTokenList(Out):
    """Every API token of the admin's tenant, newest first, revoked and expired ones included."""

    tokens: list[AdminTokenView]


class AuditRecentArgs(Wire):
    """Arguments of `admin_audit_recent`."""

    limit: int = Field(100, ge=1, le=500, description="how many entries, newest first")


# ---- health ------------------------------------------------------------------------------------------


class HealthDeps(Out):
    warm: Literal["ok", "unreachable"] = Field(description="PostgreSQL, the source of truth")
    cold: Literal["ok", "unreachable", "failing"] = Field(
        description="the vector index (pgvector in the same PostgreSQL)"
    )
    graph: Literal["ok", "unreachable", "disabled"] = Field(description="a separate graph store (none: disabled)")
    embedder: Literal["ok", "failing", "disabled"] = Field(description="disabled when embeddings are switched off")


class HealthDeep(Out):
    """Dependency detail for admins; `ok` is false (HTTP 503) when the warm or cold tier is down."""

    ok: bool
    status: Literal["ok", "degraded"] = Field(
        description="`ok` when every dependency answers (a disabled one counts as answering), else `degraded`"
    )
    deps: HealthDeps
    pending_embeddings: int | None = Field(description="rows whose vector is owed (null when unknown)")
    indexes: dict[str, Literal["ok", "unreachable"]] = Field(
        default_factory=dict,
        description="each enabled derived index (`vector`: Qdrant, `graph`: FalkorDB) and whether it answers; "
        "one that does not makes the status `degraded` (search falls back to PostgreSQL), never `ok` false",
    )
    pending_index: dict[str, int] | None = Field(
        None, description="index outbox items queued per enabled derived index (null when none is enabled)"
    )
    pending_extractions: int | None = Field(
        None, description="entries owing an LLM fact extraction (null when extraction is off)"
    )
    oldest_extraction_owed_at: str | None = Field(
        None,
        description="since when the oldest of those entries has owed its extraction (null when none is owed or "
        "extraction is off)",
    )
    failing_extractions: int | None = Field(
        None,
        description="those entries whose last extraction failed (model down, too slow or unreadable) and that "
        "wait for a retry with backoff (null when extraction is off)",
    )


# ---- metrics (the reference's snake_case names) ------------------------------------------------------


class SnakeOut(Out):
    """A result whose wire names are its Python names (no camelCase aliases)."""

    model_config = ConfigDict(alias_generator=None, populate_by_name=True)


class MetricCounters(SnakeOut):
    """Lifetime counters summed over every replica."""

    queries_total: int
    queries_zero_hit: int
    remembers_total: int
    forgets_total: int
    hits_warm_total: int
    hits_cold_total: int
    hits_graph_total: int
    promotions_total: int
    demotions_total: int
    decay_runs_total: int
    orphans_reaped_total: int
    search_errors_total: int
    remember_errors_total: int


class MetricGauges(SnakeOut):
    """Sizes read at scrape time; null when the read failed."""

    warm_entries: int | None
    cold_entries: int | None
    graph_edges: int | None
    orphans_pending: int | None
    pending_embeddings: int | None
    pending_facts: int | None
    last_decay_run_iso: str | None
    pending_index_vector: int | None = Field(
        None, description="index outbox items queued for the vector index (null when it is not enabled)"
    )
    pending_index_graph: int | None = Field(
        None, description="index outbox items queued for the graph index (null when it is not enabled)"
    )


class MetricRates(SnakeOut):
    """Events per second over the last minute, summed over every replica; null when unknown."""

    queries_per_sec_60s: float | None
    remembers_per_sec_60s: float | None


class MetricsSnapshot(SnakeOut):
    """`GET /v1/admin/metrics`."""

    counters: MetricCounters
    gauges: MetricGauges
    rates: MetricRates
    uptime_ms: int = Field(description="how long this replica has been up")


class ThroughputBucket(Out):
    """Queries answered and memories stored in one slot of time (summed over every replica)."""

    start: str = Field(description="when the slot starts (UTC)")
    queries: int
    remembers: int


class DayCount(Out):
    """Entries created on one UTC day that are still stored."""

    day: str = Field(description="YYYY-MM-DD (UTC)")
    entries: int


class MetricsOverview(Out):
    """The metrics snapshot with the series an admin's charts draw: hourly throughput and entries per day."""

    snapshot: MetricsSnapshot
    throughput: list[ThroughputBucket] | None = Field(
        description="one slot per hour, oldest first, the current one last; null when unknown"
    )
    entries_per_day: list[DayCount] | None = Field(description="oldest first, today last; null when unknown")


class InstanceStats(SnakeOut):
    """The replica that answered."""

    replica_id: str
    pid: int
    python_version: str
    rss_bytes: int | None = Field(description="resident memory of this process (null when unknown)")
    started_at: str


class AdminStats(MetricsSnapshot):
    """`admin_stats`: the metrics snapshot plus the answering replica's own numbers."""

    instance: InstanceStats


# ---- periodic jobs -----------------------------------------------------------------------------------


class JobRunView(Out):
    last_run_at: str = Field(description="when the last successful run finished")
    runs: int = Field(description="successful runs so far")


class DecayRunView(JobRunView):
    started_at: str
    duration_ms: int
    demoted: int
    promoted: int
    effective_days: float | None


class DreamCycleRunView(JobRunView):
    """The last dream-cycle pass's result (the fact counts are 0 while fact extraction is off)."""

    walked: int = 0
    merged: int = 0
    edges_promoted: int = 0
    facts_walked: int = 0
    fact_clusters_judged: int = 0
    facts_superseded: int = 0
    duration_ms: int = 0


class OrphanReapRunView(JobRunView):
    attempted: int = 0
    cleared: int = 0
    abandoned: int = 0
    pending: int = 0
    total: int = 0


class ReconcileRunView(JobRunView):
    embedded: int = 0


class ExpiryPurgeRunView(JobRunView):
    expired: int = 0


class PruneRunView(JobRunView):
    pruned: int = 0


class OpsStatus(Out):
    """The last successful run of each periodic job; null until the job has completed once."""

    decay: DecayRunView | None
    dream_cycle: DreamCycleRunView | None
    orphan_reaper: OrphanReapRunView | None
    embedding_reconciler: ReconcileRunView | None
    expiry_purge: ExpiryPurgeRunView | None
    change_feed_prune: PruneRunView | None
    sessions_prune: PruneRunView | None
