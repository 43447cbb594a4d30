"""The vector index contract: an optional engine (Qdrant) that answers the vector phase of search, fed
from PostgreSQL through the index outbox and rebuilt from it by `novamem reindex --vectors`.

PostgreSQL keeps every vector; the index holds a derived copy with the payload its filters need, so a
lost or stale index is repaired by a rebuild and never loses data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from novamem.domain.scope import ReadScope
from novamem.storage.index_outbox import IndexSink

__all__ = ["RebuildCheckpoints", "VectorIndex", "VectorRecord", "VectorSource"]


@dataclass(frozen=True, slots=True)
class VectorRecord:
    """An entry's vector under the active model, with everything a scope filter looks at."""

    entry_id: str
    tenant_id: str
    user_id: str
    project_id: str | None
    scope_key: str
    namespace: str
    organization_id: str | None
    agent_name: str | None
    sensitivity: int
    status: str
    expires_at: datetime | None
    vector: list[float]
    namespaces: tuple[str, ...] = ()  # every namespace the entry is a member of (its home one included)


class VectorSource(Protocol):
    """PostgreSQL's side of the vector index: the vectors of the active model, by id or in id order."""

    async def vector_records(self, entry_ids: Sequence[str]) -> list[VectorRecord]:
        """The records of those entries that exist and hold a vector of the active model."""
        ...

    async def vector_page(self, after_id: str | None, limit: int) -> list[VectorRecord]:
        """Up to `limit` records with ids above `after_id` (None: from the start), in id order (keyset)."""
        ...

    async def count_vectors(self) -> int:
        """How many entries hold a vector of the active model."""
        ...


class RebuildCheckpoints(Protocol):
    """Where an interrupted index rebuild resumes (shared by every replica and command)."""

    async def load(self, target: str, index_name: str) -> tuple[bool, str | None]:
        """(a rebuild is in progress, the last entry id it finished or None)."""
        ...

    async def begin(self, target: str, index_name: str) -> None:
        """Record that a rebuild of this index started from scratch."""
        ...

    async def advance(self, target: str, index_name: str, last_id: str) -> None:
        """Record that every entry up to `last_id` (id order) is in the index."""
        ...

    async def finish(self, target: str, index_name: str) -> None:
        """Forget the checkpoint: the rebuild is complete."""
        ...


class VectorIndex(IndexSink, Protocol):
    """A vector search engine kept in step from PostgreSQL (target `vector`)."""

    @property
    def name(self) -> str:
        """The index's name in its engine (one collection per embedding model and dimension)."""
        ...

    async def nearest(self, scope: ReadScope, vector: list[float], limit: int) -> list[str]:
        """Ids of the `limit` nearest entries the scope may read, nearest first.

        The engine applies the scope filter itself; callers still re-check the rows in PostgreSQL.
        Raises `novamem.errors.Unavailable` when the engine is down or slower than its timeout.
        """
        ...

    async def reset(self) -> None:
        """Drop and recreate the index, empty (the start of a rebuild)."""
        ...

    async def put(self, records: Sequence[VectorRecord]) -> None:
        """Insert or replace these records (idempotent: a point's id derives from its entry id)."""
        ...

    async def drop_others(self) -> list[str]:
        """Delete this deployment's indexes of other embedding models or dimensions (the engine's other
        indexes are never touched); returns their names."""
        ...

    async def count(self) -> int:
        """How many points the index holds (exact)."""
        ...

    async def entry_ids(self) -> list[str]:
        """Every entry id in the index (diagnostics and tests; reads the whole index)."""
        ...

    async def close(self) -> None:
        """Release the engine's client."""
        ...
