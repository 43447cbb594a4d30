"""Dashboard sign-in and sessions, Better Auth compatible (`/api/auth/*`).

Errors here use Better Auth's `{message, code}` shape (the dashboard matches on `code`; the messages come
from `novamem.error_messages`), except the lockout and last-admin answers, which the reference gives as
`{error, ...}`, and the admin plugin's answer without a session, a bare 401 as Better Auth's. State-changing requests
that carry a cookie must come from a trusted origin (CSRF). There is deliberately no sign-up route:
users are created by admins only. The email flows (`forget-password`, `reset-password`, `verify-email`,
`send-verification-email`) are routed and answer what Better Auth answers when no email sender is
configured, because none ever is. `token`, `jwks` and the `Set-Auth-Jwt` header of `get-session` are Better
Auth's JWT plugin (EdDSA session JWTs, 15 minutes). Any other `/api/auth/*` path answers 404
`{"error":"not found"}`, and an allow-listed path called with the wrong method a bare 404.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute

from novamem.domain.scope import Caller, Credential
from novamem.error_messages import (
    BA_MESSAGES,
    BA_UNAUTHORIZED,
    BARE_UNAUTHORIZED,
    IMPERSONATION_DISABLED,
    INTERNAL_ERROR,
    INVALID_REQUEST_BODY,
    LAST_ADMIN_CODE,
    NOT_FOUND,
    PASSWORD_CHANGE_REQUIRED,
    THROTTLED_CODE,
    USER_AUTH_NOT_ENABLED,
)
from novamem.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    NovamemError,
    RateLimited,
    Unauthenticated,
)
from novamem.http.deps import ContainerDep, client_ip
from novamem.services.identity.account_models import (
    AuthSession,
    BanUser,
    ChangedPassword,
    ChangePassword,
    CreateUser,
    EmailFlowRequest,
    ResetPassword,
    RevokeSession,
    RevokeUserSession,
    SessionAndUser,
    SetRole,
    SetUserPassword,
    SignedIn,
    SignInEmail,
    Status,
    Success,
    UpdateUser,
    UserEnvelope,
    UserId,
    UserPage,
    UserSessions,
)
from novamem.services.identity.authn import authentication_from_state
from novamem.services.identity.origins import check_origin
from novamem.services.identity.session_jwt import JsonWebKeySet, SessionJwtService, SessionToken
from novamem.services.identity.sessions import IssuedSession

__all__ = ["better_auth_error", "router"]

log = logging.getLogger("novamem.http")

# Better Auth answers these with 400 where our error class would say otherwise
_STATUS_OVERRIDES = {
    "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL": 400,
    "CREDENTIAL_ACCOUNT_NOT_FOUND": 400,
    LAST_ADMIN_CODE: 400,
}
_CLASS_STATUS: tuple[tuple[type[NovamemError], int, str], ...] = (
    (InvalidInput, 400, "BAD_REQUEST"),
    (Unauthenticated, 401, "UNAUTHORIZED"),
    (Forbidden, 403, "FORBIDDEN"),
    (NotFound, 404, "NOT_FOUND"),
    (Conflict, 409, "CONFLICT"),
)
_KNOWN_PATHS = frozenset(
    {
        "sign-in/email",
        "sign-out",
        "get-session",
        "token",
        "jwks",
        "change-password",
        "list-sessions",
        "revoke-session",
        "revoke-sessions",
        "revoke-other-sessions",
        "forget-password",
        "reset-password",
        "verify-email",
        "send-verification-email",
        "admin/list-users",
        "admin/create-user",
        "admin/set-role",
        "admin/update-user",
        "admin/remove-user",
        "admin/ban-user",
        "admin/unban-user",
        "admin/set-user-password",
        "admin/list-user-sessions",
        "admin/revoke-user-session",
        "admin/revoke-user-sessions",
        "admin/impersonate-user",
        "admin/stop-impersonating",
    }
)


def better_auth_error(exc: NovamemError) -> Response:
    """Render an error the way the dashboard (a Better Auth client) expects it."""
    if isinstance(exc, RateLimited):
        if exc.code == THROTTLED_CODE:
            return JSONResponse(
                {"message": exc.message}, status_code=429, headers={"x-retry-after": str(exc.retry_after)}
            )
        return JSONResponse(
            {"error": exc.message, "retryAfter": exc.retry_after},
            status_code=429,
            headers={"Retry-After": str(exc.retry_after)},
        )
    if exc.code == LAST_ADMIN_CODE:
        return JSONResponse({"error": exc.message, "code": exc.code}, status_code=400)
    if exc.code == "METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED":
        return JSONResponse({"message": BA_MESSAGES[exc.code], "code": exc.code}, status_code=405)
    if isinstance(exc, Unauthenticated) and exc.code is None:  # the admin plugin without a session: no body
        return Response(status_code=401)
    status, default_code = next(((s, c) for cls, s, c in _CLASS_STATUS if isinstance(exc, cls)), (500, ""))
    if status >= 500:
        log.error("auth route failed: %s", exc.message)
        return JSONResponse({"message": INTERNAL_ERROR, "code": "INTERNAL_SERVER_ERROR"}, status_code=500)
    code = exc.code or default_code
    body: dict[str, Any] = {"message": BA_MESSAGES.get(code, exc.message), "code": code}
    if isinstance(exc, InvalidInput) and exc.issues:
        body["issues"] = exc.issues
    return JSONResponse(body, status_code=_STATUS_OVERRIDES.get(code, status))


class _BetterAuthRoute(APIRoute):
    """Routes whose errors (from dependencies too) render in Better Auth's shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except NovamemError as exc:
                return better_auth_error(exc)
            except RequestValidationError as exc:
                issues = [
                    {
                        "path": [p for p in e.get("loc", ()) if p != "body"],
                        "message": e.get("msg"),
                        "code": e.get("type"),
                    }
                    for e in exc.errors()
                ]
                return JSONResponse(
                    {"message": INVALID_REQUEST_BODY, "code": "VALIDATION_ERROR", "issues": issues}, status_code=400
                )

        return guarded


