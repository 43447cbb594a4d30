"""The dream cycle's storage contract: the persisted walk cursor, nearest-neighbour pairs of the walked
entries, applying merges, and `co_inferred` edge promotion.

This is deployment work across every tenant (like the expiry purge), never a read on a caller's behalf:
each pair and each merge stays inside one tenant, owner (a user's globals or one project), organization
and home namespace by construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from novamem.domain.dream import DreamCandidate, Merge

__all__ = ["DREAM_CURSOR_KEY", "DreamStore"]

# the `engine_state` key of the dedup-merge walk (the reference's key)
DREAM_CURSOR_KEY = "dream:cursor"


class DreamStore(Protocol):
    """Where the dream cycle reads and changes memories."""

    async def take_walk(self, limit: int) -> list[str]:
        """Claim the next `limit` mergeable entry ids after the persisted cursor and move the cursor past
        them (back to the start when fewer remain), committed before the caller does any work with them."""
        ...

    async def neighbour_pairs(self, ids: Sequence[str], k: int) -> list[tuple[DreamCandidate, DreamCandidate, float]]:
        """(entry, neighbour, cosine) for each walked entry's `k` nearest mergeable neighbours in its own tenant,
        owner, organization and home namespace (same sensitivity and agent), in walk order."""
        ...

    async def apply_merges(self, merges: Sequence[Merge]) -> int:
        """Fold each loser into its survivor (hits, last access, edges, namespaces, source refs) and delete the
        loser, in transactions of up to 100 merges (one that loses a deadlock to a concurrent hit count is
        tried again); a merge whose entries changed or vanished meanwhile is skipped. Returns the merges
        applied."""
        ...

    async def promote_edges(self) -> int:
        """Insert a `co_inferred` edge between every pair of entries of one owner that share enough
        `co_occurs` neighbours (where none exists yet); returns the edges inserted."""
        ...
