"""Tenants (`tenant` auth mode only): a server admin lists them and creates one with its first admin."""

from __future__ import annotations

from novamem.config import AuthMode
from novamem.domain.entries import iso
from novamem.domain.scope import Caller
from novamem.error_messages import SERVER_ADMIN_ONLY, TENANTS_NEED_TENANT_MODE
from novamem.errors import Forbidden, NotFound
from novamem.services.identity.account_models import TenantCreated, TenantList, TenantView
from novamem.services.identity.audit import AuditService
from novamem.services.identity.passwords import check_password_length, hash_password
from novamem.services.identity.users import normalise_email
from novamem.storage.accounts import AccountStore

__all__ = ["TenantService"]


class TenantService:
    """The deployment's tenants; outside `tenant` mode every use case answers `NotFound`."""

    def __init__(self, store: AccountStore, audit: AuditService, *, mode: AuthMode) -> None:
        self._store = store
        self._audit = audit
        self._mode = mode

    def _require_server_admin(self, caller: Caller) -> None:
        if self._mode is not AuthMode.TENANT:
            raise NotFound(TENANTS_NEED_TENANT_MODE)
        if not caller.is_server_admin:
            raise Forbidden(SERVER_ADMIN_ONLY)

    async def create(
        self, caller: Caller, *, name: str, admin_email: str, admin_password: str, request_ip: str | None = None
    ) -> TenantCreated:
        """A new tenant with its first admin (who must change the password at first sign-in)."""
        self._require_server_admin(caller)
        address = normalise_email(admin_email)
        check_password_length(admin_password)
        tenant, admin = await self._store.create_tenant(
            name.strip(), email=address, admin_name="tenant-admin", password_hash=await hash_password(admin_password)
        )
        await self._audit.record(
            caller,
            "admin.tenant.create",
            tenant.id,
            {"name": tenant.name, "adminUserId": admin.id},
            request_ip=request_ip,
        )
        return TenantCreated(id=tenant.id, name=tenant.name, created_at=iso(tenant.created_at), admin_user_id=admin.id)

    async def list_all(self, caller: Caller) -> TenantList:
        """Every tenant of the deployment (server admins, `tenant` mode only)."""
        self._require_server_admin(caller)
        return TenantList(
            tenants=[
                TenantView(id=t.id, name=t.name, created_at=iso(t.created_at)) for t in await self._store.list_tenants()
            ]
        )