async def _csrf(request: Request, c: ContainerDep) -> None:
    """State-changing requests that carry cookies must come from a trusted origin."""
    check_origin(
        request.method,
        origin=request.headers.get("origin"),
        referer=request.headers.get("referer"),
        has_cookie="cookie" in request.headers,
        trusted=c.settings.trusted_origins,
    )


async def _throttle(request: Request, c: ContainerDep) -> None:
    await c.sessions.throttle(client_ip(request), request.url.path)


async def _session(request: Request) -> Caller | None:
    """The caller of the request's session cookie (authenticated once, by the middleware), if any."""
    found = authentication_from_state(request.scope.get("state") or {})
    if found.failure is not None:
        raise found.failure
    caller = found.caller
    return caller if caller is not None and caller.credential is Credential.SESSION else None


async def _signed_in(caller: Annotated[Caller | None, Depends(_session)]) -> Caller:
    if caller is None:
        raise Unauthenticated(BA_UNAUTHORIZED, code="UNAUTHORIZED")
    return caller


SessionDep = Annotated[Caller, Depends(_signed_in)]


async def _settled(caller: Annotated[Caller | None, Depends(_session)]) -> Caller:
    """A session whose account has no pending password change (the admin plugin needs one). Without a
    session the admin plugin answers a bare 401, as Better Auth's does."""
    if caller is None:
        raise Unauthenticated(BARE_UNAUTHORIZED)
    if caller.must_change_password:
        raise Forbidden(PASSWORD_CHANGE_REQUIRED, code="PASSWORD_CHANGE_REQUIRED")
    return caller


AdminSessionDep = Annotated[Caller, Depends(_settled)]
# documented on every admin-plugin route: without a session the answer has no body at all
_NO_SESSION: dict[int | str, dict[str, Any]] = {401: {"description": "no session (empty body)"}}
_routes = APIRouter(route_class=_BetterAuthRoute, dependencies=[Depends(_csrf)])


def _set_cookie(response: Response, c: ContainerDep, issued: IssuedSession) -> None:
    policy = c.sessions.cookies
    assert policy is not None
    response.set_cookie(policy.name, issued.cookie_value, max_age=policy.max_age, **policy.flags)


