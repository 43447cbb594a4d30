"""Storage contracts: what services may ask of an engine, and the plain values that cross the line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from novamem.domain.entries import EntryDraft, MemoryEntry
from novamem.domain.observation import ObservationLog
from novamem.domain.scope import ReadScope, WriteTarget

__all__ = [
    "AccessCount",
    "AuditRecord",
    "AuditStore",
    "BrowseFilter",
    "ChangeFeedStore",
    "DecayLog",
    "Counters",
    "CredentialStore",
    "KeywordHits",
    "LeaderLock",
    "McpSessionOwner",
    "McpSessionStore",
    "MemoryStore",
    "ObservationLogs",
    "NamespaceCounts",
    "Neighbor",
    "OwedEmbedding",
    "Principal",
    "MemberRecord",
    "ProjectDirectory",
    "ProjectRecord",
    "ProjectRef",
    "QuotaOverride",
    "QuotaStore",
    "SelfServiceStore",
    "ProjectStore",
    "TokenRecord",
    "TokenStore",
    "UserRef",
    "VectorHits",
    "VectorSpace",
    "WindowCount",
]


@dataclass(frozen=True, slots=True)
class VectorSpace:
    """The embedding model whose vectors are searched: its identity and dimension."""

    model: str
    dim: int


class OwedEmbedding(NamedTuple):
    id: str
    content: str
    content_hash: str


@dataclass(frozen=True, slots=True)
class Neighbor:
    entry: MemoryEntry
    score: float


@dataclass(frozen=True, slots=True)
class KeywordHits:
    """The keyword phase of a search: BM25 scores of its top rows, and the per-term statistics
    (one-term tsqueries and their IDF weights) that score any other row alike."""

    scores: dict[str, float] = field(default_factory=dict)
    term_queries: list[str] = field(default_factory=list)
    term_weights: list[float] = field(default_factory=list)

    def statistics(self) -> KeywordHits:
        """The per-term statistics alone: scores other rows by the same BM25 without re-adding these hits."""
        return KeywordHits(term_queries=self.term_queries, term_weights=self.term_weights)


@dataclass(frozen=True, slots=True)
class VectorHits:
    """The vector phase of a search: its candidates' ids, nearest first, and their cosine distances to the
    query when the reader measured them on the stored vectors (pgvector); None when it gives ids alone (a
    vector index), so `hydrate` measures them."""

    ids: list[str] = field(default_factory=list)
    distances: list[float] | None = None


@dataclass(frozen=True, slots=True)
class BrowseFilter:
    """Filters of one browse page beyond the read scope, and its keyset cursor (entry ids, creation-ordered).

    `before` asks for the entries just older than that id, `after` for those just newer; both None: the newest.
    """

    source: str | None = None
    cold: bool | None = None
    sensitivity: int | None = None
    before: str | None = None
    after: str | None = None


@dataclass(frozen=True, slots=True)
class AccessCount:
    """How often an entry was retrieved (searches, exact re-remembers), and when it last was."""

    hits: int
    last_accessed: datetime | None


@dataclass(frozen=True, slots=True)
class NamespaceCounts:
    """Warm and cold counts per namespace (an entry counts in each namespace it is a member of), and the
    totals over distinct entries (an entry stored under two namespaces is one memory)."""

    by_namespace: dict[str, tuple[int, int]]
    total: tuple[int, int]
    last_decay_at: datetime | None


@dataclass(frozen=True, slots=True)
class WindowCount:
    """Events counted in the current fixed window, and seconds until it resets."""

    count: int
    reset_in: int


@dataclass(frozen=True, slots=True)
class McpSessionOwner:
    tenant_id: str
    user_id: str


class McpSessionStore(Protocol):
    """Open MCP sessions, shared by every replica; idle sessions count as closed."""

    async def open(self, id_hash: str, tenant_id: str, user_id: str, *, cap: int, idle_seconds: int) -> bool: ...
    async def owner(self, id_hash: str, *, idle_seconds: int, touch_after_seconds: int) -> McpSessionOwner | None: ...
    async def touch(self, id_hash: str) -> None: ...
    async def close(self, id_hash: str, tenant_id: str, user_id: str) -> bool: ...


class Counters(Protocol):
    """Deployment-wide fixed-window counters (throttles, lockouts, quotas)."""

    async def hit(self, key: str, window_seconds: int, amount: int = 1, *, hot: bool = False) -> WindowCount: ...
    async def peek(self, key: str) -> WindowCount: ...
    async def clear(self, key: str) -> None: ...


@dataclass(frozen=True, slots=True)
class AuditRecord:
    tenant_id: str
    actor_user_id: str | None
    actor_label: str
    action: str
    target: str | None
    metadata: dict[str, Any]
    request_ip: str | None


class AuditStore(Protocol):
    async def append(self, record: AuditRecord) -> None: ...
    async def recent(self, tenant_id: str, limit: int) -> list[dict[str, Any]]: ...
    async def search(self, tenant_id: str, text: str | None, limit: int, offset: int) -> list[dict[str, Any]]: ...


@dataclass(frozen=True, slots=True)
class Principal:
    """The user behind a presented token or session, as the credential store found them."""

    tenant_id: str
    user_id: str
    email: str
    is_admin: bool
    banned: bool
    must_change_password: bool
    active_project: str | None
    scope: str = "full"
    confined_project: str | None = None
    confinement_ok: bool = True
    last_used_at: datetime | None = None
    session_id: str | None = None
    session_updated_at: datetime | None = None
    # when the token or session stops working by itself (None: never)
    expires_at: datetime | None = None


class CredentialStore(Protocol):
    """Looks up tokens and sessions by the SHA-256 of their plaintext.

    `epoch()` is a deployment-wide counter that changes in the same transaction as anything a
    credential resolves to, so a resolution made at one epoch stays valid while the epoch stands.
    """

    async def epoch(self) -> int: ...
    async def resolve_token(self, token_hash: str) -> Principal | None: ...
    async def resolve_session(self, token_hash: str) -> Principal | None: ...
    async def touch_token(self, token_hash: str) -> None: ...
    async def roll_session(self, session_id: str, ttl_seconds: int) -> None: ...


@dataclass(frozen=True, slots=True)
class ProjectRef:
    """A project a reference resolved to, and whether the asking user is a member of it."""

    id: str
    name: str
    is_member: bool


class ProjectDirectory(Protocol):
    """Resolves project references (id or name) within one tenant."""

    async def lookup(self, tenant_id: str, user_id: str, ref: str) -> ProjectRef | None: ...
    async def member_project_ids(self, tenant_id: str, user_id: str) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class UserRef:
    """A user account found by exact email within one tenant."""

    id: str
    email: str


@dataclass(frozen=True, slots=True)
class ProjectRecord:
    """A project, with the asking user's role in it (None when they are not a member)."""

    id: str
    name: str
    owner_user_id: str
    created_at: datetime
    role: str | None


