"""Fact consolidation's storage contract (the dream cycle's second step): the persisted fact walk, clusters of
near facts, and retiring outdated facts.

Deployment work across every tenant, like the rest of the dream cycle: a cluster holds facts of one tenant,
owner (a user's globals or one project), organization, sensitivity and agent by construction, and retiring
a fact re-checks that its replacement still shares all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from novamem.domain.fact_consolidation import FactMember, Supersession

__all__ = ["FACT_CURSOR_KEY", "FactConsolidationStore"]

# the `engine_state` key of the fact walk (the reference's key)
FACT_CURSOR_KEY = "dream_fact_cursor"


class FactConsolidationStore(Protocol):
    """Where fact consolidation reads and retires facts."""

    async def take_fact_walk(self, limit: int) -> list[str]:
        """Claim the next `limit` active embedded fact ids after the persisted cursor and move the cursor past
        them (back to the start when fewer remain), committed before the caller does any work with them."""
        ...

    async def fact_clusters(self, ids: Sequence[str], k: int, min_cosine: float) -> list[list[FactMember]]:
        """For each walked fact still active: the fact, then its up to `k` nearest active facts at cosine
        `min_cosine` or more in its own tenant, owner, organization, sensitivity and agent (walk order)."""
        ...

    async def supersede(self, supersessions: Sequence[Supersession]) -> int:
        """In one transaction, retire each `superseded` fact in favour of `by`: status `superseded`, metadata
        merged with `fact_inactive`, `superseded_at`, `superseded_by` and `superseded_via`, a `superseded`
        change-feed event and a `supersedes` edge from `by`. A pair is skipped unless both are still active
        facts of one tenant, owner, organization, sensitivity and agent (a fact retired earlier in the same
        call no longer replaces another). Returns the facts retired."""
        ...
