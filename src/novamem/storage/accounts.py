"""Accounts storage contract: users, dashboard sessions and tenants (records plus one Protocol).

Kept apart from `storage/base.py` so the account aggregate has its own narrow Protocol. Every method
takes the tenant and filters by it, except `find_user_for_sign_in` (an email names one account on the
whole server, and sign-in happens before any tenant is known) and the deployment-wide janitor work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

__all__ = [
    "AccountStore",
    "EraseReport",
    "SessionRecord",
    "TenantRecord",
    "UserListing",
    "UserRecord",
]


@dataclass(frozen=True, slots=True)
class UserRecord:
    """One account row (the password hash never leaves the service layer)."""

    id: str
    tenant_id: str
    email: str
    name: str
    role: str
    password_hash: str | None
    must_change_password: bool
    banned: bool
    ban_reason: str | None
    ban_expires: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def banned_now(self) -> bool:
        """Banned, and the ban has not expired."""
        return self.banned and (self.ban_expires is None or self.ban_expires > datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class UserListing:
    """A user with how much they hold (the admin users list)."""

    user: UserRecord
    entry_count: int
    token_count: int


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A dashboard session (the table keeps only the SHA-256 of its token)."""

    id: str
    tenant_id: str
    user_id: str
    ip_address: str | None
    user_agent: str | None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class TenantRecord:
    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class EraseReport:
    """What erasing a user removed (or, for a dry run, would remove)."""

    user_id: str
    email: str
    entries: int
    tokens: int
    owned_projects: list[str]


class AccountStore(Protocol):
    """Users, sessions and tenants; every method filters by the tenant it is given."""

    async def create_user(
        self,
        tenant_id: str,
        *,
        email: str,
        name: str,
        role: str,
        password_hash: str | None,
        must_change_password: bool,
    ) -> UserRecord: ...
    async def create_first_admin(
        self, tenant_id: str, *, email: str, name: str, password_hash: str
    ) -> UserRecord | None: ...
    async def get_user(self, tenant_id: str, user_id: str) -> UserRecord | None: ...
    async def get_user_by_email(self, tenant_id: str, email: str) -> UserRecord | None: ...
    async def find_user_for_sign_in(self, email: str) -> UserRecord | None: ...
    async def list_users(self, tenant_id: str, limit: int, offset: int) -> tuple[list[UserListing], int]: ...
    async def user_listing(self, tenant_id: str, user_id: str) -> UserListing | None: ...
    async def count_admins(self, tenant_id: str) -> int: ...
    async def set_role(self, tenant_id: str, user_id: str, role: str) -> UserRecord | None: ...
    async def set_ban(
        self, tenant_id: str, user_id: str, *, banned: bool, reason: str | None, expires: datetime | None
    ) -> UserRecord | None: ...
    async def set_password(
        self, tenant_id: str, user_id: str, password_hash: str, *, must_change_password: bool
    ) -> bool: ...
    async def update_profile(
        self, tenant_id: str, user_id: str, *, name: str | None, email: str | None
    ) -> UserRecord | None: ...
    async def erase_preview(self, tenant_id: str, user_id: str) -> EraseReport | None: ...
    async def erase_user(self, tenant_id: str, user_id: str) -> EraseReport | None: ...
    async def create_session(
        self,
        tenant_id: str,
        user_id: str,
        *,
        token_hash: str,
        ip_address: str | None,
        user_agent: str | None,
        ttl_seconds: int,
    ) -> SessionRecord: ...
    async def get_session(self, tenant_id: str, session_id: str, *, token_hash: str = "") -> SessionRecord | None: ...
    async def list_sessions(self, tenant_id: str, user_id: str) -> list[SessionRecord]: ...
    async def revoke_session(self, tenant_id: str, user_id: str, *, session_id: str, token_hash: str) -> bool: ...
    async def revoke_sessions(self, tenant_id: str, user_id: str, *, keep: str | None = None) -> int: ...
    async def delete_expired_sessions(self) -> int: ...
    async def create_tenant(
        self, name: str, *, email: str, admin_name: str, password_hash: str
    ) -> tuple[TenantRecord, UserRecord]: ...
    async def list_tenants(self) -> list[TenantRecord]: ...