@dataclass(frozen=True, slots=True)
class MemberRecord:
    user_id: str
    email: str
    role: str
    joined_at: datetime


class ProjectStore(ProjectDirectory, Protocol):
    """Projects, memberships and the per-user active project, always within one tenant."""

    async def create(self, tenant_id: str, owner_user_id: str, project_id: str, name: str) -> ProjectRecord: ...
    async def get(self, tenant_id: str, user_id: str, project_id: str) -> ProjectRecord | None: ...
    async def list_for_user(self, tenant_id: str, user_id: str) -> list[ProjectRecord]: ...
    async def delete(self, tenant_id: str, project_id: str) -> int | None: ...
    async def members(self, tenant_id: str, project_id: str) -> list[MemberRecord]: ...
    async def member_counts(self, tenant_id: str, project_ids: Sequence[str]) -> dict[str, int]: ...
    async def entry_count(self, tenant_id: str, project_id: str) -> int: ...
    async def user_by_email(self, tenant_id: str, email: str) -> UserRef | None: ...
    async def add_member(self, tenant_id: str, project_id: str, user_id: str, role: str) -> bool: ...
    async def remove_member(self, tenant_id: str, project_id: str, user_id: str) -> bool: ...
    async def active(self, tenant_id: str, user_id: str) -> ProjectRecord | None: ...
    async def set_active(self, tenant_id: str, user_id: str, project_id: str) -> None: ...
    async def clear_active(self, tenant_id: str, user_id: str) -> None: ...


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """An API token as stored: never its plaintext, only the SHA-256."""

    token_hash: str
    user_id: str
    label: str
    scope: str
    project_id: str | None
    expires_at: datetime | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenStore(Protocol):
    """API tokens of the users of one tenant."""

    async def insert(
        self,
        tenant_id: str,
        user_id: str,
        token_hash: str,
        *,
        label: str,
        scope: str,
        project_id: str | None,
        expires_in_days: int | None,
    ) -> TokenRecord: ...
    async def list_for_user(self, tenant_id: str, user_id: str) -> list[TokenRecord]: ...
    async def revoke(self, tenant_id: str, user_id: str, token_hash: str) -> bool: ...
    async def revoke_any(self, tenant_id: str, token_hash: str) -> bool: ...
    async def rotate(self, tenant_id: str, user_id: str, old_hash: str, new_hash: str) -> TokenRecord | None: ...


