"""Storage contracts: what services may ask of an engine, and the plain values that cross the line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from novamem.domain.entries import EntryDraft, MemoryEntry
from novamem.domain.scope import ReadScope, WriteTarget

__all__ = ["LeaderLock", "MemoryStore", "NamespaceCounts", "Neighbor", "OwedEmbedding", "VectorSpace"]


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
class NamespaceCounts:
    by_namespace: dict[str, tuple[int, int]]
    last_decay_at: datetime | None


class MemoryStore(Protocol):
    """Memory rows, their keyword/vector candidates, source refs and graph edges."""

    async def prepare_vector_space(self) -> int: ...
    async def find_duplicate(self, target: WriteTarget, content_hash: str) -> MemoryEntry | None: ...
    async def insert(
        self,
        draft: EntryDraft,
        *,
        fanout: int,
        replace_id: str | None = None,
        supersede: tuple[str, dict[str, Any]] | None = None,
    ) -> int: ...
    async def add_source_refs(self, entry: MemoryEntry, refs: Sequence[str]) -> None: ...
    async def touch(self, tenant_id: str, ids: Sequence[str]) -> None: ...
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
    async def delete(self, tenant_id: str, ids: Sequence[str]) -> list[str]: ...
    async def delete_by_source_ref(self, scope: ReadScope, source_ref: str) -> list[str]: ...
    async def get(self, scope: ReadScope, entry_id: str) -> MemoryEntry | None: ...
    async def get_any(self, tenant_id: str, entry_id: str) -> MemoryEntry | None: ...
    async def candidates(
        self, scope: ReadScope, *, query: str, query_vector: list[float] | None, limit: int, keyword: bool
    ) -> tuple[list[MemoryEntry], dict[str, float], dict[str, float]]: ...
    async def nearest_active(
        self, target: WriteTarget, namespace: str, vector: list[float], limit: int
    ) -> list[tuple[MemoryEntry, float]]: ...
    async def recent(self, scope: ReadScope, k: int, since: datetime | None) -> list[MemoryEntry]: ...
    async def neighbors(self, scope: ReadScope, seed: MemoryEntry, depth: int, k: int) -> list[Neighbor]: ...
    async def namespace_counts(self, scope: ReadScope) -> NamespaceCounts: ...
    async def owed_embeddings(self, limit: int) -> list[OwedEmbedding]: ...
    async def owed_embeddings_for(self, ids: Sequence[str]) -> list[OwedEmbedding]: ...
    async def store_embeddings(self, items: Sequence[tuple[OwedEmbedding, list[float]]], fanout: int) -> int: ...
    async def count_owed(self) -> int: ...
    async def purge_expired(self) -> int: ...


class LeaderLock(Protocol):
    """Deployment-wide leadership: at most one replica holds it at a time."""

    async def acquire(self) -> bool: ...
    async def release(self) -> None: ...
