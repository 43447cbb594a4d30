"""On-behalf-of service keys (reference 8.4): an admin registers, lists and revokes the Ed25519 public keys
that platforms sign their end users' tokens with (`/v1/admin/service-keys`).

A key belongs to the registering admin's tenant and to one organization in it (never `default`, the
organization of every ordinary user). novamem never holds the private half. Revocation moves the auth
epoch in the same transaction, so the key's tokens stop working on the next request on every replica.
"""

from __future__ import annotations

from ulid import ULID

from novamem.domain.entries import iso
from novamem.domain.scope import Caller
from novamem.error_messages import SERVICE_KEY_NOT_FOUND
from novamem.errors import NotFound
from novamem.services.identity.access import require_admin
from novamem.services.identity.audit import AuditService
from novamem.services.identity.service_key_models import (
    ServiceKeyCreate,
    ServiceKeyList,
    ServiceKeyRevoked,
    ServiceKeyView,
)
from novamem.storage.service_keys import ServiceKeyRecord, ServiceKeyStore

__all__ = ["ServiceKeyService"]

_CODE = "YOU_ARE_NOT_ALLOWED_TO_MANAGE_SERVICE_KEYS"


def _view(record: ServiceKeyRecord) -> ServiceKeyView:
    return ServiceKeyView(
        id=record.id,
        name=record.name,
        organization_id=record.organization_id,
        public_key=record.public_key,
        created_at=iso(record.created_at),
        revoked_at=iso(record.revoked_at),
    )


class ServiceKeyService:
    """The admin use cases of service keys, always within the admin's tenant, each one audited."""

    def __init__(self, store: ServiceKeyStore, audit: AuditService) -> None:
        self._store = store
        self._audit = audit

    async def register(self, caller: Caller, req: ServiceKeyCreate, *, request_ip: str | None = None) -> ServiceKeyView:
        """Store a platform's public key for one organization; its id is the `kid` tokens must name."""
        require_admin(caller, _CODE)
        record = await self._store.insert(
            caller.tenant_id,
            str(ULID()),
            name=req.name,
            organization_id=req.organization_id,
            public_key=req.public_key,
            created_by=caller.user_id,
        )
        await self._audit.record(
            caller,
            "admin.service_key.create",
            record.id,
            {"name": record.name, "organizationId": record.organization_id},
            request_ip=request_ip,
        )
        return _view(record)

    async def list_keys(self, caller: Caller) -> ServiceKeyList:
        """Every key of the caller's tenant, newest first, revoked ones included."""
        require_admin(caller, _CODE)
        return ServiceKeyList(keys=[_view(r) for r in await self._store.list_for_tenant(caller.tenant_id)])

    async def revoke(self, caller: Caller, key_id: str, *, request_ip: str | None = None) -> ServiceKeyRevoked:
        """Revoke a live key; its tokens are refused from the next request on. `NotFound` for an unknown or
        already revoked key."""
        require_admin(caller, _CODE)
        if not await self._store.revoke(caller.tenant_id, key_id):
            raise NotFound(SERVICE_KEY_NOT_FOUND)
        await self._audit.record(caller, "admin.service_key.revoke", key_id, request_ip=request_ip)
        return ServiceKeyRevoked()