class MemoryStore(Protocol):
    """Memory rows, their keyword/vector candidates, source refs and graph edges."""

    async def prepare_vector_space(self) -> int: ...
    async def settle(self) -> None:
        """Wait for upkeep that writes started in the background (a refresh of the planner's statistics)."""
        ...

    async def find_duplicate(self, target: WriteTarget, content_hash: str) -> MemoryEntry | None: ...
    async def find_duplicates(
        self, tenant_id: str, organization_id: str | None, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], MemoryEntry]: ...
    async def insert_many(
        self, drafts: Sequence[EntryDraft], *, fanout: int, replace_ids: Sequence[str] = ()
    ) -> set[str]: ...
    async def insert(
        self,
        draft: EntryDraft,
        *,
        fanout: int,
        replace_id: str | None = None,
        supersede: tuple[str, dict[str, Any]] | None = None,
    ) -> int: ...
    async def add_source_refs(self, entry: MemoryEntry, refs: Sequence[str], namespace: str) -> None: ...
    async def join_namespaces(
        self, tenant_id: str, organization_id: str | None, joins: Sequence[tuple[str, str, Sequence[str]]]
    ) -> None: ...
    async def touch(
        self,
        tenant_id: str,
        ids: Sequence[str],
        *,
        counts: Sequence[int] | None = None,
        promote: bool = True,
        now: datetime | None = None,
    ) -> int: ...
    async def update(
        self,
        entry: MemoryEntry,
        *,
        content: str | None,
        content_hash: str | None,
        fields: dict[str, Any],
        embedding: list[float] | None,
        scope_key: str | None = None,
    ) -> None: ...
    async def delete(self, tenant_id: str, ids: Sequence[str], *, organization_id: str | None = None) -> list[str]: ...
    async def delete_by_source_ref(
        self, scope: ReadScope, source_ref: str, namespace: str | None = None
    ) -> list[str]: ...
    async def leave_namespace(self, scope: ReadScope, entry_id: str, namespace: str) -> bool: ...
    async def get(self, scope: ReadScope, entry_id: str) -> MemoryEntry | None: ...
    async def get_any(self, tenant_id: str, entry_id: str) -> MemoryEntry | None: ...
    async def candidates(
        self, scope: ReadScope, *, query: str, query_vector: list[float] | None, limit: int, keyword: bool
    ) -> tuple[list[MemoryEntry], dict[str, float], dict[str, float]]: ...
    async def keyword_hits(self, scope: ReadScope, *, query: str, limit: int) -> KeywordHits: ...
    async def vector_nearest(self, scope: ReadScope, vector: list[float], limit: int) -> VectorHits: ...
    async def hydrate(
        self,
        scope: ReadScope,
        *,
        keyword: KeywordHits | None,
        query_vector: list[float] | None,
        limit: int,
        vector_hits: VectorHits | None = None,
    ) -> tuple[list[MemoryEntry], dict[str, float], dict[str, float]]: ...
    async def nearest_active(
        self, target: WriteTarget, namespace: str, vector: list[float], limit: int
    ) -> list[tuple[MemoryEntry, float]]: ...
    async def recent(self, scope: ReadScope, k: int, since: datetime | None) -> list[MemoryEntry]: ...
    async def neighbors(self, scope: ReadScope, seed: MemoryEntry, depth: int, k: int) -> list[Neighbor]: ...
    async def namespace_counts(self, scope: ReadScope) -> NamespaceCounts: ...
    async def recently_updated(self, scope: ReadScope, limit: int) -> list[MemoryEntry]: ...
    async def owed_embeddings(self, limit: int) -> list[OwedEmbedding]: ...
    async def owed_embeddings_for(self, ids: Sequence[str]) -> list[OwedEmbedding]: ...
    async def store_embeddings(self, items: Sequence[tuple[OwedEmbedding, list[float]]], fanout: int) -> int: ...
    async def count_owed(self) -> int: ...
    async def purge_expired(self) -> int: ...
    async def export_page(self, scope: ReadScope, after_id: str | None, limit: int) -> list[MemoryEntry]: ...
    async def browse(self, scope: ReadScope, page: BrowseFilter, limit: int) -> list[MemoryEntry]: ...
    async def access_counts(self, tenant_id: str, ids: Sequence[str]) -> dict[str, AccessCount]: ...


