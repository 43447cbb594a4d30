"""Users of a tenant: what a valid account is (email, role), how a user renders, and the admin use cases
that manage users (directory, create and provision, role, profile, ban, password, erase).

Both the Better-Auth-compatible `/api/auth/admin/*` routes and the `/v1/admin/*` REST routes (and the
dashboard and command line) call these. Errors carry a Better Auth `code`; each edge renders them its way.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol, overload

from novamem.domain.entries import iso
from novamem.domain.scope import Caller
from novamem.error_messages import (
    ADMINS_CANNOT_DELETE_THEMSELVES,
    BA_INVALID_EMAIL,
    BA_NO_DATA_TO_UPDATE,
    BA_USER_NOT_FOUND,
    BA_YOU_CANNOT_BAN_YOURSELF,
    BA_YOU_CANNOT_REMOVE_YOURSELF,
    INVALID_REQUEST_BODY,
    LAST_ADMIN_CODE,
    LAST_ADMIN_DELETE,
    NO_SUCH_USER,
    TOKEN_MINT_FAILED,
)
from novamem.errors import Conflict, InvalidInput, NotFound, NovamemError
from novamem.services.identity.access import require_admin
from novamem.services.identity.account_models import (
    AdminUserList,
    AdminUserView,
    AuthUser,
    ErasePreview,
    ProvisionedUser,
    UserDirectory,
    UserErase,
    UserEraseDryRun,
    UserPage,
    UserStanding,
)
from novamem.services.identity.audit import AuditService
from novamem.services.identity.passwords import check_password_length, hash_password
from novamem.services.identity.token_models import MintedToken
from novamem.storage.accounts import AccountStore, EraseReport, UserListing, UserRecord

__all__ = [
    "ADMIN_ROLES",
    "PROVISIONED_NAME",
    "TokenMintFailed",
    "TokenMinter",
    "UserService",
    "auth_user",
    "normalise_email",
    "require_user",
]

log = logging.getLogger("novamem.accounts")

ADMIN_ROLES = ("admin", "user")
PROVISIONED_NAME = "provisioned-user"
MAX_EMAIL = 320
MAX_NAME = 128
MAX_LISTED_USERS = 10_000  # the admin users list shows at most this many
UPDATABLE_FIELDS = ("email", "name")  # what admin update-user may change
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


class TokenMinter(Protocol):
    """The token service's minting use case (mints a user's first API token)."""

    async def mint(
        self,
        tenant_id: str,
        user_id: str,
        *,
        label: str = "",
        scope: str = "full",
        project_id: str | None = None,
        expires_in_days: int | None = None,
    ) -> MintedToken:
        """A new API token for the user, its plaintext shown only in this answer."""
        ...


class TokenMintFailed(NovamemError):
    """The user was created but their first token could not be minted."""

    def __init__(self, user_id: str) -> None:
        super().__init__(TOKEN_MINT_FAILED)
        self.user_id = user_id


def normalise_email(email: str) -> str:
    """The account's email as stored (trimmed, lower case); `INVALID_EMAIL` unless it looks like one."""
    value = email.strip()
    if not value or len(value) > MAX_EMAIL or not _EMAIL.match(value):
        raise InvalidInput(BA_INVALID_EMAIL, code="INVALID_EMAIL")
    return value.lower()


def auth_user(user: UserRecord) -> AuthUser:
    """A user as Better Auth renders one (never the password hash)."""
    return AuthUser(
        id=user.id,
        email=user.email,
        name=user.name,
        role=user.role,
        banned=user.banned_now,
        ban_reason=user.ban_reason if user.banned_now else None,
        ban_expires=iso(user.ban_expires) if user.banned_now else None,
        email_verified=True,
        image=None,
        must_change_password=user.must_change_password,
        created_at=iso(user.created_at),
        updated_at=iso(user.updated_at),
    )


async def require_user(store: AccountStore, caller: Caller, user_id: str) -> UserRecord:
    """A user of the caller's tenant, or `USER_NOT_FOUND`."""
    user = await store.get_user(caller.tenant_id, user_id)
    if user is None:
        raise NotFound(BA_USER_NOT_FOUND, code="USER_NOT_FOUND")
    return user


def _check_role(role: str) -> str:
    if role not in ADMIN_ROLES:
        raise InvalidInput(
            INVALID_REQUEST_BODY, issues=[{"path": ["role"], "message": "must be admin or user", "code": "enum"}]
        )
    return role


