"""Request and result models of the v1 data plane (remember, capture, search, context, recent, ...)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from novamem.services.wire import (
    ContentMode,
    EntryId,
    Namespace,
    NamespaceItem,
    OmitNone,
    Out,
    ProjectRef,
    SensitivityName,
    SourceRef,
    StrictWire,
    Wire,
)

__all__ = [
    "BrowsePage",
    "BrowseRequest",
    "CaptureResult",
    "ContextPack",
    "ContextRequest",
    "ContextResponse",
    "ForgetRequest",
    "ForgetResponse",
    "MemoryCreate",
    "MemoryDetail",
    "MemoryUpdate",
    "MemoryView",
    "NamespaceStats",
    "NeighborsRequest",
    "OccurredAt",
    "PackItem",
    "Probe",
    "RecapRequest",
    "RecapResponse",
    "RecentRequest",
    "RecentResponse",
    "ScopeIn",
    "SearchRequest",
    "SearchResponse",
    "StatsResponse",
    "TodayRequest",
    "UpdateResponse",
    "WeightsIn",
    "WriteFields",
    "parse_occurred_at",
]


class WeightsIn(Wire):
    """Per-request signal weights; omitted fields keep the server default, 0 switches a signal off."""

    keyword: float | None = Field(None, ge=0, le=10)
    vector: float | None = Field(None, ge=0, le=10)
    graph: float | None = Field(None, ge=0, le=10)
    recency: float | None = Field(None, ge=0, le=10)
    entity: float | None = Field(None, ge=0, le=10)
    time: float | None = Field(
        None, ge=0, le=10, description="boost for memories inside the time the query names (`last year`, `in May 2023`)"
    )


class ScopeIn(Wire):
    """Read-scope fields shared by every read."""

    namespace: Namespace | None = Field(None, description="read one namespace (default: every namespace)")
    include_namespaces: list[NamespaceItem] | None = Field(
        None, max_length=16, description="read these namespaces; takes precedence over `namespace`"
    )
    project: ProjectRef | None = Field(None, description="project id or name (default: your own memories)")
    include_projects: list[ProjectRef] | None = Field(
        None, max_length=16, description="your own memories plus each of these projects"
    )
    max_sensitivity: SensitivityName = Field(
        "private", description="hide memories above this level (public < internal < private < sensitive)"
    )


class SearchRequest(ScopeIn):
    query: str = Field(min_length=1, max_length=8192, description="what to look for, in natural language")
    k: int = Field(10, ge=1, le=200, description="how many results")
    agent_name: str | None = Field(
        None, max_length=128, description="only memories written by this agent; null: only those without one"
    )
    weights: WeightsIn | None = Field(None, description="per-signal weights overriding the server's defaults")
    content_mode: ContentMode = Field("full", description="`full`, `snippet` (first ~240 chars) or `ids`")
    as_of: str | None = Field(None, max_length=64, description="Accepted for compatibility; no effect.")
    decompose: bool = Field(
        False, description="split a complex question into sub-queries and fuse their results (when configured)"
    )
    expand_source_chunks: bool = True
    rerank: bool | None = Field(
        None, description="false keeps the fused order; absent or true reranks with the server's cross-encoder"
    )
    min_vector_score: float | None = Field(
        None, ge=0, le=1, description="drop matches found only by a vector score below this (model-specific)"
    )
    max_tokens: int | None = Field(
        None, ge=1, le=1_000_000, description="token budget for the returned contents (~4 chars a token)"
    )


class ContextRequest(ScopeIn):
    message: str = Field(min_length=1, max_length=8192)
    k: int = Field(8, ge=1, le=50)
    weights: WeightsIn | None = None
    as_of: str | None = Field(None, max_length=64)
    decompose: bool = Field(
        False, description="split a complex question into sub-queries and fuse their results (when configured)"
    )
    expand_source_chunks: bool = True
    rerank: bool | None = Field(
        None, description="false keeps the fused order; absent or true reranks with the server's cross-encoder"
    )
    max_tokens: int = Field(6000, ge=1, le=1_000_000)


class RecentRequest(ScopeIn):
    k: int = Field(20, ge=1, le=200)
    since: datetime | None = None
    content_mode: ContentMode = "full"

    @field_validator("since", mode="before")
    @classmethod
    def _parse_since(cls, value: Any) -> Any:
        return _parse_datetime(value, "since")


class TodayRequest(ScopeIn):
    """Recent memories of the last 24 hours (`memory_today`): `POST /v1/recent` with `since` = now − 24 h."""

    k: int = Field(20, ge=1, le=200)
    content_mode: ContentMode = "full"


class BrowseRequest(ScopeIn):
    """One page of memories, newest first, narrowed by filters; page on with `before`, back with `after`."""

    source: str | None = Field(None, max_length=128, description="only memories with exactly this source label")
    agent_name: str | None = Field(
        None, max_length=128, description="only memories written by this agent; null: only those without one"
    )
    tier: Literal["warm", "cold"] | None = Field(None, description="only warm or only cold memories")
    sensitivity: SensitivityName | None = Field(
        None, description="only memories at exactly this level (it also lifts `maxSensitivity` to it)"
    )
    before: EntryId | None = Field(None, description="the entries just older than this id (the next page)")
    after: EntryId | None = Field(None, description="the entries just newer than this id (the previous page)")
    limit: int = Field(20, ge=1, le=200, description="page size")

    @model_validator(mode="after")
    def _one_cursor(self) -> BrowseRequest:
        if self.before is not None and self.after is not None:
            raise ValueError("give at most one of before or after")
        return self


class NeighborsRequest(Wire):
    id: EntryId = Field(description="the seed memory")
    depth: int = Field(1, ge=1, le=3)
    k: int = Field(10, ge=1, le=50)
    project: ProjectRef | None = None
    include_projects: list[ProjectRef] | None = Field(None, max_length=16)
    include_namespaces: list[NamespaceItem] | None = Field(None, max_length=16)
    max_sensitivity: SensitivityName = "private"


def _parse_datetime(value: Any, name: str, *, need_offset: bool = False) -> Any:
    if value is None or not isinstance(value, str):
        return value
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name} must be an ISO-8601 timestamp") from None
    if need_offset and parsed.tzinfo is None:
        raise ValueError(f"{name} must include a UTC offset (e.g. 2030-01-01T00:00:00Z)")
    return parsed


_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_occurred_at(value: Any) -> Any:
    """`occurredAt` as a request gives it: an ISO-8601 time with a UTC offset, or a date alone
    (`YYYY-MM-DD`, read as that day's start in UTC); anything else is refused."""
    if value is None or isinstance(value, datetime):
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError("occurredAt must include a UTC offset (e.g. 2023-05-08T13:56:00Z)")
        return value
    if not isinstance(value, str):
        raise ValueError("occurredAt must be an ISO-8601 string")
    text = value.strip()
    if _DATE_ONLY.match(text):
        try:
            return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            raise ValueError("occurredAt must be an ISO-8601 date or timestamp") from None
    return _parse_datetime(text, "occurredAt", need_offset=True)


OccurredAt = Annotated[
    datetime | None,
    BeforeValidator(parse_occurred_at),
    Field(
        description="when the thing this memory talks about happened (ISO-8601 with offset, or `YYYY-MM-DD`);"
        " recency counts from it, and queries naming a time match it"
    ),
]


class WriteFields(Wire):
    """Fields shared by remember and capture."""

    namespace: Namespace | None = Field(None, description="shelf to store in (default `default`)")
    source: str | None = Field(None, max_length=128, description="free-text origin label")
    agent_name: str | None = Field(None, max_length=128, description="the agent writing this memory")
    project: ProjectRef | None = Field(None, description="project id or name to store in")
    metadata: dict[str, Any] | None = Field(None, description="arbitrary JSON kept with the memory (≤ 8 KB)")
    sensitivity: SensitivityName | None = Field(
        None, description="explicit level; otherwise inferred (secrets → sensitive, else private)"
    )
    source_type: str | None = Field(None, max_length=64, description="e.g. chat, email, code-review, doc")
    captured_from: str | None = Field(None, max_length=256, description="conversation id, channel or agent")
    confidence: float | None = Field(None, ge=0, le=1, description="how sure the writer is (default 1)")
    force: bool = Field(False, description="skip the worthiness gate (the length cap still applies)")
    expires_at: datetime | None = Field(
        None, description="ISO-8601 time with offset after which the memory is hidden and purged"
    )
    source_refs: list[SourceRef] | None = Field(
        None,
        max_length=32,
        description="external references (a session, a transcript, a document); memories of one source stored in"
        " order are linked to the ones written just before and after them, which search follows from a strong"
        " hit; `forget` by sourceRef deletes every carrier",
    )
    occurred_at: OccurredAt = None
    split: bool = Field(
        False,
        strict=True,
        description="a text over the length cap is stored as sentence-aware pieces under it instead of being"
        " rejected, all carrying one generated source ref (answered as `sourceRef`, ids in `pieces`)",
    )

    @field_validator("expires_at", mode="before")
    @classmethod
    def _parse_expiry(cls, value: Any) -> Any:
        return _parse_datetime(value, "expiresAt", need_offset=True)

    @field_validator("metadata")
    @classmethod
    def _metadata_size(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return value
        import json

        if len(json.dumps(value)) > 8192:
            raise ValueError("metadata must serialise to at most 8192 bytes")
        if any(len(k) > 64 for k in value):
            raise ValueError("metadata keys must be at most 64 characters")
        return value


class MemoryCreate(WriteFields):
    content: str = Field(min_length=1, max_length=262_144, description="the fact, one per memory")


RecapItem = Annotated[str, StringConstraints(min_length=12, max_length=4000)]


class RecapRequest(StrictWire):
    decisions: list[RecapItem] = Field(default_factory=list, max_length=50)
    setup_facts: list[RecapItem] = Field(default_factory=list, max_length=50)
    root_causes: list[RecapItem] = Field(default_factory=list, max_length=50)
    preferences: list[RecapItem] = Field(default_factory=list, max_length=50)
    project_conventions: list[RecapItem] = Field(default_factory=list, max_length=50)
    safety_constraints: list[RecapItem] = Field(default_factory=list, max_length=50)
    other: list[RecapItem] = Field(default_factory=list, max_length=50)
    namespace: Namespace | None = None
    source: str | None = Field(None, max_length=128)
    source_type: str | None = Field(None, max_length=64)
    captured_from: str | None = Field(None, max_length=256)
    agent_name: str | None = Field(None, max_length=128)
    confidence: float | None = Field(None, ge=0, le=1)
    force: bool = False
    project: ProjectRef | None = None
    metadata: dict[str, Any] | None = None
    sensitivity: SensitivityName | None = None


class MemoryUpdate(Wire):
    content: str | None = Field(None, min_length=1, max_length=262_144)
    namespace: Namespace | None = None
    metadata: dict[str, Any] | None = None
    sensitivity: SensitivityName | None = None
    source_type: str | None = Field(None, max_length=64)
    captured_from: str | None = Field(None, max_length=256)
    confidence: float | None = Field(None, ge=0, le=1)
    project: ProjectRef | None = None
    occurred_at: OccurredAt = Field(None, description="when the thing happened (null clears it; absent keeps it)")


class ForgetRequest(Wire):
    id: EntryId | None = Field(None, description="delete this memory")
    source_ref: SourceRef | None = Field(None, description="delete every memory carrying this reference")
    project: ProjectRef | None = None
    namespace: Namespace | None = Field(
        None,
        description="forget only from this namespace: a memory also stored under other namespaces stays there"
        " (it is deleted once it is in none)",
    )

    @model_validator(mode="before")
    @classmethod
    def _snake_alias(cls, data: Any) -> Any:
        if isinstance(data, dict) and "source_ref" in data and "sourceRef" not in data:
            data = {**data, "sourceRef": data["source_ref"]}
            del data["source_ref"]
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> ForgetRequest:
        if (self.id is None) == (self.source_ref is None):
            raise ValueError("give exactly one of id or sourceRef")
        return self


class MemoryView(Out):
    """One memory as reads return it."""

    id: str
    score: float
    content: OmitNone[str] = None
    tier: Literal["warm", "cold"] = Field(
        description="`cold`: unused for longer than its lifespan (decay); still found, and warm again once a "
        "search or context returns it"
    )
    namespace: str
    project: str | None
    source: str
    metadata: OmitNone[dict[str, Any]] = Field(
        None,
        description="as stored; a fact derived by extraction carries `fact` (type, subject, predicate, object, "
        "importance) and `source_chunk_id`, the memory it came from",
    )
    signals: OmitNone[dict[str, float]] = None
    truncated: OmitNone[bool] = None
    occurred_at: str | None = Field(None, description="when the thing happened, null when unknown")


class MemoryDetail(Out):
    """One memory with everything stored about it: provenance, sensitivity, lifecycle and hit count."""

    id: str
    content: str
    tier: Literal["warm", "cold"]
    namespace: str
    project: str | None
    source: str
    agent_name: str | None
    sensitivity: str = Field(description="public, internal, private or sensitive")
    source_type: str | None
    captured_from: str | None
    confidence: float
    status: str = Field(description="active, superseded or deprecated (only active ones are searched)")
    created_at: str
    updated_at: str
    expires_at: str | None
    occurred_at: str | None = Field(None, description="when the thing happened, null when unknown")
    hits: int = Field(description="how often searches returned it (and exact re-remembers)")
    last_accessed_at: str | None
    metadata: dict[str, Any]


class BrowsePage(Out):
    """A page of memories, newest first, with the cursors of its neighbouring pages (null: none)."""

    entries: list[MemoryDetail]
    next_before: str | None = Field(description="pass as `before` for the next (older) page")
    previous_after: str | None = Field(description="pass as `after` for the previous (newer) page")


class CaptureResult(Out):
    """The outcome of one write: `id` is always there (null when rejected), the other fields only when set."""

    id: str | None
    rejected: OmitNone[str] = None
    deduplicated: OmitNone[bool] = None
    updated: OmitNone[bool] = None
    superseded: OmitNone[list[str]] = None
    embedded: OmitNone[bool] = None
    pieces: OmitNone[list[str]] = Field(None, description="a split write: the ids of all its pieces, in order")
    source_ref: OmitNone[str] = Field(
        None, description="a split write: the source ref every piece carries (forget by it removes them all)"
    )


class SearchResponse(Out):
    results: list[MemoryView]
    degraded: bool = Field(description="true when a signal could not be computed (e.g. the embedder is down)")


class RecentResponse(Out):
    results: list[MemoryView]


class PackItem(Out):
    """One memory in the context pack."""

    id: str
    content: str
    namespace: str
    project: str | None
    memory_type: str | None
    tier: Literal["warm", "cold"]


class ContextPack(Out):
    """Relevant and recent memories grouped by what they are about; one memory may sit in several groups."""

    user_global: list[PackItem]
    project_scoped: list[PackItem]
    user_preferences: list[PackItem]
    current_setup: list[PackItem]
    project_conventions: list[PackItem]
    decisions: list[PackItem]
    bug_root_causes: list[PackItem]
    deployment_state: list[PackItem]
    safety_constraints: list[PackItem]
    pitfalls: list[PackItem]
    recent_decisions: list[PackItem]
    all: list[PackItem]


class ContextResponse(Out):
    relevant: SearchResponse
    recent: RecentResponse
    context_pack: ContextPack = Field(
        description="memories grouped by kind: userGlobal, projectScoped, userPreferences, currentSetup, "
        "projectConventions, decisions, bugRootCauses, deploymentState, safetyConstraints, pitfalls, "
        "recentDecisions, all"
    )
    guidance: str


class RecapResponse(Out):
    saved: int
    results: list[CaptureResult]


class UpdateResponse(Out):
    id: str
    updated: bool
    embedding_changed: bool


class ForgetResponse(Out):
    """By id: `{deleted, coldDeleteOk}`; by source ref: `{sourceRef, ids, count, coldDeleteOk}`."""

    deleted: OmitNone[bool] = Field(None, description="by id: whether a memory was deleted")
    source_ref: OmitNone[str] = Field(None, description="by source ref: the ref that was matched")
    ids: OmitNone[list[str]] = None
    count: OmitNone[int] = None
    cold_delete_ok: bool


class NamespaceStats(Out):
    warm: int
    cold: int


class StatsResponse(Out):
    by_namespace: dict[str, NamespaceStats] = Field(
        description="warm and cold counts per namespace; a memory counts in each namespace it is a member of"
    )
    total_warm: int = Field(description="warm memories, each counted once whatever its namespaces")
    total_cold: int = Field(description="cold memories, each counted once")
    last_decay_at: str | None
    uptime_ms: int


class Probe(Out):
    ok: bool
