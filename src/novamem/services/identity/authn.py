"""Turning presented credentials (shared token, `nm_` token, session cookie, on-behalf-of JWT) into a Caller,
once per request.

The HTTP stack's authentication middleware calls `Authenticator.authenticate_request` once for every
request and keeps the `Authentication` it returns in the ASGI scope's state, under `AUTHENTICATION_KEY`;
the client address resolved by the trusted-proxy rule sits beside it under `CLIENT_IP_KEY`. Every door
(REST dependencies, the MCP endpoint, the dashboard) reads them with the functions below, which take the
state as a plain mapping, so no door authenticates again and none needs the others' code:

- `require_caller(state)`: the caller, or the uniform refusal (`Unauthenticated("unauthorized")`, the
  credential's `Forbidden`, or the error that kept the credential from being checked).
- `caller_from_state(state)`, `credential_refusal_from_state(state)`, `authentication_from_state(state)`:
  the parts, for doors that answer refusals in their own shape (MCP) or show a page to anonymous callers.
- `client_ip_from_state(state)`: the client's address.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypedDict

from novamem.config import AuthMode
from novamem.domain.credentials import API_TOKEN_PREFIX, hash_secret, verify_session_cookie
from novamem.domain.scope import PUBLIC_TENANT, Caller, Credential, TokenScope, on_behalf_user_id
from novamem.error_messages import NOT_THE_TOKENS_PROJECT, UNAUTHORIZED
from novamem.errors import Forbidden, NovamemError, Unauthenticated
from novamem.services.identity.obo_tokens import OnBehalfTokens, looks_like_jwt
from novamem.storage.base import CredentialStore, Principal
from novamem.storage.service_keys import ServiceKeyRecord, ServiceKeyStore

__all__ = [
    "AUTHENTICATION_KEY",
    "CLIENT_IP_KEY",
    "SESSION_TTL",
    "Authentication",
    "Authenticator",
    "CookieFlags",
    "CookiePolicy",
    "authentication_from_state",
    "caller_from_state",
    "client_ip_from_state",
    "credential_refusal_from_state",
    "require_caller",
]

log = logging.getLogger("novamem.auth")

SESSION_TTL = timedelta(days=7)
SESSION_ROLL_AFTER = timedelta(days=1)
TOKEN_TOUCH_EVERY = timedelta(minutes=1)
RESOLVED_CACHE_ENTRIES = 10_000

# keys of the ASGI scope's state (`scope["state"]`) that the HTTP stack fills in for every door
AUTHENTICATION_KEY = "novamem_authentication"
CLIENT_IP_KEY = "client_ip"


@dataclass(frozen=True, slots=True)
class CookiePolicy:
    """How the session cookie is named and flagged."""

    secret: str
    secure: bool

    @property
    def name(self) -> str:
        return "__Secure-nm.session_token" if self.secure else "nm.session_token"

    @property
    def max_age(self) -> int:
        """Seconds a new session cookie lives (the session's TTL; the server rolls it daily)."""
        return int(SESSION_TTL.total_seconds())

    @property
    def flags(self) -> CookieFlags:
        """The attributes every door sets and clears the session cookie with."""
        return CookieFlags(path="/", secure=self.secure, httponly=True, samesite="lax")


class CookieFlags(TypedDict):
    """Session cookie attributes, as keyword arguments of a response's set/delete cookie."""

    path: str
    secure: bool
    httponly: bool
    samesite: Literal["lax"]


@dataclass(frozen=True, slots=True)
class Authentication:
    """What authenticating one request found; at most one field is set.

    `caller`: the credential is valid. `refusal`: it is valid but may not be used (a project-confined
    token whose owner left the project), answered 403 with this message. `failure`: it could not be
    checked (the database is unreachable); raised again by whoever needs the caller, so routes that do
    not (health probes, public pages) still answer. None set: no valid credential was presented (401).
    """

    caller: Caller | None = None
    refusal: str | None = None
    failure: NovamemError | None = None


_ANONYMOUS = Authentication()


class Authenticator:
    """Resolves credentials on every request.

    A resolution is reused only while the deployment-wide auth epoch is unchanged (one tiny query per
    request) and the credential has not expired. Every revocation, rotation, ban, role change,
    membership or active-project change moves the epoch in its own transaction, so it takes effect
    on the very next request on every replica. On-behalf-of JWTs are verified on every request; the
    service key a `kid` names is reused under the same epoch rule (registering or revoking a key moves it).
    """

    def __init__(
        self,
        mode: AuthMode,
        *,
        shared_token: str | None,
        cookies: CookiePolicy | None,
        credentials: CredentialStore | None,
        service_keys: ServiceKeyStore | None = None,
    ) -> None:
        self.mode = mode
        self._shared = shared_token.encode() if shared_token else None
        self.cookies = cookies
        self._credentials = credentials
        self._background: set[asyncio.Task[None]] = set()
        # (kind, sha256) -> (epoch, principal); only valid, unbanned principals are kept
        self._resolved: dict[tuple[str, str], tuple[int, Principal]] = {}
        # token hash -> when this process last stamped its use
        self._touched: dict[str, float] = {}
        self._service_keys = service_keys if credentials is not None else None
        # kid -> (epoch, live key); only live keys are kept
        self._keys: dict[str, tuple[int, ServiceKeyRecord]] = {}
        self._on_behalf = OnBehalfTokens(self._live_service_key) if self._service_keys is not None else None

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
        if presented is not None and looks_like_jwt(presented):
            return await self.on_behalf_caller(presented)
        return None

    async def authenticate_request(self, authorization: str | None, cookie_value: str | None) -> Authentication:
        """`authenticate`, with a refusal or a failure kept in the result instead of raised.

        The request's routes decide later whether they need a caller at all; a public route must not fail
        because of a credential it never asked for.
        """
        try:
            caller = await self.authenticate(authorization, cookie_value)
        except Forbidden as exc:
            return Authentication(refusal=exc.message)
        except NovamemError as exc:
            return Authentication(failure=exc)
        return _ANONYMOUS if caller is None else Authentication(caller=caller)

    async def session_caller(self, cookie_value: str) -> Caller | None:
        """The user behind a signed session cookie, rolling the session forward once a day."""
        if self.cookies is None or self._credentials is None:
            return None
        token = verify_session_cookie(self.cookies.secret, cookie_value)
        if token is None:
            return None
        epoch, principal = await self._resolve("session", hash_secret(token))
        if principal is None or principal.banned:
            return None
        updated = principal.session_updated_at
        if principal.session_id and updated is not None and datetime.now(UTC) - updated > SESSION_ROLL_AFTER:
            self._spawn(self._credentials.roll_session(principal.session_id, int(SESSION_TTL.total_seconds())))
        return self._caller(principal, Credential.SESSION, epoch=epoch)

    async def token_caller(self, token: str) -> Caller | None:
        if self._credentials is None:
            return None
        token_hash = hash_secret(token)
        epoch, principal = await self._resolve("token", token_hash)
        if principal is None or principal.banned:
            return None
        if not principal.confinement_ok:
            raise Forbidden(NOT_THE_TOKENS_PROJECT)
        used = principal.last_used_at
        stamped = self._touched.get(token_hash, 0.0)
        interval = TOKEN_TOUCH_EVERY.total_seconds()
        if (used is None or datetime.now(UTC) - used > TOKEN_TOUCH_EVERY) and time.monotonic() - stamped > interval:
            self._touched[token_hash] = time.monotonic()
            if len(self._touched) > RESOLVED_CACHE_ENTRIES:
                self._touched.clear()
            self._spawn(self._credentials.touch_token(token_hash))
        return self._caller(principal, Credential.TOKEN, token_hash=token_hash, epoch=epoch)

    async def on_behalf_caller(self, token: str) -> Caller | None:
        """The platform user an on-behalf-of JWT speaks for, or None for any failure (the uniform 401).

        The caller is `org:<org>/<sub>` in the key's tenant and organization: full scope on the data plane,
        never an admin or operator, never in a project.
        """
        if self._on_behalf is None:
            return None
        claims = await self._on_behalf.verify(token)
        if claims is None:
            return None
        return Caller(
            tenant_id=claims.key.tenant_id,
            user_id=on_behalf_user_id(claims.organization_id, claims.subject),
            token_scope=TokenScope.FULL,
            credential=Credential.OBO,
            organization_id=claims.organization_id,
        )

    def forget_resolutions(self) -> None:
        """Drop every reused resolution and last-use stamp memory of this process (for tests and
        tools that edit credential rows in ways the auth epoch does not track, such as last-use)."""
        self._resolved.clear()
        self._touched.clear()
        self._keys.clear()

    async def _live_service_key(self, kid: str) -> ServiceKeyRecord | None:
        """The live service key `kid` names, reused while the auth epoch stands still."""
        assert self._credentials is not None and self._service_keys is not None
        epoch = await self._credentials.epoch()
        cached = self._keys.get(kid)
        if cached is not None and cached[0] == epoch:
            return cached[1]
        record = await self._service_keys.live(kid)
        if record is None:
            self._keys.pop(kid, None)
            return None
        if len(self._keys) >= RESOLVED_CACHE_ENTRIES:
            self._keys.clear()
        # stored under the epoch read *before* the lookup: a revocation committed in between moves past it
        self._keys[kid] = (epoch, record)
        return record

    async def _resolve(self, kind: str, secret_hash: str) -> tuple[int, Principal | None]:
        """The auth epoch read now, and the principal behind a token or session hash (reused while the
        epoch stands still)."""
        assert self._credentials is not None
        epoch = await self._credentials.epoch()
        key = (kind, secret_hash)
        cached = self._resolved.get(key)
        if cached is not None and cached[0] == epoch:
            expires = cached[1].expires_at
            if expires is None or expires > datetime.now(UTC):
                return epoch, cached[1]
        if kind == "token":
            principal = await self._credentials.resolve_token(secret_hash)
        else:
            principal = await self._credentials.resolve_session(secret_hash)
        if principal is None or principal.banned:
            self._resolved.pop(key, None)
            return epoch, principal
        if len(self._resolved) >= RESOLVED_CACHE_ENTRIES:
            self._resolved.clear()
        # stored under the epoch read *before* resolving: a change committed in between moves the
        # epoch past it, so the next request resolves again
        self._resolved[key] = (epoch, principal)
        return epoch, principal

    def _caller(
        self, p: Principal, credential: Credential, *, token_hash: str | None = None, epoch: int | None = None
    ) -> Caller:
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
            auth_epoch=epoch,
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


def authentication_from_state(state: Mapping[str, Any]) -> Authentication:
    """What the request's authentication found (anonymous when it did not run for this request)."""
    found = state.get(AUTHENTICATION_KEY)
    return found if isinstance(found, Authentication) else _ANONYMOUS


def caller_from_state(state: Mapping[str, Any]) -> Caller | None:
    """The request's authenticated caller, or None (no valid credential, or one that was refused)."""
    return authentication_from_state(state).caller


def credential_refusal_from_state(state: Mapping[str, Any]) -> str | None:
    """The 403 message for a valid credential that may not be used, or None."""
    return authentication_from_state(state).refusal


def require_caller(state: Mapping[str, Any]) -> Caller:
    """The request's caller; raises the uniform answers otherwise.

    `Unauthenticated("unauthorized")` without a valid credential, `Forbidden` with the refusal, or the
    error that kept the credential from being checked.
    """
    found = authentication_from_state(state)
    if found.failure is not None:
        raise found.failure
    if found.refusal is not None:
        raise Forbidden(found.refusal)
    if found.caller is None:
        raise Unauthenticated(UNAUTHORIZED)
    return found.caller


def client_ip_from_state(state: Mapping[str, Any]) -> str | None:
    """The client's address as the HTTP stack resolved it (trusted-proxy rule); None when unknown."""
    found = state.get(CLIENT_IP_KEY)
    return found if isinstance(found, str) else None


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    value = value.strip()
    return value if scheme.lower() == "bearer" and value else None
