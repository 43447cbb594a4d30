"""Fact extraction's storage contract: claiming owed extractions, landing their facts only while the source
is unchanged, backing off after a failure, and counting the debt.

This is deployment work across every tenant (like the embeddings reconciler), never a read on a caller's
behalf: each fact lands in its source's tenant, owner, organization and namespace by construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

__all__ = ["FactDraft", "FactStore", "OwedExtraction"]


@dataclass(frozen=True, slots=True)
class OwedExtraction:
    """A claimed entry whose facts are owed, as it was when claimed (`revision`: its content version)."""

    id: str
    revision: int
    content: str
    written_at: datetime  # when it happened, else when it was stored
    sensitivity: str
    attempts: int


@dataclass(frozen=True, slots=True)
class FactDraft:
    """A fact ready to land under its source (which lends it owner, namespace, source and expiry)."""

    id: str
    content: str
    content_hash: str
    metadata: dict[str, Any]
    occurred_at: datetime | None
    embedding: list[float] | None


class FactStore(Protocol):
    """Where extraction debts are claimed and facts land."""

    async def claim_owed(self, limit: int, lease_s: float) -> list[OwedExtraction]:
        """Up to `limit` due extractions, oldest due first, each leased for `lease_s` (another drain skips it
        until then; a crashed drain's claims fall due again when the lease ends)."""
        ...

    async def land(self, owed: OwedExtraction, facts: Sequence[FactDraft]) -> int | None:
        """In one transaction: lock the source, and only if it still exists at `owed.revision` and still owes
        its facts, insert the facts (an exact duplicate in the same scope is skipped) and clear the debt.
        Returns the facts inserted, or None when the source changed or vanished (nothing is written)."""
        ...

    async def defer(self, owed: OwedExtraction, delay_s: float) -> None:
        """Count a failed attempt and make the debt due again in `delay_s`, unless the source changed
        meanwhile (its new version owes its own extraction, due now)."""
        ...

    async def count_owed(self) -> int:
        """Entries owing an extraction, across the deployment."""
        ...
