"""The index outbox contract: durable work items that keep derived indexes (Qdrant, FalkorDB) in step
with PostgreSQL, the sinks that apply them, and the store that queues them.

Flow: an `index_outbox` row is written in the same transaction as the memory change (by triggers on the
memory table, so SQL cascades are covered), for every enabled target (`vector`, `graph`).
A drainer (`services/memory/index_sync.py`) claims a batch per target, hands it to that target's
`IndexSink`, then marks it done, or failed with a backoff when the sink raises
`novamem.errors.Unavailable`. An index outage therefore never loses or blocks a write.

Item semantics, which make every sink idempotent and order-independent:
- `upsert`: make the index hold the entry exactly as PostgreSQL has it *now* (the sink reads the current
  row); if the entry is gone, or no longer indexable (e.g. its embedding is owed), remove it instead.
- `delete`: remove the entry from the index; removing an absent entry is not an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

__all__ = [
    "DEFAULT_CLAIM_LEASE_SECONDS",
    "IndexOutbox",
    "IndexSink",
    "OutboxItem",
    "OutboxOp",
    "OutboxTarget",
]

# how long a claimed batch is hidden from other drainers; a drainer that dies mid-batch loses it after this
DEFAULT_CLAIM_LEASE_SECONDS = 60.0


class OutboxTarget(StrEnum):
    """The derived index an outbox item is meant for."""

    VECTOR = "vector"
    GRAPH = "graph"


class OutboxOp(StrEnum):
    """What to do with the entry in the index."""

    UPSERT = "upsert"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One queued index change: an entry of a tenant to upsert into or delete from one target."""

    id: int
    target: str
    tenant_id: str
    entry_id: str
    op: str


class IndexSink(Protocol):
    """A derived index that consumes outbox items of one target (`vector` or `graph`)."""

    target: str

    async def apply(self, items: Sequence[OutboxItem]) -> None:
        """Apply a batch (idempotent; see the module docstring for the semantics of each op).

        Raises `novamem.errors.Unavailable` when the engine is down or too slow; the whole batch is then
        retried later, so a partly applied batch must be safe to apply again.
        """
        ...

    async def healthy(self) -> bool:
        """Whether the engine answers right now (cheap; used by /health and the drainer's back-off)."""
        ...


class IndexOutbox(Protocol):
    """The `index_outbox` queue, shared by every replica."""

    async def use_targets(self, targets: Sequence[str], *, exclusive: bool = True) -> None:
        """Enable `targets` for the deployment; items are queued only for enabled targets.

        `exclusive` (the server at start-up): these and no others; the queued items of others are dropped.
        Otherwise (command-line tools) the targets are only added, never removed."""
        ...

    async def enqueue(self, target: str, tenant_id: str, entry_ids: Sequence[str], op: str) -> int:
        """Queue one item per entry id (outside any memory transaction, e.g. for a rebuild); returns the count."""
        ...

    async def claim(
        self, target: str, limit: int, *, lease_seconds: float = DEFAULT_CLAIM_LEASE_SECONDS
    ) -> list[OutboxItem]:
        """Take up to `limit` due items of one target, oldest first, hiding them from other drainers for
        `lease_seconds` (`FOR UPDATE SKIP LOCKED`, so concurrent drainers never take the same rows)."""
        ...

    async def done(self, ids: Sequence[int]) -> None:
        """Delete applied items."""
        ...

    async def failed(self, ids: Sequence[int], error: str, *, base_seconds: float, max_seconds: float) -> None:
        """Record a failed attempt: count it, keep the error text, and push the next attempt out
        exponentially (`base_seconds * 2**attempts`, at most `max_seconds`)."""
        ...

    async def pending(self, tenant_id: str | None = None) -> dict[str, int]:
        """Queued items per target (every target listed, 0 when none); one tenant's when `tenant_id` is given."""
        ...