def _clear_cookie(response: Response, c: ContainerDep) -> None:
    policy = c.sessions.cookies
    if policy is not None:
        response.delete_cookie(policy.name, **policy.flags)


@_routes.post("/sign-in/email", response_model=SignedIn, dependencies=[Depends(_throttle)])
async def sign_in(body: SignInEmail, request: Request, c: ContainerDep) -> JSONResponse:
    """Sign in with email and password; sets the session cookie (throttled; locked after 5 failures)."""
    issued = await c.sessions.sign_in(
        body.email, body.password, ip=client_ip(request), user_agent=request.headers.get("user-agent")
    )
    response = JSONResponse(issued.signed_in().to_wire())
    _set_cookie(response, c, issued)
    return response


@_routes.post("/sign-out", response_model=Success)
async def sign_out(c: ContainerDep, caller: Annotated[Caller | None, Depends(_session)]) -> JSONResponse:
    """End this session and clear its cookie."""
    await c.sessions.sign_out(caller)
    response = JSONResponse(Success(success=True).to_wire())
    _clear_cookie(response, c)
    return response


def _session_jwt(c: ContainerDep) -> SessionJwtService:
    if c.session_jwt is None:
        raise NotFound(USER_AUTH_NOT_ENABLED)
    return c.session_jwt


@_routes.get("/get-session", response_model=SessionAndUser | None)
async def get_session(c: ContainerDep, caller: Annotated[Caller | None, Depends(_session)]) -> JSONResponse:
    """The signed-in session and user, or `null`; with a session, a JWT for it in `Set-Auth-Jwt`."""
    found = await c.sessions.current_session(caller) if caller is not None else None
    headers = {"Cache-Control": "no-store"}
    if found is not None:
        headers["Set-Auth-Jwt"] = await _session_jwt(c).token_for(found.user)
        headers["Access-Control-Expose-Headers"] = "set-auth-jwt"
    return JSONResponse(found.to_wire() if found is not None else None, headers=headers)


@_routes.get("/token", response_model=SessionToken, responses={401: {"description": "no session (empty body)"}})
async def session_token(c: ContainerDep, caller: Annotated[Caller | None, Depends(_session)]) -> Response:
    """A 15-minute EdDSA JWT for the signed-in session (verify it with `/api/auth/jwks`); a bare 401
    without a session, as Better Auth answers."""
    if caller is None:
        return Response(status_code=401)
    return JSONResponse((await _session_jwt(c).token(caller)).to_wire())


@_routes.get("/jwks", response_model=JsonWebKeySet)
async def jwks(c: ContainerDep) -> dict[str, Any]:
    """The public keys (Ed25519, JWK) that verify session JWTs; public."""
    return (await _session_jwt(c).jwks()).to_wire()


@_routes.post("/get-session", include_in_schema=False)
async def get_session_post() -> JSONResponse:
    """Better Auth refuses POST here unless deferred session refresh is on (it is not)."""
    raise NovamemError("method not allowed", code="METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED")


@_routes.post("/change-password", response_model=ChangedPassword)
async def change_password(body: ChangePassword, request: Request, c: ContainerDep, caller: SessionDep) -> JSONResponse:
    """Change your password (clears `mustChangePassword`); optionally end every other session."""
    changed, issued = await c.sessions.change_password(
        caller,
        body.current_password,
        body.new_password,
        revoke_other_sessions=body.revoke_other_sessions,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )
    response = JSONResponse(changed.to_wire())
    if issued is not None:
        _set_cookie(response, c, issued)
    return response


@_routes.get("/list-sessions", response_model=list[AuthSession])
async def list_sessions(c: ContainerDep, caller: SessionDep) -> list[dict[str, Any]]:
    """Your live sessions."""
    return [s.to_wire() for s in await c.sessions.list_sessions(caller)]


@_routes.post("/revoke-session", response_model=Status)
async def revoke_session(body: RevokeSession, c: ContainerDep, caller: SessionDep) -> dict[str, Any]:
    """End one of your sessions by its listed `token` handle."""
    await c.sessions.revoke_session(caller, body.token)
    return Status(status=True).to_wire()