class ChangeFeedStore(Protocol):
    """The per-user change feed (`memory_changes`): written by the memory store, read and pruned here."""

    async def changes(
        self, scope: ReadScope, *, since: datetime | None, after_seq: int | None, limit: int
    ) -> list[dict[str, Any]]: ...
    async def prune(self, older_than_days: int) -> int: ...


@dataclass(frozen=True, slots=True)
class QuotaOverride:
    """A user's own limits; None means the server default applies."""

    max_entries: int | None
    writes_per_minute: int | None


class QuotaStore(Protocol):
    """Per-user quota overrides and the entry counts they are checked against."""

    async def override(self, tenant_id: str, user_id: str) -> QuotaOverride: ...
    async def set_override(self, tenant_id: str, user_id: str, quota: QuotaOverride) -> bool: ...
    async def count_entries(self, tenant_id: str, user_id: str) -> int: ...


class SelfServiceStore(Protocol):
    """Per-user activity and onboarding state, read across the identity and memory tables of one tenant."""

    async def activity(self, scope: ReadScope, hours: int, limit: int) -> list[dict[str, Any]]: ...
    async def onboarding(self, tenant_id: str, user_id: str) -> dict[str, bool]: ...


class ObservationLogs(Protocol):
    """The observer's logs, one per (tenant, user, project or none)."""

    async def get(self, tenant_id: str, user_id: str, project_id: str | None) -> ObservationLog | None: ...
    async def save(self, log: ObservationLog) -> bool:
        """Store `log` if the stored one is still at `log.revision` (0: there is none yet); the stored
        revision then moves on by one. False when another pass saved first (nothing is written)."""
        ...

    async def busy_owners(self, since_id: str, threshold: int, limit: int) -> list[tuple[str, str, str | None]]:
        """Owners (tenant, user, project or None) with at least `threshold` active memories in namespace
        `default` written after `since_id` (derived facts left out), busiest last-written first."""
        ...


class DecayLog(Protocol):
    """Decay passes (deployment-wide): the bulk demotion, and one `decay_runs` row per pass carrying the
    promotions counted since the previous one."""

    async def demote_idle(self, now: datetime, *, base_days: float) -> int: ...
    async def record(
        self, started_at: datetime, finished_at: datetime, *, demoted: int, effective_days: float | None
    ) -> int: ...


class LeaderLock(Protocol):
    """Deployment-wide leadership: at most one replica holds it at a time."""

    async def acquire(self) -> bool: ...
    async def release(self) -> None: ...