class UserService:
    """An admin's view and management of the users of their tenant (a server admin may name another)."""

    def __init__(self, store: AccountStore, audit: AuditService, *, minter: TokenMinter) -> None:
        self._store = store
        self._audit = audit
        self._minter = minter

    # ---- the directory -----------------------------------------------------------------------

    async def page(self, caller: Caller, limit: int, offset: int) -> UserPage:
        """One page of the tenant's users, oldest first."""
        require_admin(caller, "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS")
        listings, total = await self._store.list_users(caller.tenant_id, limit, offset)
        return UserPage(users=[auth_user(x.user) for x in listings], total=total, limit=limit, offset=offset)

    async def overview(self, caller: Caller) -> AdminUserList:
        """The users of the caller's tenant with how many entries and live tokens each holds."""
        require_admin(caller, "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS")
        listings, _ = await self._store.list_users(caller.tenant_id, MAX_LISTED_USERS, 0)
        return AdminUserList(
            users=[
                AdminUserView(
                    id=x.user.id,
                    email=x.user.email,
                    name=x.user.name,
                    role=x.user.role,
                    created_at=iso(x.user.created_at),
                    entry_count=x.entry_count,
                    token_count=x.token_count,
                )
                for x in listings
            ]
        )

    async def directory(self, caller: Caller) -> UserDirectory:
        """The users of the caller's tenant as the admin dashboard lists them: counts, role, ban state."""
        require_admin(caller, "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS")
        listings, _ = await self._store.list_users(caller.tenant_id, MAX_LISTED_USERS, 0)
        return UserDirectory(users=[_standing(x) for x in listings])

    async def standing(self, caller: Caller, user_id: str) -> UserStanding:
        """One user of the caller's tenant as the directory lists them (`USER_NOT_FOUND` otherwise)."""
        require_admin(caller, "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS")
        listing = await self._store.user_listing(caller.tenant_id, user_id)
        if listing is None:
            raise NotFound(BA_USER_NOT_FOUND, code="USER_NOT_FOUND")
        return _standing(listing)

    # ---- creating users ----------------------------------------------------------------------

    async def create(
        self,
        caller: Caller,
        *,
        email: str,
        password: str,
        name: str | None = None,
        role: str = "user",
        tenant_id: str | None = None,
        request_ip: str | None = None,
    ) -> AuthUser:
        """An admin creates an account; it must change its password at first sign-in."""
        user = await self._create(
            caller, email=email, password=password, name=name, role=role, tenant_id=tenant_id, request_ip=request_ip
        )
        return auth_user(user)

    async def _create(
        self,
        caller: Caller,
        *,
        email: str,
        password: str,
        name: str | None,
        role: str,
        tenant_id: str | None,
        request_ip: str | None,
    ) -> UserRecord:
        require_admin(caller, "YOU_ARE_NOT_ALLOWED_TO_CREATE_USERS")
        address = normalise_email(email)
        check_password_length(password)
        tenant = tenant_id if tenant_id is not None and caller.is_server_admin else caller.tenant_id
        user = await self._store.create_user(
            tenant,
            email=address,
            name=(name or "").strip() or PROVISIONED_NAME,
            role=_check_role(role),
            password_hash=await hash_password(password),
            must_change_password=True,
        )
        await self._audit.record(
            caller,
            "admin.user.create",
            user.id,
            {"email": user.email, "role": user.role},
            request_ip=request_ip,
            tenant_id=tenant,
        )
        return user

    async def provision(
        self,
        caller: Caller,
        *,
        email: str,
        password: str,
        name: str | None,
        token_label: str | None,
        token_scope: str,
        token_expires_in_days: int | None,
        request_ip: str | None = None,
    ) -> ProvisionedUser:
        """Create a user with a first API token (the token shown once)."""
        user = await self._create(
            caller, email=email, password=password, name=name, role="user", tenant_id=None, request_ip=request_ip
        )
        try:
            minted = await self._minter.mint(
                user.tenant_id,
                user.id,
                label=token_label or "provisioned",
                scope=token_scope,
                expires_in_days=token_expires_in_days,
            )
        except NovamemError as exc:
            log.error("first token for new user %s could not be minted: %s", user.id, exc.message)
            raise TokenMintFailed(user.id) from exc
        return ProvisionedUser(user_id=user.id, email=user.email, token=minted.token)

    # ---- changing users ----------------------------------------------------------------------

    async def set_role(self, caller: Caller, user_id: str, role: str, *, request_ip: str | None = None) -> AuthUser:
        """Change a role; demoting the tenant's last admin is refused (`LAST_ADMIN_PROTECTED`)."""
        require_admin(caller, "YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE")
        user = await self._store.set_role(caller.tenant_id, user_id, _check_role(role))
        if user is None:
            raise NotFound(BA_USER_NOT_FOUND, code="USER_NOT_FOUND")
        await self._audit.record(caller, "user.role", user.id, {"role": role}, request_ip=request_ip)
        return auth_user(user)

    async def update(
        self, caller: Caller, user_id: str, data: dict[str, Any], *, request_ip: str | None = None
    ) -> AuthUser:
        """Change a user's display name and/or email. Role, password and ban have their own use cases,
        so any other key is refused rather than ignored."""
        require_admin(caller, "YOU_ARE_NOT_ALLOWED_TO_UPDATE_USERS")
        if not data:
            raise InvalidInput(BA_NO_DATA_TO_UPDATE, code="NO_DATA_TO_UPDATE")
        others = sorted(str(k)[:64] for k in data if k not in UPDATABLE_FIELDS)
        if others:
            raise InvalidInput(
                "update-user changes only name and email; use set-role, set-user-password or ban-user/unban-user"
                " for the rest",
                code="FIELD_NOT_ALLOWED",
                issues=[
                    {"path": ["data", k], "message": "not allowed here", "code": "unrecognized_keys"}
                    for k in others[:10]
                ],
            )
        name: str | None = None
        email: str | None = None
        if "name" in data:
            name = data["name"].strip() if isinstance(data["name"], str) else ""
            if not 1 <= len(name) <= MAX_NAME:
                raise InvalidInput(
                    "name must be 1-128 characters",
                    issues=[{"path": ["data", "name"], "message": "must be 1-128 characters", "code": "length"}],
                )
        if "email" in data:
            email = normalise_email(data["email"] if isinstance(data["email"], str) else "")
        user = await self._store.update_profile(caller.tenant_id, user_id, name=name, email=email)
        if user is None:
            raise NotFound(BA_USER_NOT_FOUND, code="USER_NOT_FOUND")
        await self._audit.record(caller, "user.update", user.id, {"fields": sorted(data)}, request_ip=request_ip)
        return auth_user(user)

    async def ban(
        self,
        caller: Caller,
        user_id: str,
        *,
        reason: str | None,
        expires_in_seconds: int | None,
        request_ip: str | None = None,
    ) -> AuthUser:
        """Ban a user (their sessions end at once; their tokens stop working)."""
        require_admin(caller, "YOU_ARE_NOT_ALLOWED_TO_BAN_USERS")
        if user_id == caller.user_id:
            raise InvalidInput(BA_YOU_CANNOT_BAN_YOURSELF, code="YOU_CANNOT_BAN_YOURSELF")
        expires = datetime.now(UTC) + timedelta(seconds=expires_in_seconds) if expires_in_seconds else None
        user = await self._store.set_ban(
            caller.tenant_id, user_id, banned=True, reason=reason or "No reason", expires=expires
        )
        if user is None:
            raise NotFound(BA_USER_NOT_FOUND, code="USER_NOT_FOUND")
        await self._audit.record(
            caller, "user.ban", user.id, {"reason": user.ban_reason, "expiresAt": iso(expires)}, request_ip=request_ip
        )
        return auth_user(user)

    async def unban(self, caller: Caller, user_id: str, *, request_ip: str | None = None) -> AuthUser:
        """Lift a user's ban."""
        require_admin(caller, "YOU_ARE_NOT_ALLOWED_TO_BAN_USERS")
        user = await self._store.set_ban(caller.tenant_id, user_id, banned=False, reason=None, expires=None)
        if user is None:
            raise NotFound(BA_USER_NOT_FOUND, code="USER_NOT_FOUND")
        await self._audit.record(caller, "user.unban", user.id, {}, request_ip=request_ip)
        return auth_user(user)

    async def set_password(self, caller: Caller, user_id: str, password: str, *, request_ip: str | None = None) -> None:
        """An admin sets a password: the user's sessions end and they must change it at next sign-in."""
        require_admin(caller, "YOU_ARE_NOT_ALLOWED_TO_SET_USERS_PASSWORD")
        check_password_length(password)
        user = await require_user(self._store, caller, user_id)
        await self._store.set_password(
            caller.tenant_id, user.id, await hash_password(password), must_change_password=user.id != caller.user_id
        )
        await self._store.revoke_sessions(caller.tenant_id, user.id, keep=caller.session_id)
        await self._audit.record(caller, "user.password.set", user.id, {}, request_ip=request_ip)

    # ---- erasing users -----------------------------------------------------------------------

    @overload
    async def erase(
        self, caller: Caller, user_id: str, *, dry_run: Literal[True], request_ip: str | None = None
    ) -> UserEraseDryRun: ...
    @overload
    async def erase(
        self, caller: Caller, user_id: str, *, dry_run: Literal[False] = False, request_ip: str | None = None
    ) -> UserErase: ...
    @overload
    async def erase(
        self, caller: Caller, user_id: str, *, dry_run: bool, request_ip: str | None = None
    ) -> UserErase | UserEraseDryRun: ...
    async def erase(
        self, caller: Caller, user_id: str, *, dry_run: bool = False, request_ip: str | None = None
    ) -> UserErase | UserEraseDryRun:
        """Delete a user and all their data (or report what would go). Never yourself, never the last admin."""
        require_admin(caller, "YOU_ARE_NOT_ALLOWED_TO_DELETE_USERS")
        if user_id == caller.user_id:
            raise InvalidInput(ADMINS_CANNOT_DELETE_THEMSELVES, code="YOU_CANNOT_REMOVE_YOURSELF")
        if dry_run:
            preview = await self._store.erase_preview(caller.tenant_id, user_id)
            if preview is None:
                raise NotFound(NO_SUCH_USER, code="USER_NOT_FOUND")
            return UserEraseDryRun(dry_run=True, would_delete=_would_delete(preview))
        report = await self._store.erase_user(caller.tenant_id, user_id)
        if report is None:
            raise NotFound(NO_SUCH_USER, code="USER_NOT_FOUND")
        await self._audit.record(
            caller,
            "admin.user.delete",
            report.user_id,
            _would_delete(report).model_dump(by_alias=True),
            request_ip=request_ip,
        )
        return UserErase(
            deleted=True,
            entries_removed=report.entries,
            tokens_removed=report.tokens,
            projects_deleted=report.owned_projects,
            # vectors live in the entry rows (pgvector), so they went with them
            cold_cleanup=[],
            cold_cleanup_ok=True,
        )

    async def remove(self, caller: Caller, user_id: str, *, request_ip: str | None = None) -> UserErase:
        """Better Auth's remove-user: `erase`, with the last-admin guard answered before the self check (the
        reference evaluates it first, so the last admin removing themselves hears `LAST_ADMIN_PROTECTED`)."""
        require_admin(caller, "YOU_ARE_NOT_ALLOWED_TO_DELETE_USERS")
        target = await self._store.get_user(caller.tenant_id, user_id)
        if target is not None and target.is_admin and await self._store.count_admins(caller.tenant_id) <= 1:
            raise Conflict(LAST_ADMIN_DELETE, code=LAST_ADMIN_CODE)
        if user_id == caller.user_id:
            raise InvalidInput(BA_YOU_CANNOT_REMOVE_YOURSELF, code="YOU_CANNOT_REMOVE_YOURSELF")
        return await self.erase(caller, user_id, request_ip=request_ip)


def _standing(listing: UserListing) -> UserStanding:
    user = listing.user
    return UserStanding(
        id=user.id,
        email=user.email,
        name=user.name,
        role=user.role,
        created_at=iso(user.created_at),
        entry_count=listing.entry_count,
        token_count=listing.token_count,
        banned=user.banned_now,
        ban_reason=user.ban_reason if user.banned_now else None,
        ban_expires=iso(user.ban_expires) if user.banned_now else None,
        must_change_password=user.must_change_password,
    )


def _would_delete(report: EraseReport) -> ErasePreview:
    return ErasePreview(
        user_id=report.user_id,
        email=report.email,
        entries=report.entries,
        tokens=report.tokens,
        owned_projects=len(report.owned_projects),
    )
