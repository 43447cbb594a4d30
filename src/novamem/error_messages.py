"""Every error string clients may match on, in one table.

Clients branch on exact strings, so each one is a constant here, and the server raises or renders the
constant, never a copy of its text. `CONTRACT_ERRORS` says, per situation, which constant answers, with
which status (and error class, where a raised error carries it), which `code`, and when; the error page
(`docs/generated/errors.md`) is generated from it. `source` tells a string the reference names (`reference`),
one Better Auth itself answers (`better-auth`, rendered `{message, code}` on `/api/auth/*`) and one that only
this server has (`novamem`, where the reference names no string for the situation).

A constant with `{placeholders}` is a template: the raising code fills it with `str.format`. Extra help
never goes into the string itself; it travels in the error's `detail` (REST) and replaces the message in
an MCP tool's error text, where the reference gives the longer wording (`detail_template`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from novamem.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    NovamemError,
    PayloadTooLarge,
    RateLimited,
    Unauthenticated,
    Unavailable,
)

__all__ = [
    "ADMINS_CANNOT_DELETE_THEMSELVES",
    "ADMIN_DISABLED",
    "ADMIN_ONLY",
    "ALREADY_A_MEMBER",
    "BARE_UNAUTHORIZED",
    "BA_BANNED_USER",
    "BA_CREDENTIAL_ACCOUNT_NOT_FOUND",
    "BA_INVALID_EMAIL",
    "BA_INVALID_EMAIL_OR_PASSWORD",
    "BA_INVALID_ORIGIN",
    "BA_INVALID_PASSWORD",
    "BA_INVALID_TOKEN",
    "BA_INVALID_VERIFICATION_TOKEN",
    "BA_MESSAGES",
    "BA_METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED",
    "BA_MISSING_OR_NULL_ORIGIN",
    "BA_NOT_ALLOWED_TO_LIST_USERS",
    "BA_NOT_ALLOWED_TO_CREATE_USERS",
    "BA_NOT_ALLOWED_TO_CHANGE_USERS_ROLE",
    "BA_NOT_ALLOWED_TO_UPDATE_USERS",
    "BA_NOT_ALLOWED_TO_DELETE_USERS",
    "BA_NOT_ALLOWED_TO_BAN_USERS",
    "BA_NOT_ALLOWED_TO_SET_USERS_PASSWORD",
    "BA_NOT_ALLOWED_TO_LIST_USERS_SESSIONS",
    "BA_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS",
    "BA_NO_DATA_TO_UPDATE",
    "BA_PASSWORD_TOO_LONG",
    "BA_PASSWORD_TOO_SHORT",
    "BA_RESET_PASSWORD_DISABLED",
    "BA_UNAUTHORIZED",
    "BA_USER_ALREADY_EXISTS",
    "BA_USER_NOT_FOUND",
    "BA_VERIFICATION_EMAIL_NOT_ENABLED",
    "BA_YOU_CANNOT_BAN_YOURSELF",
    "BA_YOU_CANNOT_REMOVE_YOURSELF",
    "BEARER_REQUIRED",
    "BODY_TOO_LARGE",
    "CONTEXT_DEGRADED",
    "DATABASE_TIMEOUT",
    "DATABASE_UNAVAILABLE",
    "CONTRACT_ERRORS",
    "ContractError",
    "EMPTY_JSON_BODY",
    "ENTRY_QUOTA_EXCEEDED",
    "HEADERS_TOO_LARGE",
    "IDENTICAL_MEMORY",
    "IMPERSONATION_DISABLED",
    "INTERNAL_ERROR",
    "INVALID_ARGUMENT",
    "INVALID_JSON_BODY",
    "INVALID_PREFLIGHT",
    "INVALID_REQUEST_BODY",
    "JSON_TOO_DEEP",
    "LAST_ADMIN_CODE",
    "LAST_ADMIN_DELETE",
    "LAST_ADMIN_DEMOTE",
    "LOCKED_CODE",
    "MCP_MISSING_SESSION",
    "MCP_ORIGIN_NOT_ALLOWED",
    "MCP_TOO_MANY_SESSIONS",
    "MCP_UNKNOWN_CURSOR",
    "MCP_UNKNOWN_SESSION",
    "MCP_UNKNOWN_TOOL",
    "MCP_UNSUPPORTED_PROTOCOL_VERSION",
    "NOT_A_MEMBER",
    "NOT_A_MEMBER_OF_PROJECT",
    "NOT_FOUND",
    "NOT_THE_TOKENS_PROJECT",
    "NOT_THIS_PROJECTS_MEMBER",
    "NO_SUCH_MEMORY",
    "NO_SUCH_PROJECT",
    "NO_SUCH_TENANT",
    "NO_SUCH_USER",
    "OBSERVER_DISABLED",
    "OBSERVER_UNAVAILABLE",
    "ON_BEHALF_NO_PROJECTS",
    "ON_BEHALF_REFUSED",
    "OWNER_CANNOT_LEAVE",
    "OWNER_CANNOT_UNSHARE",
    "OWNER_NOT_REMOVABLE",
    "OWNER_ONLY_ADD",
    "OWNER_ONLY_DELETE",
    "OWNER_ONLY_REMOVE",
    "PASSWORD_CHANGE_REQUIRED",
    "RATE_LIMIT_EXCEEDED",
    "READ_ONLY_TOKEN",
    "REJECTED_FILLER",
    "REJECTED_TOO_LONG",
    "REJECTED_TOO_SHORT",
    "RESTRICTED_TOKEN",
    "ROTATION_UNAVAILABLE",
    "ROUTE_NOT_FOUND",
    "SEARCH_DEGRADED",
    "SERVER_ADMIN_ONLY",
    "SERVICE_KEY_NOT_FOUND",
    "SIGN_IN_THROTTLED",
    "THROTTLED_CODE",
    "TENANTS_NEED_TENANT_MODE",
    "TOKEN_CONFINED",
    "TOKEN_MINT_FAILED",
    "TOKEN_NOT_FOUND",
    "TOO_MANY_FAILED_ATTEMPTS",
    "UNAUTHORIZED",
    "UNKNOWN_PROJECT",
    "UNKNOWN_SUITE",
    "UNKNOWN_USER",
    "UNKNOWN_USER_HINT",
    "URI_TOO_LONG",
    "USER_AUTH_NOT_ENABLED",
    "USER_EXISTS",
    "USER_EXISTS_CODE",
    "WRITE_QUOTA_EXCEEDED",
]

# ---- the REST envelope --------------------------------------------------------------------------------
INVALID_REQUEST_BODY = "invalid request body"
EMPTY_JSON_BODY = "Body cannot be empty when content-type is set to 'application/json'"
INVALID_JSON_BODY = "Body is not valid JSON but content-type is set to 'application/json'"
ROUTE_NOT_FOUND = "Not Found"  # beside `message: "Route METHOD:/path not found"` and `statusCode: 404`
INTERNAL_ERROR = "internal server error"
BODY_TOO_LARGE = "request body is too large"
URI_TOO_LONG = "request URI too long"
HEADERS_TOO_LARGE = "request headers too large"
JSON_TOO_DEEP = "JSON nesting too deep"
INVALID_PREFLIGHT = "Invalid Preflight Request"
RATE_LIMIT_EXCEEDED = "Rate limit exceeded, retry in {seconds} seconds"

# ---- credentials and route gates ----------------------------------------------------------------------
UNAUTHORIZED = "unauthorized"
ADMIN_ONLY = "admin only"
RESTRICTED_TOKEN = "restricted token"
READ_ONLY_TOKEN = "read-only token"
TOKEN_CONFINED = "token is confined to its project"
NOT_THE_TOKENS_PROJECT = "not a member of the token's project"
PASSWORD_CHANGE_REQUIRED = "password change required"
TOO_MANY_FAILED_ATTEMPTS = "too many failed attempts — try again later"
LOCKED_CODE = "TOO_MANY_FAILED_ATTEMPTS"
SIGN_IN_THROTTLED = "Too many requests. Please try again later."
THROTTLED_CODE = "TOO_MANY_REQUESTS"
TOKEN_NOT_FOUND = "token not found"
BEARER_REQUIRED = "a bearer token is required to rotate: present the nm_ token to replace (sessions are not rotated)"
ROTATION_UNAVAILABLE = "token rotation is only available when users have accounts (auth mode user or tenant)"

ON_BEHALF_REFUSED = "not available to on-behalf-of tokens"
ON_BEHALF_NO_PROJECTS = "on-behalf-of tokens cannot use projects"

# ---- the data plane ----------------------------------------------------------------------------------
NO_SUCH_PROJECT = "no such project '{ref}' — call project_list to see ids"
NOT_A_MEMBER_OF_PROJECT = "not a member of project '{ref}' (id {id})"
NO_SUCH_MEMORY = "no such memory in your scope"
SEARCH_DEGRADED = "search degraded: the embedder is unavailable and keywords found nothing"
CONTEXT_DEGRADED = "context degraded: the embedder is unavailable and keywords found nothing"
ENTRY_QUOTA_EXCEEDED = "entry quota exceeded: {limit} stored entries — forget something first"
WRITE_QUOTA_EXCEEDED = "write quota exceeded: {limit} writes/minute — retry after the window resets"
REJECTED_TOO_SHORT = "too short — not durable knowledge"
REJECTED_FILLER = "conversational filler — not durable knowledge"
REJECTED_TOO_LONG = "too long ({length} chars, max {limit}) — split into one fact per entry"
OBSERVER_DISABLED = "observer disabled"
OBSERVER_UNAVAILABLE = "observer model unavailable"
UNKNOWN_SUITE = "unknown suite '{suite}' — known suites: {known}"
DATABASE_UNAVAILABLE = "database unavailable"
DATABASE_TIMEOUT = "database query timed out"
IDENTICAL_MEMORY = "an identical memory already exists in this scope"

# ---- projects ----------------------------------------------------------------------------------------
UNKNOWN_PROJECT = "unknown project"
NOT_A_MEMBER = "not a member of this project"
UNKNOWN_USER = "unknown user"
UNKNOWN_USER_HINT = "unknown user '{email}' — share by exact email address"
ALREADY_A_MEMBER = "user is already a member"
NOT_THIS_PROJECTS_MEMBER = "user is not a member"
OWNER_CANNOT_LEAVE = "owner cannot leave; delete the project instead"
OWNER_CANNOT_UNSHARE = "the owner cannot unshare themselves — delete the project instead"
OWNER_ONLY_DELETE = "only the owner can delete a project"
OWNER_ONLY_ADD = "only the owner can add members"
OWNER_ONLY_REMOVE = "only the owner can remove other members"
OWNER_NOT_REMOVABLE = "the project's owner cannot be removed — delete the project instead"

# ---- administration ----------------------------------------------------------------------------------
USER_EXISTS = "User already exists"
USER_EXISTS_CODE = "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL"
USER_AUTH_NOT_ENABLED = "user auth not enabled"
TOKEN_MINT_FAILED = "user created but token mint failed"
NO_SUCH_USER = "no such user"
ADMINS_CANNOT_DELETE_THEMSELVES = "admins cannot delete themselves"
LAST_ADMIN_DELETE = "cannot delete the last admin — promote another user first"
LAST_ADMIN_DEMOTE = "cannot demote the last admin — promote another user first"
LAST_ADMIN_CODE = "LAST_ADMIN_PROTECTED"
ADMIN_DISABLED = "admin disabled"
SERVICE_KEY_NOT_FOUND = "service key not found"
NOT_FOUND = "not found"
IMPERSONATION_DISABLED = "impersonation is not available: admins manage identities, not memories"
TENANTS_NEED_TENANT_MODE = "tenants exist only in tenant mode"
SERVER_ADMIN_ONLY = "server admin only"
NO_SUCH_TENANT = "no such tenant"

# ---- Better Auth (`/api/auth/*`, rendered `{message, code}`) --------------------------------------------
BARE_UNAUTHORIZED = ""  # the admin plugin's 401 without a session: no body at all
BA_INVALID_EMAIL = "Invalid email"
BA_INVALID_EMAIL_OR_PASSWORD = "Invalid email or password"
BA_BANNED_USER = "You have been banned from this application"
BA_PASSWORD_TOO_SHORT = "Password too short"
BA_PASSWORD_TOO_LONG = "Password too long"
BA_INVALID_PASSWORD = "Invalid password"
BA_CREDENTIAL_ACCOUNT_NOT_FOUND = "Credential account not found"
BA_UNAUTHORIZED = "Unauthorized"
BA_USER_NOT_FOUND = "User not found"
BA_USER_ALREADY_EXISTS = "User already exists. Use another email."
BA_YOU_CANNOT_REMOVE_YOURSELF = "You cannot remove yourself"
BA_YOU_CANNOT_BAN_YOURSELF = "You cannot ban yourself"
BA_NO_DATA_TO_UPDATE = "No data to update"
BA_MISSING_OR_NULL_ORIGIN = "Missing or null Origin"
BA_INVALID_ORIGIN = "Invalid origin"
BA_RESET_PASSWORD_DISABLED = "Reset password isn't enabled"
BA_VERIFICATION_EMAIL_NOT_ENABLED = "Verification email isn't enabled"
BA_INVALID_TOKEN = "Invalid token"
BA_INVALID_VERIFICATION_TOKEN = "invalid_token"
BA_METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED = (
    "POST method requires deferSessionRefresh to be enabled in session config"
)
BA_NOT_ALLOWED_TO_LIST_USERS = "You are not allowed to list users"
BA_NOT_ALLOWED_TO_CREATE_USERS = "You are not allowed to create users"
BA_NOT_ALLOWED_TO_CHANGE_USERS_ROLE = "You are not allowed to change users role"
BA_NOT_ALLOWED_TO_UPDATE_USERS = "You are not allowed to update users"
BA_NOT_ALLOWED_TO_DELETE_USERS = "You are not allowed to delete users"
BA_NOT_ALLOWED_TO_BAN_USERS = "You are not allowed to ban users"
BA_NOT_ALLOWED_TO_SET_USERS_PASSWORD = "You are not allowed to set users password"
BA_NOT_ALLOWED_TO_LIST_USERS_SESSIONS = "You are not allowed to list users sessions"
BA_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS = "You are not allowed to revoke users sessions"

# ---- MCP ---------------------------------------------------------------------------------------------
MCP_MISSING_SESSION = "Bad Request: missing Mcp-Session-Id (only POST initialize may omit it)"
MCP_UNKNOWN_SESSION = "unknown sessionId"
MCP_TOO_MANY_SESSIONS = "too many concurrent MCP sessions for this user"
MCP_ORIGIN_NOT_ALLOWED = "Forbidden: origin '{origin}' not in allowlist"
MCP_UNSUPPORTED_PROTOCOL_VERSION = "Unsupported protocol version"
MCP_UNKNOWN_CURSOR = "unknown cursor"
MCP_UNKNOWN_TOOL = "Unknown tool: {name}"
INVALID_ARGUMENT = "invalid argument '{path}': {message}"

Source = Literal["reference", "better-auth", "novamem"]


@dataclass(frozen=True)
class ContractError:
    """One situation a client can recognise: the constant that answers it and how it travels.

    `status` is the HTTP status (for an MCP tool error, the 200 its JSON-RPC result travels in), `error`
    the class a service raises for it (None where an edge answers directly), `code` the machine-readable
    code sent beside the string, if any, and `when` the situation in a few words.
    """

    constant: str
    status: int
    when: str
    error: type[NovamemError] | None = None
    code: str | None = None
    source: Source = "reference"

    @property
    def message(self) -> str:
        """The exact string (a template where it has `{placeholders}`)."""
        return str(globals()[self.constant])


def _ba(constant: str, status: int, code: str, when: str, error: type[NovamemError] | None = None) -> ContractError:
    return ContractError(constant, status, when, error, code, "better-auth")


CONTRACT_ERRORS: tuple[ContractError, ...] = (
    # the envelope
    ContractError("INVALID_REQUEST_BODY", 400, "a body that fails validation (with `issues`)", InvalidInput),
    ContractError(
        "EMPTY_JSON_BODY",
        400,
        "`Content-Type: application/json` with no body",
        InvalidInput,
        "FST_ERR_CTP_EMPTY_JSON_BODY",
    ),
    ContractError(
        "INVALID_JSON_BODY",
        400,
        "bytes that are not JSON at all (no `issues`)",
        InvalidInput,
        "FST_ERR_CTP_INVALID_JSON_BODY",
    ),
    ContractError("ROUTE_NOT_FOUND", 404, "an unknown route or method (with `message` and `statusCode`)"),
    ContractError("INTERNAL_ERROR", 500, "an unexpected failure (details only logged)"),
    ContractError("BODY_TOO_LARGE", 413, "a body over 2 MiB", PayloadTooLarge),
    ContractError("URI_TOO_LONG", 414, "a request target over 2048 bytes", source="novamem"),
    ContractError("HEADERS_TOO_LARGE", 431, "one header over 8 KiB or all over 16 KiB", source="novamem"),
    ContractError("JSON_TOO_DEEP", 400, "a JSON body nested deeper than 32 levels", source="novamem"),
    ContractError("INVALID_PREFLIGHT", 400, "a preflight without `Origin` or `Access-Control-Request-Method` (text)"),
    ContractError("RATE_LIMIT_EXCEEDED", 429, "the per-IP request limit is used up (with `Retry-After`)"),
    # credentials and gates
    ContractError(
        "UNAUTHORIZED", 401, "no, unknown, revoked or expired credential; a non-admin on a hidden gate", Unauthenticated
    ),
    ContractError("ADMIN_ONLY", 403, "a non-admin on `/v1/admin/*`", Forbidden),
    ContractError(
        "ON_BEHALF_REFUSED",
        403,
        "an on-behalf-of token on `/v1/admin/*`, `/v1/me/*`, `/v1/auth/*`, `/api/auth/*`, the dashboard or a"
        " `project_*` tool",
        Forbidden,
        source="novamem",
    ),
    ContractError(
        "ON_BEHALF_NO_PROJECTS",
        403,
        "an on-behalf-of token naming a `project` or `includeProjects`",
        Forbidden,
        source="novamem",
    ),
    ContractError(
        "SERVICE_KEY_NOT_FOUND",
        404,
        "revoking an unknown or already revoked service key",
        NotFound,
        source="novamem",
    ),
    ContractError(
        "RESTRICTED_TOKEN", 403, "a read-only or project-confined token on `/v1/admin/*` or minting a token", Forbidden
    ),
    ContractError("READ_ONLY_TOKEN", 403, "a read-only token on a write", Forbidden),
    ContractError(
        "TOKEN_CONFINED", 403, "a project-confined token naming another scope or an account-wide read", Forbidden
    ),
    ContractError("NOT_THE_TOKENS_PROJECT", 403, "a confined token whose owner left its project", Forbidden),
    ContractError(
        "PASSWORD_CHANGE_REQUIRED",
        403,
        "a session that must change its password, off `/api/auth/*`",
        Forbidden,
        "PASSWORD_CHANGE_REQUIRED",
        "novamem",
    ),
    ContractError(
        "TOO_MANY_FAILED_ATTEMPTS",
        429,
        "5 failed sign-ins, rotations or password changes in 15 min (with `retryAfter`)",
        RateLimited,
    ),
    ContractError(
        "SIGN_IN_THROTTLED", 429, "more than 3 sign-ins per 10 s from one IP (`message`, `x-retry-after`)", RateLimited
    ),
    ContractError("TOKEN_NOT_FOUND", 404, "`DELETE /v1/me/tokens/{hash}` of no token of yours", NotFound),
    ContractError(
        "BEARER_REQUIRED", 400, "rotation with a session cookie and no `nm_` bearer", InvalidInput, source="novamem"
    ),
    ContractError(
        "ROTATION_UNAVAILABLE", 400, "rotation in the `none` and `bearer` modes", InvalidInput, source="novamem"
    ),
    # the data plane
    ContractError("NO_SUCH_PROJECT", 404, "a `project` parameter that names no project you can see", NotFound),
    ContractError("NOT_A_MEMBER_OF_PROJECT", 403, "a `project` parameter naming a project you are not in", Forbidden),
    ContractError("NO_SUCH_MEMORY", 404, "`PUT /v1/memories/{id}` of no entry in your scope", NotFound),
    ContractError(
        "SEARCH_DEGRADED", 503, "search degraded and empty (with `degraded: true`)", Unavailable, source="novamem"
    ),
    ContractError("CONTEXT_DEGRADED", 503, "context degraded and empty (with `degraded: true`)", Unavailable),
    ContractError("ENTRY_QUOTA_EXCEEDED", 429, "a write over the stored-entries quota", RateLimited),
    ContractError("WRITE_QUOTA_EXCEEDED", 429, "a write over the writes-per-minute quota", RateLimited),
    ContractError("REJECTED_TOO_SHORT", 201, "`rejected` of a write under 12 characters (not an error)"),
    ContractError("REJECTED_FILLER", 201, "`rejected` of a conversational filler write (not an error)"),
    ContractError("REJECTED_TOO_LONG", 201, "`rejected` of a write over the length policy (not an error)"),
    ContractError("OBSERVER_DISABLED", 404, "`GET /v1/context-prefix` without an observer"),
    ContractError("OBSERVER_DISABLED", 503, "`POST /v1/observe` without an observer"),
    ContractError(
        "OBSERVER_UNAVAILABLE",
        503,
        "`POST /v1/observe` when the observer's model is down, slow or answers garbage (why in `detail`)",
        Unavailable,
        source="novamem",
    ),
    ContractError(
        "UNKNOWN_SUITE", 400, "`POST /v1/evaluate` of a suite that does not exist", InvalidInput, source="novamem"
    ),
    ContractError("DATABASE_UNAVAILABLE", 503, "the database cannot be reached", Unavailable, source="novamem"),
    ContractError("DATABASE_TIMEOUT", 503, "a database query ran out of time", Unavailable, source="novamem"),
    ContractError("IDENTICAL_MEMORY", 409, "two identical writes raced in one scope", Conflict, source="novamem"),
    # projects
    ContractError("UNKNOWN_PROJECT", 404, "a `/v1/me/projects/{id}` route naming no visible project", NotFound),
    ContractError("NOT_A_MEMBER", 403, "a `/v1/me/projects/{id}` route of a project you are not in", Forbidden),
    ContractError("UNKNOWN_USER", 404, "adding a member by an email no account has", NotFound),
    ContractError(
        "UNKNOWN_USER_HINT",
        200,
        "`project_share`/`project_unshare` of an email no account (member) has (MCP)",
        NotFound,
    ),
    ContractError("ALREADY_A_MEMBER", 409, "adding someone who is already a member", Conflict),
    ContractError("NOT_THIS_PROJECTS_MEMBER", 404, "removing someone who is not a member", NotFound),
    ContractError("OWNER_CANNOT_LEAVE", 400, "the owner removing themselves", InvalidInput),
    ContractError("OWNER_CANNOT_UNSHARE", 200, "`project_unshare` of the owner themselves (MCP)", InvalidInput),
    ContractError("OWNER_ONLY_DELETE", 403, "a member deleting a project", Forbidden),
    ContractError("OWNER_ONLY_ADD", 403, "a member adding members", Forbidden, source="novamem"),
    ContractError("OWNER_ONLY_REMOVE", 403, "a member removing someone else", Forbidden, source="novamem"),
    ContractError("OWNER_NOT_REMOVABLE", 403, "a member removing the owner", Forbidden, source="novamem"),
    # administration
    ContractError("USER_EXISTS", 409, "`POST /v1/admin/users` with a taken email", Conflict, USER_EXISTS_CODE),
    ContractError("USER_AUTH_NOT_ENABLED", 404, "user provisioning in the `none` and `bearer` modes", NotFound),
    ContractError("TOKEN_MINT_FAILED", 500, "a provisioned user whose first token failed (with `userId`)"),
    ContractError("NO_SUCH_USER", 404, "`/v1/admin/users/{id}` of no user of your tenant", NotFound, "USER_NOT_FOUND"),
    ContractError(
        "ADMINS_CANNOT_DELETE_THEMSELVES",
        400,
        "`DELETE /v1/admin/users/{id}` of yourself",
        InvalidInput,
        "YOU_CANNOT_REMOVE_YOURSELF",
    ),
    ContractError(
        "LAST_ADMIN_DELETE", 400, "`admin/remove-user` of the last admin (`{error, code}`)", Conflict, LAST_ADMIN_CODE
    ),
    ContractError(
        "LAST_ADMIN_DELETE", 409, "`DELETE /v1/admin/users/{id}` of the last admin", Conflict, LAST_ADMIN_CODE
    ),
    ContractError(
        "LAST_ADMIN_DEMOTE",
        400,
        "`admin/set-role` demoting the last admin (`{error, code}`)",
        Conflict,
        LAST_ADMIN_CODE,
    ),
    ContractError("ADMIN_DISABLED", 404, "admin metrics with `NOVAMEM_ADMIN_DASHBOARD=0`"),
    ContractError("NOT_FOUND", 404, "an `/api/auth/*` path that is not allow-listed"),
    ContractError(
        "IMPERSONATION_DISABLED",
        403,
        "`admin/impersonate-user`, `admin/stop-impersonating`",
        Forbidden,
        "IMPERSONATION_DISABLED",
        "novamem",
    ),
    ContractError(
        "TENANTS_NEED_TENANT_MODE", 404, "`/v1/admin/tenants` outside `tenant` mode", NotFound, source="novamem"
    ),
    ContractError("SERVER_ADMIN_ONLY", 403, "a tenant admin on the tenant routes", Forbidden, source="novamem"),
    ContractError("NO_SUCH_TENANT", 404, "creating a user in a tenant that does not exist", NotFound, source="novamem"),
    # Better Auth
    _ba("BARE_UNAUTHORIZED", 401, "", "an `/api/auth/admin/*` route without a session (empty body)", Unauthenticated),
    _ba("BA_INVALID_EMAIL", 400, "INVALID_EMAIL", "sign-in or create-user with a malformed email", InvalidInput),
    _ba(
        "BA_INVALID_EMAIL_OR_PASSWORD",
        401,
        "INVALID_EMAIL_OR_PASSWORD",
        "a wrong password or unknown email",
        Unauthenticated,
    ),
    _ba("BA_BANNED_USER", 403, "BANNED_USER", "a banned account signing in", Forbidden),
    _ba("BA_PASSWORD_TOO_SHORT", 400, "PASSWORD_TOO_SHORT", "a new password under 8 characters", InvalidInput),
    _ba("BA_PASSWORD_TOO_LONG", 400, "PASSWORD_TOO_LONG", "a new password over 256 characters", InvalidInput),
    _ba(
        "BA_INVALID_PASSWORD", 400, "INVALID_PASSWORD", "change-password with the wrong current password", InvalidInput
    ),
    _ba(
        "BA_CREDENTIAL_ACCOUNT_NOT_FOUND",
        400,
        "CREDENTIAL_ACCOUNT_NOT_FOUND",
        "change-password of an account without one",
        NotFound,
    ),
    _ba(
        "BA_UNAUTHORIZED",
        401,
        "UNAUTHORIZED",
        "session routes (not the admin plugin) without a session",
        Unauthenticated,
    ),
    _ba("BA_USER_NOT_FOUND", 404, "USER_NOT_FOUND", "an admin route naming no user of your tenant", NotFound),
    _ba("BA_USER_ALREADY_EXISTS", 400, USER_EXISTS_CODE, "`admin/create-user` with a taken email", Conflict),
    _ba(
        "BA_YOU_CANNOT_REMOVE_YOURSELF",
        400,
        "YOU_CANNOT_REMOVE_YOURSELF",
        "`admin/remove-user` of yourself (other admins exist)",
        InvalidInput,
    ),
    _ba("BA_YOU_CANNOT_BAN_YOURSELF", 400, "YOU_CANNOT_BAN_YOURSELF", "`admin/ban-user` of yourself", InvalidInput),
    _ba("BA_NO_DATA_TO_UPDATE", 400, "NO_DATA_TO_UPDATE", "`admin/update-user` with an empty `data`", InvalidInput),
    _ba(
        "BA_MISSING_OR_NULL_ORIGIN",
        403,
        "MISSING_OR_NULL_ORIGIN",
        "a cookie-bearing change without `Origin`/`Referer`",
        Forbidden,
    ),
    _ba("BA_INVALID_ORIGIN", 403, "INVALID_ORIGIN", "a cookie-bearing change from an untrusted origin", Forbidden),
    _ba(
        "BA_RESET_PASSWORD_DISABLED",
        400,
        "RESET_PASSWORD_DISABLED",
        "`forget-password` (no email sender)",
        InvalidInput,
    ),
    _ba(
        "BA_VERIFICATION_EMAIL_NOT_ENABLED",
        400,
        "VERIFICATION_EMAIL_NOT_ENABLED",
        "`send-verification-email`",
        InvalidInput,
    ),
    _ba("BA_INVALID_TOKEN", 400, "INVALID_TOKEN", "`reset-password` (no reset token is ever issued)", InvalidInput),
    _ba(
        "BA_INVALID_VERIFICATION_TOKEN",
        401,
        "INVALID_TOKEN",
        "`verify-email` (no token is ever issued)",
        Unauthenticated,
    ),
    _ba(
        "BA_METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED",
        405,
        "METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED",
        "`POST /api/auth/get-session`",
    ),
    _ba(
        "BA_NOT_ALLOWED_TO_LIST_USERS",
        403,
        "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS",
        "a non-admin session on the admin plugin",
        Forbidden,
    ),
    _ba(
        "BA_NOT_ALLOWED_TO_CREATE_USERS",
        403,
        "YOU_ARE_NOT_ALLOWED_TO_CREATE_USERS",
        "a non-admin session on the admin plugin",
        Forbidden,
    ),
    _ba(
        "BA_NOT_ALLOWED_TO_CHANGE_USERS_ROLE",
        403,
        "YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE",
        "a non-admin session on the admin plugin",
        Forbidden,
    ),
    _ba(
        "BA_NOT_ALLOWED_TO_UPDATE_USERS",
        403,
        "YOU_ARE_NOT_ALLOWED_TO_UPDATE_USERS",
        "a non-admin session on the admin plugin",
        Forbidden,
    ),
    _ba(
        "BA_NOT_ALLOWED_TO_DELETE_USERS",
        403,
        "YOU_ARE_NOT_ALLOWED_TO_DELETE_USERS",
        "a non-admin session on the admin plugin",
        Forbidden,
    ),
    _ba(
        "BA_NOT_ALLOWED_TO_BAN_USERS",
        403,
        "YOU_ARE_NOT_ALLOWED_TO_BAN_USERS",
        "a non-admin session on the admin plugin",
        Forbidden,
    ),
    _ba(
        "BA_NOT_ALLOWED_TO_SET_USERS_PASSWORD",
        403,
        "YOU_ARE_NOT_ALLOWED_TO_SET_USERS_PASSWORD",
        "a non-admin session on the admin plugin",
        Forbidden,
    ),
    _ba(
        "BA_NOT_ALLOWED_TO_LIST_USERS_SESSIONS",
        403,
        "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS_SESSIONS",
        "a non-admin session on the admin plugin",
        Forbidden,
    ),
    _ba(
        "BA_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS",
        403,
        "YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS",
        "a non-admin session on the admin plugin",
        Forbidden,
    ),
    # MCP
    ContractError(
        "MCP_MISSING_SESSION", 400, "a request other than `initialize` without `Mcp-Session-Id` (JSON-RPC -32000)"
    ),
    ContractError("MCP_UNKNOWN_SESSION", 404, "an unknown, expired, closed or foreign `Mcp-Session-Id`"),
    ContractError("MCP_TOO_MANY_SESSIONS", 429, "an 11th open MCP session of one user", RateLimited),
    ContractError("MCP_ORIGIN_NOT_ALLOWED", 403, "an `Origin` outside `NOVAMEM_CORS_ORIGINS` (JSON-RPC -32000)"),
    ContractError(
        "MCP_UNSUPPORTED_PROTOCOL_VERSION", 400, "an unknown `MCP-Protocol-Version` header (JSON-RPC -32022)"
    ),
    ContractError("MCP_UNKNOWN_CURSOR", 200, "`tools/list` with a cursor (JSON-RPC -32602)"),
    ContractError("MCP_UNKNOWN_TOOL", 200, "`tools/call` of a tool that does not exist (JSON-RPC -32602)"),
    ContractError("INVALID_ARGUMENT", 200, "a tool argument that fails validation (`error: ...` tool result)"),
)


# Better Auth's message for each code the `/api/auth/*` routes send
def _better_auth_messages() -> dict[str, str]:
    by_code: dict[str, set[str]] = {}
    for e in CONTRACT_ERRORS:
        if e.source == "better-auth" and e.code:
            by_code.setdefault(e.code, set()).add(e.message)
    # a code Better Auth answers with two messages (INVALID_TOKEN) keeps the one its error was raised with
    return {code: messages.pop() for code, messages in by_code.items() if len(messages) == 1}


BA_MESSAGES: dict[str, str] = _better_auth_messages()
