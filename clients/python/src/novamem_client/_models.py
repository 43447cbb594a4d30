"""Typed results of the data plane (`/v1/*`): snake_case fields of the server's camelCase JSON.

Timestamps stay ISO-8601 strings as the server renders them (`2026-01-02T15:04:05.000Z`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AdoptionReport",
    "ContextPack",
    "ContextPrefix",
    "ContextResult",
    "EvaluateCase",
    "EvaluateSummary",
    "Evaluation",
    "ForgetResult",
    "Health",
    "HygieneItem",
    "HygienePair",
    "HygieneReport",
    "HygieneSummary",
    "MemoryItem",
    "NamespaceStats",
    "PackItem",
    "RecapResult",
    "RecentResults",
    "SearchResults",
    "Stats",
    "UpdateResult",
    "WriteResult",
]


@dataclass(frozen=True)
class MemoryItem:
    """One memory in a result list. `content`/`metadata` are None in `ids` mode; `signals` absent on recent."""

    id: str
    score: float
    tier: str
    namespace: str
    project: str | None
    source: str
    content: str | None = None
    metadata: dict[str, Any] | None = None
    signals: dict[str, float] | None = None
    truncated: bool | None = None


@dataclass(frozen=True)
class SearchResults:
    """Ranked results. `degraded` with results means a signal was down (an empty degraded answer raises)."""

    results: list[MemoryItem]
    degraded: bool = False


@dataclass(frozen=True)
class RecentResults:
    """Newest memories first."""

    results: list[MemoryItem]


@dataclass(frozen=True)
class PackItem:
    """One memory in a context pack group."""

    id: str
    content: str
    namespace: str
    project: str | None
    memory_type: str | None
    tier: str


@dataclass(frozen=True)
class ContextPack:
    """The relevant memories grouped by what they are about (`all` holds every one of them)."""

    user_global: list[PackItem] = field(default_factory=list)
    project_scoped: list[PackItem] = field(default_factory=list)
    user_preferences: list[PackItem] = field(default_factory=list)
    current_setup: list[PackItem] = field(default_factory=list)
    project_conventions: list[PackItem] = field(default_factory=list)
    decisions: list[PackItem] = field(default_factory=list)
    bug_root_causes: list[PackItem] = field(default_factory=list)
    deployment_state: list[PackItem] = field(default_factory=list)
    safety_constraints: list[PackItem] = field(default_factory=list)
    pitfalls: list[PackItem] = field(default_factory=list)
    recent_decisions: list[PackItem] = field(default_factory=list)
    all: list[PackItem] = field(default_factory=list)


@dataclass(frozen=True)
class ContextResult:
    """What an agent should read before answering: relevant, recent, the grouped pack and guidance."""

    relevant: SearchResults
    recent: RecentResults
    context_pack: ContextPack
    guidance: str


@dataclass(frozen=True)
class WriteResult:
    """The outcome of remember/capture: `id` None with `rejected` when the gate refused the content."""

    id: str | None
    rejected: str | None = None
    deduplicated: bool | None = None
    updated: bool | None = None
    superseded: list[str] | None = None
    embedded: bool | None = None


@dataclass(frozen=True)
class RecapResult:
    """How many recap items were saved, and each item's write result."""

    saved: int
    results: list[WriteResult]


@dataclass(frozen=True)
class ForgetResult:
    """By id: `deleted`. By source reference: `source_ref`, `ids` and `count`."""

    cold_delete_ok: bool
    deleted: bool | None = None
    source_ref: str | None = None
    ids: list[str] | None = None
    count: int | None = None


@dataclass(frozen=True)
class UpdateResult:
    """An in-place update; `embedding_changed` when the content (and so its vector) changed."""

    id: str
    updated: bool
    embedding_changed: bool


@dataclass(frozen=True)
class NamespaceStats:
    """Entries of one namespace per tier."""

    warm: int
    cold: int


@dataclass(frozen=True)
class Stats:
    """Counts over the memories the caller can see."""

    by_namespace: dict[str, NamespaceStats]
    total_warm: int
    total_cold: int
    last_decay_at: str | None
    uptime_ms: int


@dataclass(frozen=True)
class HygieneItem:
    """A memory the hygiene scan flagged, and why."""

    id: str
    namespace: str
    project: str | None
    memory_type: str
    reason: str
    snippet: str
    truncated: bool
    updated_at: str | None
    worthiness: float | None = None


@dataclass(frozen=True)
class HygienePair:
    """Memories that look like duplicates or contradict each other."""

    ids: list[str]
    namespace: str
    project: str | None
    reason: str
    score: float
    snippets: list[str]


@dataclass(frozen=True)
class HygieneSummary:
    """Counts of a hygiene scan."""

    scanned: int
    scan_limit: int
    low_value: int
    stale: int
    duplicate_clusters: int
    contradiction_candidates: int
    orphan_candidates: int
    pair_scan_complete: bool


@dataclass(frozen=True)
class HygieneReport:
    """A read-only diagnosis of the caller's memories."""

    low_value: list[HygieneItem]
    stale: list[HygieneItem]
    duplicate_clusters: list[HygienePair]
    contradiction_candidates: list[HygienePair]
    orphan_candidates: list[HygieneItem]
    summary: HygieneSummary


@dataclass(frozen=True)
class EvaluateCase:
    """One check of an evaluation suite."""

    name: str
    passed: bool
    detail: str | None = None


@dataclass(frozen=True)
class EvaluateSummary:
    """How many checks ran and passed."""

    total: int
    passed: int
    failed: int


@dataclass(frozen=True)
class Evaluation:
    """The result of an evaluation suite (`checks` is the reference's alias of `cases`)."""

    suite: str
    passed: bool
    summary: EvaluateSummary
    cases: list[EvaluateCase]
    checks: list[EvaluateCase]
    hygiene: HygieneSummary


@dataclass(frozen=True)
class AdoptionReport:
    """How well an agent host uses novamem's MCP surface; nested parts stay as the server sent them."""

    server: dict[str, Any]
    mcp: dict[str, Any]
    required_tools: list[str]
    features: dict[str, bool]
    refresh: dict[str, Any]
    requested_client: str | None
    diagnostics: list[dict[str, Any]]


@dataclass(frozen=True)
class ContextPrefix:
    """The observer's log, for a prompt-cacheable prefix."""

    prefix: str


@dataclass(frozen=True)
class Health:
    """Readiness: `ok` false when the server answered that a dependency is down."""

    ok: bool
