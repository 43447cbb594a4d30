"""Accounts: sign-in and dashboard sessions, password changes, admin user management, tenants and the
bootstrap admin.

Both the Better-Auth-compatible `/api/auth/*` routes and the `/v1/admin/*` REST routes (and the
command line) call these use cases. Errors carry a Better Auth `code`; each edge renders them its way.
Counters for sign-in throttling and lockouts live in PostgreSQL, so every replica shares them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol, overload

from novamem.config import AuthMode
from novamem.domain.credentials import hash_secret, new_session_token, sign_session_token
from novamem.domain.entries import iso
from novamem.domain.scope import PUBLIC_TENANT, Caller
from novamem.errors import Forbidden, InvalidInput, NotFound, NovamemError, RateLimited, Unauthenticated
from novamem.services.identity.account_models import (
    AdminUserList,
    AdminUserView,
    AuditLog,
    AuditPage,
    AuditQuery,
    AuthSession,
    AuthUser,
    ChangedPassword,
    ErasePreview,
    ProvisionedUser,
    SessionAndUser,
    SessionList,
    SignedIn,
    TenantCreated,
    TenantList,
    TenantView,
    UserDirectory,
    UserErase,
    UserEraseDryRun,
    UserPage,
    UserStanding,
)
from novamem.services.identity.audit import AuditService
from novamem.services.identity.authn import SESSION_TTL, CookiePolicy
from novamem.services.identity.passwords import (
    check_password_length,
    generate_password,
    hash_password,
    needs_rehash,
    verify_password,
)
from novamem.services.identity.token_models import MintedToken
from novamem.storage.accounts import AccountStore, EraseReport, SessionRecord, UserListing, UserRecord
from novamem.storage.base import Counters

__all__ = [
    "ADMIN_ROLES",
    "BOOTSTRAP_EMAIL",
    "LOCKED_CODE",
    "PROVISIONED_NAME",
    "THROTTLED_CODE",
    "AccountService",
    "IssuedSession",
    "TokenMintFailed",
    "TokenMinter",
    "auth_session",
    "auth_user",
]

log = logging.getLogger("novamem.accounts")

ADMIN_ROLES = ("admin", "user")
BOOTSTRAP_EMAIL = "admin@localhost"
BOOTSTRAP_NAME = "bootstrap-admin"
PROVISIONED_NAME = "provisioned-user"
MAX_EMAIL = 320
MAX_NAME = 128
MAX_LISTED_USERS = 10_000  # the admin users list shows at most this many
UPDATABLE_FIELDS = ("email", "name")  # what admin update-user may change
# sign-in throttle per (IP, path), and failure lockout per account (the reference's numbers)
THROTTLE_REQUESTS = 3
THROTTLE_WINDOW_S = 10
LOCKOUT_FAILURES = 5
LOCKOUT_WINDOW_S = 15 * 60
THROTTLED_CODE = "TOO_MANY_REQUESTS"
LOCKED_CODE = "TOO_MANY_FAILED_ATTEMPTS"
LOCKED_MESSAGE = "too many failed attempts — try again later"
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
        super().__init__("user created but token mint failed")
        self.user_id = user_id


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


def auth_session(session: SessionRecord) -> AuthSession:
    """A session as listed. `token` is an opaque handle (the session id) for revoke-session: the
    server keeps only the SHA-256 of real session tokens."""
    return AuthSession(
        id=session.id,
        token=session.id,
        user_id=session.user_id,
        expires_at=iso(session.expires_at),
        ip_address=session.ip_address,
        user_agent=session.user_agent,
        created_at=iso(session.created_at),
        updated_at=iso(session.updated_at),
    )


@dataclass(frozen=True, slots=True)
class IssuedSession:
    """A new dashboard session: the signed cookie value (for the edge to set), the raw token, and its rows."""

    cookie_value: str
    token: str
    session: SessionRecord
    user: UserRecord

    def signed_in(self) -> SignedIn:
        """The sign-in answer for this session."""
        return SignedIn(redirect=False, token=self.token, user=auth_user(self.user))


def _normalise_email(email: str) -> str:
    value = email.strip()
    if not value or len(value) > MAX_EMAIL or not _EMAIL.match(value):
        raise InvalidInput("Invalid email", code="INVALID_EMAIL")
    return value.lower()


def _require_admin(caller: Caller, code: str) -> None:
    if not caller.is_admin or caller.is_restricted:
        raise Forbidden("admin only", code=code)


def _check_role(role: str) -> str:
    if role not in ADMIN_ROLES:
        raise InvalidInput(
            "invalid request body", issues=[{"path": ["role"], "message": "must be admin or user", "code": "enum"}]
        )
    return role


class AccountService:
    """Sign-in, sessions, password changes, user administration, tenants and the first admin."""

    def __init__(
        self,
        store: AccountStore,
        counters: Counters,
        audit: AuditService,
        *,
        mode: AuthMode,
        cookies: CookiePolicy | None,
        minter: TokenMinter,
    ) -> None:
        self._store = store
        self._counters = counters
        self._audit = audit
        self.mode = mode
        self.cookies = cookies
        self._minter = minter

    # ---- sign-in and sessions ----------------------------------------------------------------

    async def throttle(self, ip: str | None, path: str) -> None:
        """3 requests per 10 s per (IP, path), counted deployment-wide; RateLimited beyond."""
        window = await self._counters.hit(f"signin-ip:{ip or '-'}:{path}", THROTTLE_WINDOW_S)
        if window.count > THROTTLE_REQUESTS:
            raise RateLimited(
                "Too many requests. Please try again later.", retry_after=window.reset_in, code=THROTTLED_CODE
            )

    async def _lockout_attempt(self, key: str) -> None:
        """Count an attempt against a lockout key; refuse once 5 failed within the window.

        Counting before verifying makes parallel guesses race-free; a success clears the key.
        """
        window = await self._counters.hit(key, LOCKOUT_WINDOW_S)
        if window.count > LOCKOUT_FAILURES:
            raise RateLimited(LOCKED_MESSAGE, retry_after=window.reset_in, code=LOCKED_CODE)

    async def sign_in(self, email: str, password: str, *, ip: str | None, user_agent: str | None) -> IssuedSession:
        """Check the password and open a session. An unknown email and a wrong password are the same
        401 and take the same time (a dummy argon2 verification)."""
        address = _normalise_email(email)
        key = f"lock:signin:{address}"
        await self._lockout_attempt(key)
        user = await self._store.find_user_for_sign_in(address)
        ok = await verify_password(user.password_hash if user else None, password[:1024])
        if user is None or not ok:
            raise Unauthenticated("Invalid email or password", code="INVALID_EMAIL_OR_PASSWORD")
        if user.banned_now:
            raise Forbidden("You have been banned from this application", code="BANNED_USER")
        await self._counters.clear(key)
        if user.password_hash and needs_rehash(user.password_hash):
            await self._store.set_password(
                user.tenant_id,
                user.id,
                await hash_password(password),
                must_change_password=user.must_change_password,
            )
        return await self._issue(user, ip=ip, user_agent=user_agent)

    async def _issue(self, user: UserRecord, *, ip: str | None, user_agent: str | None) -> IssuedSession:
        if self.cookies is None:
            raise NotFound("user auth not enabled")
        token = new_session_token()
        session = await self._store.create_session(
            user.tenant_id,
            user.id,
            token_hash=hash_secret(token),
            ip_address=ip,
            user_agent=user_agent,
            ttl_seconds=int(SESSION_TTL.total_seconds()),
        )
        return IssuedSession(sign_session_token(self.cookies.secret, token), token, session, user)

    async def sign_out(self, caller: Caller | None) -> None:
        """End the caller's session, if they signed in with one."""
        if caller is not None and caller.session_id:
            await self._store.revoke_session(
                caller.tenant_id, caller.user_id, session_id=caller.session_id, token_hash=""
            )

    async def current_session(self, caller: Caller) -> SessionAndUser | None:
        """The session and user of a session caller, or None when the session or user is gone."""
        if not caller.session_id:
            return None
        session = await self._store.get_session(caller.tenant_id, caller.session_id)
        user = await self._store.get_user(caller.tenant_id, caller.user_id)
        if session is None or user is None:
            return None
        return SessionAndUser(session=auth_session(session), user=auth_user(user))

    async def change_password(
        self,
        caller: Caller,
        current: str,
        new: str,
        *,
        revoke_other_sessions: bool,
        ip: str | None,
        user_agent: str | None,
    ) -> tuple[ChangedPassword, IssuedSession | None]:
        """Verify the current password, store the new one and clear `mustChangePassword`.

        With `revoke_other_sessions` every session (this one too) ends and a fresh one is issued (its
        cookie is for the edge to set).
        """
        check_password_length(new)
        await self._lockout_attempt(f"lock:chgpw:{caller.user_id}")
        user = await self._store.get_user(caller.tenant_id, caller.user_id)
        if user is None or not user.password_hash:
            raise NotFound("Credential account not found", code="CREDENTIAL_ACCOUNT_NOT_FOUND")
        if not await verify_password(user.password_hash, current[:1024]):
            raise InvalidInput("Invalid password", code="INVALID_PASSWORD")
        await self._counters.clear(f"lock:chgpw:{caller.user_id}")
        await self._store.set_password(user.tenant_id, user.id, await hash_password(new), must_change_password=False)
        issued = None
        if revoke_other_sessions:
            await self._store.revoke_sessions(user.tenant_id, user.id)
            issued = await self._issue(user, ip=ip, user_agent=user_agent)
        fresh = await self._store.get_user(user.tenant_id, user.id)
        assert fresh is not None
        answer = ChangedPassword(token=issued.token if issued else None, user=auth_user(fresh))
        return answer, issued

    async def list_sessions(self, caller: Caller) -> list[AuthSession]:
        """The caller's live sessions."""
        return [auth_session(s) for s in await self._store.list_sessions(caller.tenant_id, caller.user_id)]

    async def revoke_session(self, caller: Caller, token: str) -> bool:
        """End one of the caller's own sessions, named by its listed handle or its real token."""
        return await self._store.revoke_session(
            caller.tenant_id, caller.user_id, session_id=token, token_hash=hash_secret(token)
        )

    async def revoke_sessions(self, caller: Caller, *, keep_current: bool) -> int:
        """End the caller's sessions (all, or all but this one); answers how many ended."""
        keep = caller.session_id if keep_current else None
        return await self._store.revoke_sessions(caller.tenant_id, caller.user_id, keep=keep)

    async def prune_sessions(self) -> int:
        """Delete expired sessions (a background job)."""
        return await self._store.delete_expired_sessions()

    # ---- user administration (both surfaces) --------------------------------------------------

    async def _target(self, caller: Caller, user_id: str) -> UserRecord:
        user = await self._store.get_user(caller.tenant_id, user_id)
        if user is None:
            raise NotFound("User not found", code="USER_NOT_FOUND")
        return user

    async def list_users(self, caller: Caller, limit: int, offset: int) -> UserPage:
        """One page of the tenant's users, oldest first."""
        _require_admin(caller, "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS")
        listings, total = await self._store.list_users(caller.tenant_id, limit, offset)
        return UserPage(users=[auth_user(x.user) for x in listings], total=total, limit=limit, offset=offset)

    async def users_overview(self, caller: Caller) -> AdminUserList:
        """The users of the caller's tenant with how many entries and live tokens each holds."""
        _require_admin(caller, "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS")
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

    async def user_directory(self, caller: Caller) -> UserDirectory:
        """The users of the caller's tenant as the admin dashboard lists them: counts, role, ban state."""
        _require_admin(caller, "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS")
        listings, _ = await self._store.list_users(caller.tenant_id, MAX_LISTED_USERS, 0)
        return UserDirectory(users=[_standing(x) for x in listings])

    async def user_standing(self, caller: Caller, user_id: str) -> UserStanding:
        """One user of the caller's tenant as the directory lists them (`USER_NOT_FOUND` otherwise)."""
        _require_admin(caller, "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS")
        listing = await self._store.user_listing(caller.tenant_id, user_id)
        if listing is None:
            raise NotFound("User not found", code="USER_NOT_FOUND")
        return _standing(listing)

    async def create_user(
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
        user = await self._create_user(
            caller, email=email, password=password, name=name, role=role, tenant_id=tenant_id, request_ip=request_ip
        )
        return auth_user(user)

    async def _create_user(
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
        _require_admin(caller, "YOU_ARE_NOT_ALLOWED_TO_CREATE_USERS")
        address = _normalise_email(email)
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

    async def provision_user(
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
        user = await self._create_user(
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

    async def set_role(self, caller: Caller, user_id: str, role: str, *, request_ip: str | None = None) -> AuthUser:
        """Change a role; demoting the tenant's last admin is refused (`LAST_ADMIN_PROTECTED`)."""
        _require_admin(caller, "YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE")
        user = await self._store.set_role(caller.tenant_id, user_id, _check_role(role))
        if user is None:
            raise NotFound("User not found", code="USER_NOT_FOUND")
        await self._audit.record(caller, "user.role", user.id, {"role": role}, request_ip=request_ip)
        return auth_user(user)

    async def update_user(
        self, caller: Caller, user_id: str, data: dict[str, Any], *, request_ip: str | None = None
    ) -> AuthUser:
        """Change a user's display name and/or email. Role, password and ban have their own use cases,
        so any other key is refused rather than ignored."""
        _require_admin(caller, "YOU_ARE_NOT_ALLOWED_TO_UPDATE_USERS")
        if not data:
            raise InvalidInput("No data to update", code="NO_DATA_TO_UPDATE")
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
            email = _normalise_email(data["email"] if isinstance(data["email"], str) else "")
        user = await self._store.update_profile(caller.tenant_id, user_id, name=name, email=email)
        if user is None:
            raise NotFound("User not found", code="USER_NOT_FOUND")
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
        _require_admin(caller, "YOU_ARE_NOT_ALLOWED_TO_BAN_USERS")
        if user_id == caller.user_id:
            raise InvalidInput("You cannot ban yourself", code="YOU_CANNOT_BAN_YOURSELF")
        expires = datetime.now(UTC) + timedelta(seconds=expires_in_seconds) if expires_in_seconds else None
        user = await self._store.set_ban(
            caller.tenant_id, user_id, banned=True, reason=reason or "No reason", expires=expires
        )
        if user is None:
            raise NotFound("User not found", code="USER_NOT_FOUND")
        await self._audit.record(
            caller, "user.ban", user.id, {"reason": user.ban_reason, "expiresAt": iso(expires)}, request_ip=request_ip
        )
        return auth_user(user)

    async def unban(self, caller: Caller, user_id: str, *, request_ip: str | None = None) -> AuthUser:
        """Lift a user's ban."""
        _require_admin(caller, "YOU_ARE_NOT_ALLOWED_TO_BAN_USERS")
        user = await self._store.set_ban(caller.tenant_id, user_id, banned=False, reason=None, expires=None)
        if user is None:
            raise NotFound("User not found", code="USER_NOT_FOUND")
        await self._audit.record(caller, "user.unban", user.id, {}, request_ip=request_ip)
        return auth_user(user)

    async def set_user_password(
        self, caller: Caller, user_id: str, password: str, *, request_ip: str | None = None
    ) -> None:
        """An admin sets a password: the user's sessions end and they must change it at next sign-in."""
        _require_admin(caller, "YOU_ARE_NOT_ALLOWED_TO_SET_USERS_PASSWORD")
        check_password_length(password)
        user = await self._target(caller, user_id)
        await self._store.set_password(
            caller.tenant_id, user.id, await hash_password(password), must_change_password=user.id != caller.user_id
        )
        await self._store.revoke_sessions(caller.tenant_id, user.id, keep=caller.session_id)
        await self._audit.record(caller, "user.password.set", user.id, {}, request_ip=request_ip)

    async def list_user_sessions(self, caller: Caller, user_id: str) -> SessionList:
        """The live sessions of a user of the caller's tenant."""
        _require_admin(caller, "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS_SESSIONS")
        user = await self._target(caller, user_id)
        return SessionList(
            sessions=[auth_session(s) for s in await self._store.list_sessions(caller.tenant_id, user.id)]
        )

    async def revoke_user_sessions(self, caller: Caller, user_id: str, *, request_ip: str | None = None) -> int:
        """End every session of a user of the caller's tenant; answers how many ended."""
        _require_admin(caller, "YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS")
        user = await self._target(caller, user_id)
        count = await self._store.revoke_sessions(caller.tenant_id, user.id)
        await self._audit.record(caller, "user.sessions.revoke", user.id, {"sessions": count}, request_ip=request_ip)
        return count

    async def revoke_user_session(self, caller: Caller, handle: str, *, request_ip: str | None = None) -> bool:
        """End one session of any user of the tenant, by its listed handle (session id)."""
        _require_admin(caller, "YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS")
        session = await self._store.get_session(caller.tenant_id, handle)
        if session is None:
            return False
        done = await self._store.revoke_session(caller.tenant_id, session.user_id, session_id=session.id, token_hash="")
        await self._audit.record(caller, "user.session.revoke", session.user_id, {}, request_ip=request_ip)
        return done

    @overload
    async def erase_user(
        self, caller: Caller, user_id: str, *, dry_run: Literal[True], request_ip: str | None = None
    ) -> UserEraseDryRun: ...
    @overload
    async def erase_user(
        self, caller: Caller, user_id: str, *, dry_run: Literal[False] = False, request_ip: str | None = None
    ) -> UserErase: ...
    @overload
    async def erase_user(
        self, caller: Caller, user_id: str, *, dry_run: bool, request_ip: str | None = None
    ) -> UserErase | UserEraseDryRun: ...
    async def erase_user(
        self, caller: Caller, user_id: str, *, dry_run: bool = False, request_ip: str | None = None
    ) -> UserErase | UserEraseDryRun:
        """Delete a user and all their data (or report what would go). Never yourself, never the last admin."""
        _require_admin(caller, "YOU_ARE_NOT_ALLOWED_TO_DELETE_USERS")
        if user_id == caller.user_id:
            raise InvalidInput("You cannot remove yourself", code="YOU_CANNOT_REMOVE_YOURSELF")
        if dry_run:
            preview = await self._store.erase_preview(caller.tenant_id, user_id)
            if preview is None:
                raise NotFound("no such user", code="USER_NOT_FOUND")
            return UserEraseDryRun(dry_run=True, would_delete=_would_delete(preview))
        report = await self._store.erase_user(caller.tenant_id, user_id)
        if report is None:
            raise NotFound("no such user", code="USER_NOT_FOUND")
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

    async def audit_log(self, caller: Caller, limit: int) -> AuditLog:
        """The newest `limit` audit entries of the caller's tenant."""
        _require_admin(caller, "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS")
        return AuditLog(entries=await self._audit.recent(caller, limit))

    async def audit_page(self, caller: Caller, query: AuditQuery) -> AuditPage:
        """A page of the caller's tenant's audit log, newest first, optionally filtered by a text."""
        _require_admin(caller, "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS")
        return await self._audit.page(caller, query)

    # ---- tenants -----------------------------------------------------------------------------

    def _require_server_admin(self, caller: Caller) -> None:
        if self.mode is not AuthMode.TENANT:
            raise NotFound("tenants exist only in tenant mode")
        if not caller.is_server_admin:
            raise Forbidden("server admin only")

    async def create_tenant(
        self, caller: Caller, *, name: str, admin_email: str, admin_password: str, request_ip: str | None = None
    ) -> TenantCreated:
        """A new tenant with its first admin (who must change the password at first sign-in)."""
        self._require_server_admin(caller)
        address = _normalise_email(admin_email)
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

    async def list_tenants(self, caller: Caller) -> TenantList:
        """Every tenant of the deployment (server admins, `tenant` mode only)."""
        self._require_server_admin(caller)
        return TenantList(
            tenants=[
                TenantView(id=t.id, name=t.name, created_at=iso(t.created_at)) for t in await self._store.list_tenants()
            ]
        )

    # ---- bootstrap ---------------------------------------------------------------------------

    async def bootstrap(
        self, email: str | None, password: str | None, *, announce: Callable[[str], None]
    ) -> UserRecord | None:
        """Create the first admin of the default tenant when it has none (once per deployment).

        With a configured password that admin is created from the bootstrap variables; without one, a
        random one-time password is generated and handed to `announce` (the console), never to logs.
        Either way the admin must change the password at first sign-in.
        """
        if await self._store.count_admins(PUBLIC_TENANT) > 0:
            if password is not None:
                log.warning(
                    "NOVAMEM_BOOTSTRAP_ADMIN_PASSWORD is still set but an admin already exists; "
                    "remove it from the environment (it is not used any more)"
                )
            return None
        address = _normalise_email(email or BOOTSTRAP_EMAIL)
        one_time = password is None
        secret = generate_password() if password is None else password
        try:
            user = await self._store.create_first_admin(
                PUBLIC_TENANT, email=address, name=BOOTSTRAP_NAME, password_hash=await hash_password(secret)
            )
        except NovamemError as exc:
            log.error("could not create the first admin %s: %s", address, exc.message)
            return None
        if user is None:  # another replica won the race
            return None
        log.warning("created the first admin account %s; it must change its password at first sign-in", address)
        if one_time:
            announce(
                "\n"
                "novamem: created the first admin account\n"
                f"    email:    {address}\n"
                f"    password: {secret}\n"
                "This one-time password is shown only now; sign in and change it at once.\n"
                "(Set NOVAMEM_BOOTSTRAP_ADMIN_EMAIL / NOVAMEM_BOOTSTRAP_ADMIN_PASSWORD to choose them instead.)\n"
            )
        return user


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
