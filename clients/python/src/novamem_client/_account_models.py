"""Typed results of self-service (`/v1/me/*`, `/v1/auth/*`) and administration (`/v1/admin/*`).

Fields holding a plaintext token are left out of `repr()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ActiveProject",
    "ActivityEvent",
    "AdminUser",
    "AuditEntry",
    "Change",
    "ChangesPage",
    "CredentialMetrics",
    "DeepHealth",
    "ErasePreview",
    "ExportEntry",
    "ExportPage",
    "ImportFailure",
    "ImportResult",
    "Member",
    "MemberAdded",
    "MetricsHistory",
    "MetricsSample",
    "MetricsSnapshot",
    "MintedToken",
    "Project",
    "ProjectDeleted",
    "ProvisionedUser",
    "Quota",
    "RotatedToken",
    "ServiceKey",
    "Telemetry",
    "TokenInfo",
    "Usage",
    "UserErased",
    "UserMetrics",
    "UserQuota",
]


@dataclass(frozen=True)
class TokenInfo:
    """One of your API tokens (its SHA-256, never the plaintext)."""

    token_hash: str
    label: str
    scope: str
    project_id: str | None
    expires_at: str | None
    created_at: str
    last_used_at: str | None
    revoked: bool


@dataclass(frozen=True)
class MintedToken:
    """A new API token; `token` is the plaintext, shown once (and never in `repr()`)."""

    token: str = field(repr=False)
    user_id: str
    created_at: str
    scope: str
    project_id: str | None
    expires_at: str | None
    warning: str


@dataclass(frozen=True)
class RotatedToken:
    """The replacement of a rotated token; the presented one stopped working."""

    token: str = field(repr=False)
    user_id: str
    created_at: str
    warning: str


@dataclass(frozen=True)
class Project:
    """A project you belong to, with your role in it."""

    id: str
    name: str
    role: str
    owner_user_id: str
    created_at: str


@dataclass(frozen=True)
class ProjectDeleted:
    """What deleting a project removed."""

    deleted: bool
    entries_removed: int
    cold_collections_dropped: list[str]
    graph_cleared: bool


@dataclass(frozen=True)
class Member:
    """A project member; `username` is the account's email."""

    user_id: str
    username: str
    role: str
    joined_at: str


@dataclass(frozen=True)
class MemberAdded:
    """A member added to a project."""

    added: bool
    user_id: str
    username: str


@dataclass(frozen=True)
class ActiveProject:
    """The project reads and writes default to (`name` is None right after setting it)."""

    id: str
    name: str | None = None


@dataclass(frozen=True)
class ExportEntry:
    """One exported memory."""

    id: str
    project_id: str | None
    content: str
    namespace: str
    source: str
    agent_name: str | None
    metadata: dict[str, Any]
    source_type: str | None
    captured_from: str | None
    confidence: float
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class ExportPage:
    """A page of the export, oldest first; pass `next_after_id` on until a page is empty."""

    entries: list[ExportEntry]
    next_after_id: str | None


@dataclass(frozen=True)
class ImportFailure:
    """An entry that could not be imported."""

    index: int
    error: str


@dataclass(frozen=True)
class ImportResult:
    """How many entries were imported, merged with an existing one, or failed."""

    imported: int
    deduplicated: int
    failed: list[ImportFailure]


@dataclass(frozen=True)
class Quota:
    """Limits; None means unlimited (or the server default when setting)."""

    max_entries: int | None
    writes_per_minute: int | None


@dataclass(frozen=True)
class Usage:
    """How many entries you store, and your quota."""

    entries: int
    quota: Quota


@dataclass(frozen=True)
class Change:
    """One event of the change feed."""

    seq: int
    entry_id: str
    project_id: str | None
    change: str
    detail: dict[str, Any]
    at: str


@dataclass(frozen=True)
class ChangesPage:
    """A page of the change feed; resume with `after_seq=next_seq`."""

    changes: list[Change]
    next_seq: int | None


@dataclass(frozen=True)
class ActivityEvent:
    """One line of your last 24 hours of activity."""

    kind: str
    at: str
    text: str
    project: str | None


@dataclass(frozen=True)
class CredentialMetrics:
    """One of your credentials' counted requests: a live API token, or your dashboard sessions."""

    credential: str
    token_hash: str | None
    label: str
    counters: dict[str, int]
    last_used_at: str | None


@dataclass(frozen=True)
class UserMetrics:
    """Your counters, rates and gauges (an admin gets the global snapshot's names) and per-token rows."""

    counters: dict[str, int]
    gauges: dict[str, Any]
    rates: dict[str, float | None]
    uptime_ms: int
    tokens: list[CredentialMetrics] = field(default_factory=list)


@dataclass(frozen=True)
class MetricsSample:
    """Your counted requests in one minute."""

    sampled_at: str
    queries: int
    remembers: int
    forgets: int = 0


@dataclass(frozen=True)
class MetricsHistory:
    """Your minutes with counted requests over the last `hours`, oldest first."""

    hours: int
    samples: list[MetricsSample]


@dataclass(frozen=True)
class AdminUser:
    """A user of the deployment with entry and live-token counts."""

    id: str
    email: str
    name: str
    role: str
    created_at: str
    entry_count: int
    token_count: int


@dataclass(frozen=True)
class ProvisionedUser:
    """A user created by an admin, with a first API token (`token`, shown once, never in `repr()`)."""

    user_id: str
    email: str
    token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ErasePreview:
    """What erasing a user would delete."""

    user_id: str
    email: str
    entries: int
    tokens: int
    owned_projects: int


@dataclass(frozen=True)
class UserErased:
    """What erasing a user deleted."""

    deleted: bool
    entries_removed: int
    tokens_removed: int
    projects_deleted: list[str]
    cold_cleanup: list[str]
    cold_cleanup_ok: bool


@dataclass(frozen=True)
class UserQuota:
    """A user's quota override after setting it."""

    user_id: str
    quota: Quota


@dataclass(frozen=True)
class ServiceKey:
    """A platform's Ed25519 public key for on-behalf-of tokens; `id` is the JWT `kid`."""

    id: str
    name: str
    organization_id: str
    public_key: str
    created_at: str
    revoked_at: str | None = None


@dataclass(frozen=True)
class AuditEntry:
    """One audited action, newest first in the log."""

    id: int
    ts: str
    actor_user_id: str | None
    actor_label: str
    action: str
    target: str | None
    metadata: dict[str, Any]
    request_ip: str | None


@dataclass(frozen=True)
class MetricsSnapshot:
    """Counters, gauges and per-second rates (names as the server's metric names)."""

    counters: dict[str, int]
    gauges: dict[str, Any]
    rates: dict[str, float | None]
    uptime_ms: int


@dataclass(frozen=True)
class Telemetry:
    """Aggregates over the store (no content, no user ids); list members stay as the server sent them."""

    total_entries: int
    embedded_entries: int
    pending_embeddings: int
    pending_extractions: int
    pending_cold_orphans: int
    by_namespace: list[dict[str, Any]]
    by_project: list[dict[str, Any]]
    by_sensitivity: list[dict[str, Any]]
    by_tier: dict[str, int]
    created_per_day: list[dict[str, Any]]
    top_agents: list[dict[str, Any]]
    last_decay_at: str | None
    health: dict[str, str]


@dataclass(frozen=True)
class DeepHealth:
    """Each dependency's state; `ok` false (the server's 503) when the warm or cold tier is down."""

    ok: bool
    deps: dict[str, str]
    pending_embeddings: int | None
    status: str | None = None
