"""Per-user metrics storage contract: request counts per user, credential and minute, summed over replicas.

A credential is named by the SHA-256 of the API token that made the requests, or by `SESSION_CREDENTIAL`
for dashboard sessions. Every read takes the tenant and the user: nobody reads another user's numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from novamem.storage.base import TokenRecord

__all__ = [
    "SESSION_CREDENTIAL",
    "CredentialTotals",
    "MinuteCounts",
    "UsageDelta",
    "UserMetricsStore",
    "UserTokenList",
]

# the credential key of requests made with a dashboard session (no token hash)
SESSION_CREDENTIAL = ""


@dataclass(frozen=True, slots=True)
class MinuteCounts:
    """Counted requests in one UTC minute (of one credential, or of a user's every credential)."""

    minute: datetime
    queries: int
    remembers: int
    forgets: int


@dataclass(frozen=True, slots=True)
class UsageDelta:
    """What one replica counted for one credential in one minute since its last flush."""

    tenant_id: str
    user_id: str
    credential: str
    minute: datetime
    queries: int
    remembers: int
    forgets: int
    last_at: datetime


@dataclass(frozen=True, slots=True)
class CredentialTotals:
    """Lifetime counts of one credential of a user, and when it last made a counted request."""

    credential: str
    queries: int
    remembers: int
    forgets: int
    last_at: datetime | None


class UserMetricsStore(Protocol):
    """Additive per-user counters: deltas are added, never overwritten."""

    async def add(self, deltas: list[UsageDelta]) -> None:
        """Add one flush's deltas (buckets and lifetime totals) in one transaction."""
        ...

    async def totals(self, tenant_id: str, user_id: str) -> list[CredentialTotals]:
        """The user's lifetime counts, one row per credential that ever made a counted request."""
        ...

    async def minutes(self, tenant_id: str, user_id: str, since: datetime) -> list[MinuteCounts]:
        """The user's counts per minute from `since` on (all credentials summed), oldest first; minutes
        without any counted request are absent."""
        ...

    async def prune(self, before: datetime) -> int:
        """Drop the minute buckets older than `before`; the totals stay."""
        ...

    async def entry_tiers(self, tenant_id: str, user_id: str) -> tuple[int, int]:
        """How many of the user's own entries are warm and how many cold."""
        ...


class UserTokenList(Protocol):
    """A user's API tokens, oldest first, revoked ones included (`TokenStore` answers this)."""

    async def list_for_user(self, tenant_id: str, user_id: str) -> list[TokenRecord]: ...
