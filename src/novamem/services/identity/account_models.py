"""Wire models of accounts: the Better-Auth-compatible `/api/auth/*` routes and `/v1/admin/*` users,
tenants and the audit log."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from novamem.services.wire import Out, Wire

__all__ = [
    "AdminUserCreate",
    "AdminUserList",
    "AdminUserView",
    "AuditEntry",
    "AuditLog",
    "AuditPage",
    "AuditQuery",
    "AuthSession",
    "AuthUser",
    "BanUser",
    "ChangePassword",
    "ChangedPassword",
    "CreateUser",
    "EmailFlowRequest",
    "ErasePreview",
    "ProvisionedUser",
    "ResetPassword",
    "RevokeSession",
    "RevokeUserSession",
    "RoleChange",
    "SessionAndUser",
    "SessionList",
    "SetRole",
    "SetUserPassword",
    "SignInEmail",
    "SignedIn",
    "Status",
    "Success",
    "TenantCreate",
    "TenantCreated",
    "TenantList",
    "TenantView",
    "UserBan",
    "UserErase",
    "UserEraseDryRun",
    "UserEnvelope",
    "UserId",
    "UserDirectory",
    "UserPage",
    "UserSessions",
    "UserStanding",
    "UpdateUser",
]

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+$"
# generous caps: the services apply the exact rules (Better Auth codes) themselves
_LOOSE = 4096

# ---- /api/auth requests ----------------------------------------------------------------------


class SignInEmail(Wire):
    email: str = Field(max_length=_LOOSE)
    password: str = Field(max_length=_LOOSE)
    remember_me: bool | None = Field(None, description="accepted for compatibility; sessions last 7 days")
    callback_u_r_l: str | None = Field(None, alias="callbackURL", max_length=2048, description="ignored")


class ChangePassword(Wire):
    current_password: str = Field(max_length=_LOOSE)
    new_password: str = Field(max_length=_LOOSE, description="8–256 characters")
    revoke_other_sessions: bool = Field(False, description="end every session and issue a fresh one")


class RevokeSession(Wire):
    token: str = Field(min_length=1, max_length=256, description="a listed session's `token` handle")


class UserId(Wire):
    user_id: str = Field(min_length=1, max_length=64)


class CreateUser(Wire):
    email: str = Field(max_length=_LOOSE)
    password: str = Field(max_length=_LOOSE)
    name: str | None = Field(None, max_length=128)
    role: Literal["admin", "user"] = "user"


class SetRole(UserId):
    role: Literal["admin", "user"]


class BanUser(UserId):
    ban_reason: str | None = Field(None, max_length=512)
    ban_expires_in: int | None = Field(None, ge=1, le=10 * 365 * 86400, description="seconds; unset: forever")


class SetUserPassword(UserId):
    new_password: str = Field(max_length=_LOOSE)


class UpdateUser(UserId):
    data: dict[str, Any] = Field(
        description="`name` (1-128 characters) and/or `email`; role, password and ban have their own routes"
    )


class RevokeUserSession(Wire):
    session_token: str = Field(min_length=1, max_length=256)


class EmailFlowRequest(Wire):
    """`forget-password` and `send-verification-email` (refused: this server sends no email)."""

    email: str = Field(max_length=_LOOSE)
    redirect_to: str | None = Field(None, max_length=2048, description="ignored")
    callback_u_r_l: str | None = Field(None, alias="callbackURL", max_length=2048, description="ignored")


class ResetPassword(Wire):
    """`reset-password` with a token from a reset email (none is ever sent, so every token is invalid)."""

    new_password: str = Field(max_length=_LOOSE)
    token: str | None = Field(None, max_length=_LOOSE)


# ---- /api/auth responses ---------------------------------------------------------------------


class AuthUser(Out):
    id: str
    email: str
    name: str
    role: str
    banned: bool
    ban_reason: str | None
    ban_expires: str | None
    email_verified: bool
    image: str | None
    must_change_password: bool
    created_at: str
    updated_at: str


class AuthSession(Out):
    id: str
    token: str = Field(description="opaque handle for revoke-session (the real token is never stored)")
    user_id: str
    expires_at: str
    ip_address: str | None
    user_agent: str | None
    created_at: str
    updated_at: str


class SignedIn(Out):
    redirect: bool
    token: str
    user: AuthUser


class SessionAndUser(Out):
    session: AuthSession
    user: AuthUser


class ChangedPassword(Out):
    token: str | None
    user: AuthUser


class SessionList(Out):
    sessions: list[AuthSession]


UserSessions = SessionList


class Success(Out):
    success: bool


class Status(Out):
    status: bool


class UserEnvelope(Out):
    user: AuthUser


class UserPage(Out):
    users: list[AuthUser]
    total: int
    limit: int
    offset: int


# ---- /v1/admin -------------------------------------------------------------------------------


class AdminUserCreate(Wire):
    """A new user (who must change the password at first sign-in) and their first API token."""

    email: str = Field(max_length=320, pattern=EMAIL_PATTERN)
    password: str = Field(min_length=8, max_length=256)
    name: str | None = Field(None, max_length=128, description="display name (default `provisioned-user`)")
    token_label: str | None = Field(None, max_length=128, description="label of the first token")
    token_scope: Literal["full", "read_only"] = Field("full", description="scope of the first token")
    token_expires_in_days: int | None = Field(None, ge=1, le=3650, description="expiry of the first token")


class ProvisionedUser(Out):
    user_id: str
    email: str
    token: str = Field(description="the first API token, shown only now")


class AdminUserView(Out):
    id: str
    email: str
    name: str
    role: str
    created_at: str
    entry_count: int
    token_count: int


class AdminUserList(Out):
    users: list[AdminUserView]


class UserStanding(AdminUserView):
    """A user as the admin dashboard lists them: the counts plus whether they are banned or must change
    their password (never anything they stored)."""

    banned: bool = Field(description="banned now (an expired ban no longer counts)")
    ban_reason: str | None
    ban_expires: str | None = Field(description="when the ban ends by itself (null: until lifted)")
    must_change_password: bool


class UserDirectory(Out):
    """The users of the admin's tenant, oldest first."""

    users: list[UserStanding]


