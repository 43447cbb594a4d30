"""Wire models of self-service data (export, import, usage, change feed, today, onboarding), quotas
and the operator routes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from novamem.services.memory.models import WriteFields
from novamem.services.wire import Namespace, Out, ProjectRef, Wire

__all__ = [
    "ChangeView",
    "ChangesResponse",
    "DecayRequest",
    "DecayResponse",
    "DreamCycleResponse",
    "ExportEntry",
    "ExportResponse",
    "ImportFailure",
    "ImportItem",
    "ImportRequest",
    "ImportResponse",
    "ObserveRequest",
    "ObserveResponse",
    "OnboardingResponse",
    "QuotaResponse",
    "QuotaUpdate",
    "QuotaView",
    "ReapResponse",
    "TodayEvent",
    "TodayResponse",
    "UsageResponse",
]

MAX_QUOTA = 2_147_483_647


class ImportItem(Wire):
    """One memory to import; ids are not preserved, and the same content in the same scope is merged."""

    content: str = Field(min_length=1, max_length=262_144)
    namespace: Namespace | None = None
    source: str | None = Field(None, max_length=128, description="default `import`")
    agent_name: str | None = Field(None, max_length=128)
    project: ProjectRef | None = Field(None, description="project id or name; must be one you are a member of")
    metadata: dict[str, Any] | None = None
    source_type: str | None = Field(None, max_length=64, description="default `import`")
    captured_from: str | None = Field(None, max_length=256, description="default `import`")
    confidence: float | None = Field(None, ge=0, le=1)

    @field_validator("metadata")
    @classmethod
    def _metadata_size(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        # the metadata limits of every write apply to imports too
        return WriteFields._metadata_size(value)


class ImportRequest(Wire):
    entries: list[ImportItem] = Field(min_length=1, max_length=200)


class QuotaUpdate(Wire):
    """Per-user overrides; null (or absent) falls back to the server default, 0 means unlimited."""

    max_entries: int | None = Field(None, ge=0, le=MAX_QUOTA, description="stored entries allowed")
    writes_per_minute: int | None = Field(None, ge=0, le=MAX_QUOTA, description="writes allowed per minute")


class DecayRequest(Wire):
    effective_days: float | None = Field(None, gt=0, le=3650, description="overrides the decay base in days")


class ObserveRequest(Wire):
    project: str | None = Field(None, max_length=128)
    limit: int = Field(20, ge=1, le=200)


# ---- responses ---------------------------------------------------------------------------------


class ExportEntry(Out):
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


class ExportResponse(Out):
    entries: list[ExportEntry]
    next_after_id: str | None = Field(description="pass as `afterId` for the next page; null at the end")


class ImportFailure(Out):
    index: int
    error: str


class ImportResponse(Out):
    imported: int
    deduplicated: int
    failed: list[ImportFailure]

    @property
    def all_failed(self) -> bool:
        """Nothing was imported or merged, and at least one item failed."""
        return self.imported == 0 and self.deduplicated == 0 and bool(self.failed)


class QuotaView(Out):
    max_entries: int | None = Field(description="null = unlimited")
    writes_per_minute: int | None = Field(description="null = unlimited")


class UsageResponse(Out):
    entries: int = Field(description="entries you wrote that are stored now")
    quota: QuotaView


class QuotaResponse(Out):
    user_id: str
    quota: QuotaView


class ChangeView(Out):
    seq: int
    entry_id: str
    project_id: str | None
    change: Literal["created", "updated", "superseded", "deleted", "expired"]
    detail: dict[str, Any]
    at: str


class ChangesResponse(Out):
    changes: list[ChangeView]
    next_seq: int | None = Field(description="pass as `afterSeq` to resume")


class TodayEvent(Out):
    kind: Literal["remember", "token", "project", "audit"]
    at: str
    text: str
    project: str | None = Field(description="project name, when the event belongs to one")


class TodayResponse(Out):
    events: list[TodayEvent]


class OnboardingResponse(Out):
    bootstrap_done: bool
    user_exists: bool
    minted_token: bool
    remembered: bool
    user_id: str


class DecayResponse(Out):
    demoted: int
    promoted: int
    expired: int


class ReapResponse(Out):
    attempted: int
    cleared: int
    abandoned: int
    pending: int
    total: int


class DreamCycleResponse(Out):
    """The contract's result of a dream cycle (this version answers 501 instead)."""

    walked: int
    merged: int
    edges_promoted: int
    facts_walked: int
    fact_clusters_judged: int
    facts_superseded: int
    duration_ms: int


class ObserveResponse(Out):
    """The contract's result of an observer pass (this version answers 503: the observer is disabled)."""

    observed: int
    reflected: int
    log_chars: int
