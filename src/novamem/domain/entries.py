"""Memory entries and the rules applied to their content before anything is stored."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from typing import Any, overload

from novamem.error_messages import REJECTED_FILLER, REJECTED_TOO_LONG, REJECTED_TOO_SHORT

__all__ = [
    "DEFAULT_NAMESPACE",
    "EntryDraft",
    "LifecycleStatus",
    "MemoryEntry",
    "Sensitivity",
    "content_hash",
    "gate_rejection",
    "infer_sensitivity",
    "iso",
    "now_utc",
    "utf16_len",
]

DEFAULT_NAMESPACE = "default"
MIN_DURABLE_CHARS = 12
_FILLER = re.compile(r"^(thanks?|ok(ay)?|sure|got it|great|cool|yes|no|nope|yep|alright|noted|done)\.?$", re.IGNORECASE)
_SECRET_SNIFF = re.compile(
    r"api[ _-]?key|\btoken\b|\bsecret\b|password|private[ _-]key|\bbearer\b|\bsk-[A-Za-z0-9_-]{8,}",
    re.IGNORECASE,
)


class Sensitivity(IntEnum):
    """Ordered sensitivity levels; reads show entries at or below the caller's maximum."""

    PUBLIC = 0
    INTERNAL = 1
    PRIVATE = 2
    SENSITIVE = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str | None) -> Sensitivity | None:
        if value is None:
            return None
        try:
            return cls[value.upper()]
        except KeyError:
            return None


class LifecycleStatus(StrEnum):
    """Whether an entry still speaks for the present."""

    ACTIVE = "active"
    SUPERSEDED = "superseded"
    DEPRECATED = "deprecated"


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit the wire contract counts in."""
    return len(text.encode("utf-16-le")) // 2


def content_hash(content: str) -> str:
    """sha256 hex of the trimmed content: the exact-duplicate key."""
    return hashlib.sha256(content.strip().encode("utf-8")).hexdigest()


def gate_rejection(content: str, *, max_chars: int, force: bool) -> str | None:
    """Why a write is refused (worthiness gate unless forced, then the length cap), or None."""
    trimmed = content.strip()
    if not force:
        if utf16_len(trimmed) < MIN_DURABLE_CHARS:
            return REJECTED_TOO_SHORT
        if _FILLER.match(trimmed):
            return REJECTED_FILLER
    if max_chars and len(trimmed) > max_chars:
        return REJECTED_TOO_LONG.format(length=len(trimmed), limit=max_chars)
    return None


def infer_sensitivity(content: str, explicit: Sensitivity | None, metadata: dict[str, Any]) -> Sensitivity:
    """Explicit field, else `metadata.sensitivity`, else `sensitive` when it smells of secrets, else private."""
    if explicit is not None:
        return explicit
    from_meta = metadata.get("sensitivity")
    if isinstance(from_meta, str) and (parsed := Sensitivity.parse(from_meta)) is not None:
        return parsed
    if _SECRET_SNIFF.search(content):
        return Sensitivity.SENSITIVE
    return Sensitivity.PRIVATE


@overload
def iso(ts: datetime) -> str: ...
@overload
def iso(ts: None) -> None: ...
@overload
def iso(ts: datetime | None) -> str | None: ...
def iso(ts: datetime | None) -> str | None:
    """Render like JavaScript's toISOString: UTC, milliseconds, `Z`."""
    if ts is None:
        return None
    ts = ts.astimezone(UTC)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


@dataclass(slots=True)
class MemoryEntry:
    """One stored memory as the services see it."""

    id: str
    tenant_id: str
    user_id: str
    project_id: str | None
    namespace: str
    content: str
    source: str
    agent_name: str | None
    metadata: dict[str, Any]
    cold: bool
    source_type: str | None
    captured_from: str | None
    confidence: float
    created_at: datetime
    updated_at: datetime
    embedded: bool = False
    status: LifecycleStatus = LifecycleStatus.ACTIVE
    expires_at: datetime | None = None
    occurred_at: datetime | None = None  # when the thing it talks about happened (None: unknown)
    signals: dict[str, float] = field(default_factory=dict)
    score: float = 0.0
    organization_id: str | None = None  # an on-behalf-of caller's organization (None for everyone else)

    @property
    def tier(self) -> str:
        return "cold" if self.cold else "warm"

    @property
    def memory_type(self) -> str | None:
        value = self.metadata.get("memoryType")
        return value if isinstance(value, str) else None


@dataclass(slots=True)
class EntryDraft:
    """A memory about to be inserted: everything but the timestamps the database sets."""

    id: str
    tenant_id: str
    user_id: str
    project_id: str | None
    scope_key: str
    namespace: str
    content: str
    content_hash: str
    source: str
    agent_name: str | None
    metadata: dict[str, Any]
    source_type: str | None
    captured_from: str | None
    confidence: float
    sensitivity: Sensitivity
    expires_at: datetime | None
    source_refs: list[str]
    embedding: list[float] | None = None
    status: LifecycleStatus = LifecycleStatus.ACTIVE
    organization_id: str | None = None  # an on-behalf-of caller's organization (None for everyone else)
    # the author's entry quota (None: no cap): the store refuses the insert, in its transaction, when it
    # would leave the author holding more entries than this
    entry_cap: int | None = None
    occurred_at: datetime | None = None  # when the thing it talks about happened (None: unknown)


def now_utc() -> datetime:
    return datetime.now(UTC)
