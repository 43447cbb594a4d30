"""Turning presented credentials (shared token, `nm_` token, session cookie) into a Caller."""

from __future__ import annotations

import asyncio
import hmac
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from novamem.config import AuthMode
from novamem.domain.credentials import API_TOKEN_PREFIX, hash_secret, verify_session_cookie
from novamem.domain.scope import PUBLIC_TENANT, Caller, Credential, TokenScope
from novamem.errors import Forbidden, NovamemError
from novamem.storage.base import CredentialStore, Principal

__all__ = ["SESSION_TTL", "Authenticator", "CookiePolicy"]

log = logging.getLogger("novamem.auth")

SESSION_TTL = timedelta(days=7)
SESSION_ROLL_AFTER = timedelta(days=1)
TOKEN_TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class CookiePolicy:
    """How the session cookie is named and flagged."""

    secret: str
    secure: bool

    @property
    def name(self) -> str:
        return "__Secure-nm.session_token" if self.secure else "nm.session_token"


class Authenticator:
    """Resolves credentials on every request; nothing is cached, so revocation is immediate."""

    def __init__(
        self,
        mode: AuthMode,
        *,
        shared_token: str | None,
        cookies: CookiePolicy | None,
        credentials: CredentialStore | None,
    ) -> None:
        self.mode = mode
        self._shared = shared_token.encode() if shared_token else None
        self.cookies = cookies
        self._credentials = credentials
        self._background: set[asyncio.Task[None]] = set()

    async def authenticate(self, authorization: str | None, cookie_value: str | None) -> Caller | None:
        """The caller, or None when no valid credential was presented (the edge answers 401).

        Raises Forbidden when a project-confined token's owner has left its project.
        """
        if self.mode is AuthMode.NONE:
            return Caller.public()
        presented = _bearer(authorization)
        if self.mode is AuthMode.BEARER:
            if (
                presented is not None
                and self._shared is not None
                and hmac.compare_digest(presented.encode(), self._shared)
            ):
                return Caller.public(Credential.SHARED)
            return None
        if cookie_value:
            caller = await self.session_caller(cookie_value)
            if caller is not None:
                return caller
        if presented is not None and presented.startswith(API_TOKEN_PREFIX):
            return await self.token_caller(presented)
        return None

    async def session_caller(self, cookie_value: str) -> Caller | None:
        """The user behind a signed session cookie, rolling the session forward once a day."""
        if self.cookies is None or self._credentials is None:
            return None
        token = verify_session_cookie(self.cookies.secret, cookie_value)
        if token is None:
            return None
        principal = await self._credentials.resolve_session(hash_secret(token))
        if principal is None or principal.banned:
            return None
        updated = principal.session_updated_at
        if principal.session_id and updated is not None and datetime.now(UTC) - updated > SESSION_ROLL_AFTER:
            self._spawn(self._credentials.roll_session(principal.session_id, int(SESSION_TTL.total_seconds())))
        return self._caller(principal, Credential.SESSION)

    async def token_caller(self, token: str) -> Caller | None:
        if self._credentials is None:
            return None
        token_hash = hash_secret(token)
        principal = await self._credentials.resolve_token(token_hash)
        if principal is None or principal.banned:
            return None
        if not principal.confinement_ok:
            raise Forbidden("not a member of the token's project")
        used = principal.last_used_at
        if used is None or datetime.now(UTC) - used > TOKEN_TOUCH_EVERY:
            self._spawn(self._credentials.touch_token(token_hash))
        return self._caller(principal, Credential.TOKEN, token_hash=token_hash)

    def _caller(self, p: Principal, credential: Credential, *, token_hash: str | None = None) -> Caller:
        return Caller(
            tenant_id=p.tenant_id,
            user_id=p.user_id,
            token_scope=TokenScope(p.scope),
            confined_project=p.confined_project,
            is_operator=p.is_admin,
            is_admin=p.is_admin,
            is_server_admin=p.is_admin and self.mode is AuthMode.TENANT and p.tenant_id == PUBLIC_TENANT,
            credential=credential,
            email=p.email,
            token_hash=token_hash,
            session_id=p.session_id,
            active_project=p.active_project,
            must_change_password=p.must_change_password and credential is Credential.SESSION,
        )

    def _spawn(self, work: object) -> None:
        """Run a bookkeeping write after the response; its failure never fails the request."""

        async def guarded() -> None:
            try:
                await work  # type: ignore[misc]
            except NovamemError as exc:
                log.warning("credential bookkeeping failed: %s", exc)

        task = asyncio.get_running_loop().create_task(guarded())
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    value = value.strip()
    return value if scheme.lower() == "bearer" and value else None