@_routes.post("/revoke-sessions", response_model=Status)
async def revoke_sessions(c: ContainerDep, caller: SessionDep) -> dict[str, Any]:
    """End all of your sessions, this one included."""
    await c.sessions.revoke_sessions(caller, keep_current=False)
    return Status(status=True).to_wire()


@_routes.post("/revoke-other-sessions", response_model=Status)
async def revoke_other_sessions(c: ContainerDep, caller: SessionDep) -> dict[str, Any]:
    """End all of your sessions except this one."""
    await c.sessions.revoke_sessions(caller, keep_current=True)
    return Status(status=True).to_wire()


# ---- email flows: allow-listed, answered as Better Auth answers them without an email sender -------

_REFUSED_EMAIL_FLOW: dict[int | str, dict[str, Any]] = {400: {"description": "email delivery is not enabled"}}


@_routes.post("/forget-password", response_model=None, responses=_REFUSED_EMAIL_FLOW)
async def forget_password(body: EmailFlowRequest, c: ContainerDep) -> None:
    """Always 400 `RESET_PASSWORD_DISABLED`: this server sends no email (an admin sets a new password)."""
    c.sessions.request_password_reset()


@_routes.post("/reset-password", response_model=None, responses=_REFUSED_EMAIL_FLOW)
async def reset_password(
    body: ResetPassword, c: ContainerDep, token: Annotated[str | None, Query(max_length=4096)] = None
) -> None:
    """Always 400: `INVALID_TOKEN` (no reset token is ever issued), or `PASSWORD_TOO_SHORT`/`_LONG` first."""
    c.sessions.reset_password(body.token or token, body.new_password)


@_routes.get("/verify-email", response_model=None, responses={401: {"description": "no such token"}})
async def verify_email(
    c: ContainerDep,
    token: Annotated[str, Query(max_length=4096)],
    callback_url: Annotated[str | None, Query(alias="callbackURL", max_length=2048)] = None,
) -> None:
    """Always 401 `invalid_token`: no verification token is ever issued (`callbackURL` is not followed)."""
    c.sessions.verify_email()


@_routes.post("/send-verification-email", response_model=None, responses=_REFUSED_EMAIL_FLOW)
async def send_verification_email(body: EmailFlowRequest, c: ContainerDep) -> None:
    """Always 400 `VERIFICATION_EMAIL_NOT_ENABLED`: this server sends no email."""
    c.sessions.send_verification_email()


# ---- admin plugin ------------------------------------------------------------------------------