class ErasePreview(Out):
    """What erasing a user takes with them."""

    user_id: str
    email: str
    entries: int
    tokens: int
    owned_projects: int = Field(description="projects the user owns, deleted with everything in them")


class UserEraseDryRun(Out):
    dry_run: bool
    would_delete: ErasePreview


class UserErase(Out):
    deleted: bool
    entries_removed: int
    tokens_removed: int
    projects_deleted: list[str]
    cold_cleanup: list[str]
    cold_cleanup_ok: bool


class RoleChange(Wire):
    role: Literal["admin", "user"]


class UserBan(Wire):
    reason: str | None = Field(None, max_length=512)
    expires_in_days: int | None = Field(None, ge=1, le=3650, description="unset: until unbanned")


class AuditEntry(Out):
    id: int
    ts: str
    actor_user_id: str | None
    actor_label: str
    action: str
    target: str | None
    metadata: dict[str, Any]
    request_ip: str | None


class AuditLog(Out):
    entries: list[AuditEntry]


class AuditQuery(Wire):
    """One page of the audit log, optionally only the entries that contain a text."""

    q: str | None = Field(
        None, max_length=200, description="text found in the actor, action, target, details or address"
    )
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=1_000_000)


class AuditPage(Out):
    """A page of the audit log, newest first."""

    entries: list[AuditEntry]
    q: str | None
    limit: int
    offset: int
    has_more: bool = Field(description="older entries follow this page")


class TenantCreate(Wire):
    name: str = Field(min_length=1, max_length=128)
    admin_email: str = Field(max_length=320, pattern=EMAIL_PATTERN)
    admin_password: str = Field(min_length=8, max_length=256)


class TenantView(Out):
    id: str
    name: str
    created_at: str


class TenantCreated(TenantView):
    admin_user_id: str


class TenantList(Out):
    tenants: list[TenantView]
