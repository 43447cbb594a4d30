"""On-behalf-of service keys storage contract (one record type plus one Protocol).

Kept apart from `storage/base.py` so the key aggregate has its own narrow Protocol. A key belongs to one
tenant (the registering admin's) and one organization of it; only the raw Ed25519 public key is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

__all__ = ["ServiceKeyRecord", "ServiceKeyStore"]


@dataclass(frozen=True, slots=True)
class ServiceKeyRecord:
    """One registered key: `id` is the JWT `kid`, `public_key` the raw 32 bytes as base64url (no padding)."""

    id: str
    tenant_id: str
    name: str
    organization_id: str
    public_key: str
    created_at: datetime
    revoked_at: datetime | None = None
    created_by: str | None = None


class ServiceKeyStore(Protocol):
    """The service keys of every tenant; admin operations are held to one tenant, lookups go by `kid`."""

    async def insert(
        self, tenant_id: str, key_id: str, *, name: str, organization_id: str, public_key: str, created_by: str | None
    ) -> ServiceKeyRecord:
        """Store a new key and answer it as stored (with its creation time)."""
        ...

    async def list_for_tenant(self, tenant_id: str) -> list[ServiceKeyRecord]:
        """Every key of the tenant, revoked ones included, newest first."""
        ...

    async def revoke(self, tenant_id: str, key_id: str) -> bool:
        """Revoke a live key of the tenant; False when there is no such live key (unknown or already revoked)."""
        ...

    async def live(self, key_id: str) -> ServiceKeyRecord | None:
        """The unrevoked key with this id, in whichever tenant it is (authentication has only the `kid`)."""
        ...
