"""Wire models of self-service data: export, import, the change feed, today's activity and onboarding."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator

from novamem.services.memory.models import OccurredAt, WriteFields
from novamem.services.wire import Namespace, Out, ProjectRef, Wire

__all__ = [
    "ChangeView",
    "ChangesQuery",
    "ChangesResponse",
    "ExportEntry",
    "ExportResponse",
    "ImportFailure",
    "ImportItem",
    "ImportRequest",
    "ImportResponse",
    "OnboardingResponse",
    "TodayEvent",
    "TodayResponse",
]


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
    occurred_at: OccurredAt = None

    @field_validator("metadata")
    @classmethod
    def _metadata_size(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        # the metadata limits of every write apply to imports too
        return WriteFields._metadata_size(value)


class ImportRequest(Wire):
    entries: list[ImportItem] = Field(min_length=1, max_length=200)


class ChangesQuery(Wire):
    """The query of `GET /v1/me/changes`: changes at or after `since`, resumed after `afterSeq`."""

    since: datetime | None = Field(None, description="only changes at or after this time")
    after_seq: int | None = Field(None, ge=0, description="resume after this seq (the previous page's nextSeq)")
    limit: int = Field(100, ge=1, le=500)


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
    occurred_at: str | None = Field(None, description="when the thing happened, null when unknown")


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
