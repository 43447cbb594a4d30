"""Dashboard sessions: sign-in (throttled, with lockouts), sign-out, password changes, listing and ending
your own sessions, and an admin listing or ending another user's.

The Better-Auth-compatible `/api/auth/*` routes and the dashboard call these. Errors carry a Better Auth
`code`; each edge renders them its way. Counters for sign-in throttling and lockouts live in PostgreSQL,
so every replica shares them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

from novamem.domain.credentials import hash_secret, new_session_token, sign_session_token
from novamem.domain.entries import iso
from novamem.domain.scope import Caller
from novamem.error_messages import (
    BA_BANNED_USER,
    BA_CREDENTIAL_ACCOUNT_NOT_FOUND,
    BA_INVALID_EMAIL_OR_PASSWORD,
    BA_INVALID_PASSWORD,
    BA_INVALID_TOKEN,
    BA_INVALID_VERIFICATION_TOKEN,
    BA_RESET_PASSWORD_DISABLED,
    BA_VERIFICATION_EMAIL_NOT_ENABLED,
    LOCKED_CODE,
    SIGN_IN_THROTTLED,
    THROTTLED_CODE,
    TOO_MANY_FAILED_ATTEMPTS,
    USER_AUTH_NOT_ENABLED,
)
from novamem.errors import Forbidden, InvalidInput, NotFound, RateLimited, Unauthenticated
from novamem.services.identity.access import require_admin
from novamem.services.identity.account_models import (
    AuthSession,
    ChangedPassword,
    SessionAndUser,
    SessionList,
    SignedIn,
)
from novamem.services.identity.audit import AuditService
from novamem.services.identity.authn import SESSION_TTL, CookiePolicy
from novamem.services.identity.passwords import check_password_length, hash_password, needs_rehash, verify_password
from novamem.services.identity.users import auth_user, normalise_email, require_user
from novamem.storage.accounts import AccountStore, SessionRecord, UserRecord
from novamem.storage.base import Counters

__all__ = ["IssuedSession", "SessionService", "auth_session"]

# sign-in throttle per (IP, path), and failure lockout per account (the reference's numbers)
THROTTLE_REQUESTS = 3
THROTTLE_WINDOW_S = 10
LOCKOUT_FAILURES = 5
LOCKOUT_WINDOW_S = 15 * 60


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


class SessionService:
    """Sign-in, sign-out, password changes and sessions. `cookies` is None where users have no accounts."""

    def __init__(
        self, store: AccountStore, counters: Counters, audit: AuditService, *, cookies: CookiePolicy | None
    ) -> None:
        self._store = store
        self._counters = counters
        self._audit = audit
        self.cookies = cookies

    # ---- sign-in -----------------------------------------------------------------------------

    async def throttle(self, ip: str | None, path: str) -> None:
        """3 requests per 10 s per (IP, path), counted deployment-wide; RateLimited beyond."""
        window = await self._counters.hit(f"signin-ip:{ip or '-'}:{path}", THROTTLE_WINDOW_S)
        if window.count > THROTTLE_REQUESTS:
            raise RateLimited(SIGN_IN_THROTTLED, retry_after=window.reset_in, code=THROTTLED_CODE)

    async def _lockout_attempt(self, key: str) -> None:
        """Count an attempt against a lockout key; refuse once 5 failed within the window.

        Counting before verifying makes parallel guesses race-free; a success clears the key.
        """
        window = await self._counters.hit(key, LOCKOUT_WINDOW_S)
        if window.count > LOCKOUT_FAILURES:
            raise RateLimited(TOO_MANY_FAILED_ATTEMPTS, retry_after=window.reset_in, code=LOCKED_CODE)

    async def sign_in(self, email: str, password: str, *, ip: str | None, user_agent: str | None) -> IssuedSession:
        """Check the password and open a session. An unknown email and a wrong password are the same
        401 and take the same time (a dummy argon2 verification)."""
        address = normalise_email(email)
        key = f"lock:signin:{address}"
        await self._lockout_attempt(key)
        user = await self._store.find_user_for_sign_in(address)
        ok = await verify_password(user.password_hash if user else None, password[:1024])
        if user is None or not ok:
            raise Unauthenticated(BA_INVALID_EMAIL_OR_PASSWORD, code="INVALID_EMAIL_OR_PASSWORD")
        if user.banned_now:
            raise Forbidden(BA_BANNED_USER, code="BANNED_USER")
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
            raise NotFound(USER_AUTH_NOT_ENABLED)
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
            raise NotFound(BA_CREDENTIAL_ACCOUNT_NOT_FOUND, code="CREDENTIAL_ACCOUNT_NOT_FOUND")
        if not await verify_password(user.password_hash, current[:1024]):
            raise InvalidInput(BA_INVALID_PASSWORD, code="INVALID_PASSWORD")
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

    # ---- your own sessions -------------------------------------------------------------------

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

    # ---- email flows: Better Auth's answers when no email sender is configured (none ever is) -------

    def request_password_reset(self) -> NoReturn:
        """Refused as Better Auth refuses it without `sendResetPassword`: 400 `RESET_PASSWORD_DISABLED`.
        Admins reset passwords instead (`set-user-password`)."""
        raise InvalidInput(BA_RESET_PASSWORD_DISABLED, code="RESET_PASSWORD_DISABLED")

    def send_verification_email(self) -> NoReturn:
        """Refused as Better Auth refuses it without `sendVerificationEmail`: 400
        `VERIFICATION_EMAIL_NOT_ENABLED`."""
        raise InvalidInput(BA_VERIFICATION_EMAIL_NOT_ENABLED, code="VERIFICATION_EMAIL_NOT_ENABLED")

    def reset_password(self, token: str | None, new_password: str) -> NoReturn:
        """Better Auth's checks in its order: a token is required, then the password length, then the
        token must be one it issued; no reset token is ever issued here, so it always ends 400
        `INVALID_TOKEN`."""
        if token:
            check_password_length(new_password)
        raise InvalidInput(BA_INVALID_TOKEN, code="INVALID_TOKEN")

    def verify_email(self) -> NoReturn:
        """Better Auth's answer to a verification token it did not sign: 401 `invalid_token` (no
        verification token is ever issued here)."""
        raise Unauthenticated(BA_INVALID_VERIFICATION_TOKEN, code="INVALID_TOKEN")

    async def prune_sessions(self) -> int:
        """Delete expired sessions (a background job)."""
        return await self._store.delete_expired_sessions()

    # ---- other users' sessions (admins) ------------------------------------------------------

    async def list_user_sessions(self, caller: Caller, user_id: str) -> SessionList:
        """The live sessions of a user of the caller's tenant."""
        require_admin(caller, "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS_SESSIONS")
        user = await require_user(self._store, caller, user_id)
        return SessionList(
            sessions=[auth_session(s) for s in await self._store.list_sessions(caller.tenant_id, user.id)]
        )

    async def revoke_user_sessions(self, caller: Caller, user_id: str, *, request_ip: str | None = None) -> int:
        """End every session of a user of the caller's tenant; answers how many ended."""
        require_admin(caller, "YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS")
        user = await require_user(self._store, caller, user_id)
        count = await self._store.revoke_sessions(caller.tenant_id, user.id)
        await self._audit.record(caller, "user.sessions.revoke", user.id, {"sessions": count}, request_ip=request_ip)
        return count

    async def revoke_user_session(self, caller: Caller, handle: str, *, request_ip: str | None = None) -> bool:
        """End one session of any user of the tenant, named by its listed handle (session id) or by the
        token sign-in returned. The row is deleted, which moves the auth epoch: the session is refused on
        the next request on every replica."""
        require_admin(caller, "YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS")
        session = await self._store.get_session(caller.tenant_id, handle, token_hash=hash_secret(handle))
        if session is None:
            return False
        done = await self._store.revoke_session(caller.tenant_id, session.user_id, session_id=session.id, token_hash="")
        await self._audit.record(caller, "user.session.revoke", session.user_id, {}, request_ip=request_ip)
        return done