@_routes.get("/admin/list-users", response_model=UserPage, responses=_NO_SESSION)
async def admin_list_users(
    c: ContainerDep,
    caller: AdminSessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Users of your tenant, oldest first."""
    return (await c.users.page(caller, limit, offset)).to_wire()


@_routes.post("/admin/create-user", response_model=UserEnvelope, responses=_NO_SESSION)
async def admin_create_user(
    body: CreateUser, request: Request, c: ContainerDep, caller: AdminSessionDep
) -> dict[str, Any]:
    """Create a user in your tenant (they must change the password at first sign-in)."""
    user = await c.users.create(
        caller, email=body.email, password=body.password, name=body.name, role=body.role, request_ip=client_ip(request)
    )
    return UserEnvelope(user=user).to_wire()


@_routes.post("/admin/set-role", response_model=UserEnvelope, responses=_NO_SESSION)
async def admin_set_role(body: SetRole, request: Request, c: ContainerDep, caller: AdminSessionDep) -> dict[str, Any]:
    """Change a user's role; the last admin cannot be demoted."""
    user = await c.users.set_role(caller, body.user_id, body.role, request_ip=client_ip(request))
    return UserEnvelope(user=user).to_wire()


@_routes.post("/admin/update-user", response_model=UserEnvelope, responses=_NO_SESSION)
async def admin_update_user(
    body: UpdateUser, request: Request, c: ContainerDep, caller: AdminSessionDep
) -> dict[str, Any]:
    """Change a user's `name` and/or `email`; any other key in `data` is refused (`FIELD_NOT_ALLOWED`)."""
    user = await c.users.update(caller, body.user_id, body.data, request_ip=client_ip(request))
    return UserEnvelope(user=user).to_wire()


@_routes.post("/admin/remove-user", response_model=Success, responses=_NO_SESSION)
async def admin_remove_user(body: UserId, request: Request, c: ContainerDep, caller: AdminSessionDep) -> dict[str, Any]:
    """Remove a user and erase their data; never yourself, never the last admin."""
    await c.users.remove(caller, body.user_id, request_ip=client_ip(request))
    return Success(success=True).to_wire()


@_routes.post("/admin/ban-user", response_model=UserEnvelope, responses=_NO_SESSION)
async def admin_ban_user(body: BanUser, request: Request, c: ContainerDep, caller: AdminSessionDep) -> dict[str, Any]:
    """Ban a user (their sessions end; `banExpiresIn` seconds, or until unbanned)."""
    user = await c.users.ban(
        caller,
        body.user_id,
        reason=body.ban_reason,
        expires_in_seconds=body.ban_expires_in,
        request_ip=client_ip(request),
    )
    return UserEnvelope(user=user).to_wire()


@_routes.post("/admin/unban-user", response_model=UserEnvelope, responses=_NO_SESSION)
async def admin_unban_user(body: UserId, request: Request, c: ContainerDep, caller: AdminSessionDep) -> dict[str, Any]:
    """Lift a user's ban."""
    user = await c.users.unban(caller, body.user_id, request_ip=client_ip(request))
    return UserEnvelope(user=user).to_wire()


@_routes.post("/admin/set-user-password", response_model=Status, responses=_NO_SESSION)
async def admin_set_user_password(
    body: SetUserPassword, request: Request, c: ContainerDep, caller: AdminSessionDep
) -> dict[str, Any]:
    """Set a user's password; their sessions end and they must change it at next sign-in."""
    await c.users.set_password(caller, body.user_id, body.new_password, request_ip=client_ip(request))
    return Status(status=True).to_wire()


@_routes.post("/admin/list-user-sessions", response_model=UserSessions, responses=_NO_SESSION)
async def admin_list_user_sessions(body: UserId, c: ContainerDep, caller: AdminSessionDep) -> dict[str, Any]:
    """A user's live sessions."""
    return (await c.sessions.list_user_sessions(caller, body.user_id)).to_wire()


@_routes.post("/admin/revoke-user-session", response_model=Success, responses=_NO_SESSION)
async def admin_revoke_user_session(
    body: RevokeUserSession, request: Request, c: ContainerDep, caller: AdminSessionDep
) -> dict[str, Any]:
    """End one session of any user of your tenant, by its listed handle."""
    await c.sessions.revoke_user_session(caller, body.session_token, request_ip=client_ip(request))
    return Success(success=True).to_wire()


@_routes.post("/admin/revoke-user-sessions", response_model=Success, responses=_NO_SESSION)
async def admin_revoke_user_sessions(
    body: UserId, request: Request, c: ContainerDep, caller: AdminSessionDep
) -> dict[str, Any]:
    """End every session of a user of your tenant."""
    await c.sessions.revoke_user_sessions(caller, body.user_id, request_ip=client_ip(request))
    return Success(success=True).to_wire()


@_routes.post("/admin/impersonate-user", response_model=None, responses={403: {"description": "always"}})
@_routes.post("/admin/stop-impersonating", response_model=None, responses={403: {"description": "always"}})
async def admin_impersonation() -> None:
    """Deliberately unsupported: admins manage identities and never act as (or read the memories of)
    another user. Sharing inside a tenant happens only through project membership."""
    raise Forbidden(IMPERSONATION_DISABLED, code="IMPERSONATION_DISABLED")


_fallback = APIRouter()


@_fallback.api_route(
    "/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"], include_in_schema=False
)
async def not_routed(rest: str) -> Response:
    """Anything else under /api/auth (sign-up included: users are created by admins only)."""
    if rest in _KNOWN_PATHS:
        return Response(status_code=404)
    return JSONResponse({"error": NOT_FOUND}, status_code=404)


router = APIRouter(prefix="/api/auth", tags=["auth"])
router.include_router(_routes)
router.include_router(_fallback)
