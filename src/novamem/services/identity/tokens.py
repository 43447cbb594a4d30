"""API tokens `nm_…`: minted and shown once, stored as SHA-256, listed, revoked and rotated."""

from __future__ import annotations

from novamem.domain.credentials import API_TOKEN_PREFIX, hash_secret, new_api_token
from novamem.domain.entries import iso
from novamem.domain.scope import Caller, TokenScope
from novamem.error_messages import (
    BEARER_REQUIRED,
    LOCKED_CODE,
    NO_SUCH_USER,
    RESTRICTED_TOKEN,
    ROTATION_UNAVAILABLE,
    TOKEN_NOT_FOUND,
    TOO_MANY_FAILED_ATTEMPTS,
    UNAUTHORIZED,
)
from novamem.errors import Forbidden, InvalidInput, NotFound, RateLimited, Unauthenticated
from novamem.services.identity.access import AccessPolicy
from novamem.services.identity.audit import AuditService
from novamem.services.identity.authn import Authenticator
from novamem.services.identity.token_models import (
    SCOPE_NAMES,
    AdminTokenRevoked,
    MintedToken,
    RotatedToken,
    TokenDeleted,
    TokenList,
    TokenView,
)
from novamem.services.operations.admin import require_admin
from novamem.storage.base import Counters, ProjectStore, TokenRecord, TokenStore

__all__ = ["MINT_WARNING", "ROTATE_LOCKOUT", "TokenService"]

MINT_WARNING = "Store this token now: it is shown only once and cannot be recovered."
MAX_LABEL = 128
MAX_EXPIRY_DAYS = 3650
# failed rotations per presented token: ROTATE_LOCKOUT failures within the window lock it out
ROTATE_LOCKOUT = 5
ROTATE_WINDOW_SECONDS = 15 * 60


def _minted(record: TokenRecord, token: str) -> MintedToken:
    return MintedToken(
        token=token,
        user_id=record.user_id,
        created_at=iso(record.created_at),
        scope=SCOPE_NAMES[record.scope],
        project_id=record.project_id,
        expires_at=iso(record.expires_at),
        warning=MINT_WARNING,
    )


def _listed(record: TokenRecord) -> TokenView:
    return TokenView(
        token_hash=record.token_hash,
        label=record.label,
        scope=SCOPE_NAMES[record.scope],
        project_id=record.project_id,
        expires_at=iso(record.expires_at),
        created_at=iso(record.created_at),
        last_used_at=iso(record.last_used_at),
        revoked=record.revoked_at is not None,
    )


class TokenService:
    """Token use cases for the self-service API, the admin API, rotation and the command line."""

    def __init__(
        self,
        store: TokenStore,
        projects: ProjectStore,
        access: AccessPolicy,
        authenticator: Authenticator,
        counters: Counters,
        audit: AuditService,
    ) -> None:
        self._store = store
        self._projects = projects
        self._access = access
        self._authenticator = authenticator
        self._counters = counters
        self._audit = audit

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
        """A new token for a user of the tenant. The plaintext exists only in this answer; the database keeps
        its SHA-256.

        `project_id` must already be a project the user may use (callers resolve references first).
        """
        if scope not in (TokenScope.FULL, TokenScope.READ_ONLY):
            raise InvalidInput(issues=[{"path": ["scope"], "message": "must be full or read_only", "code": "enum"}])
        if len(label) > MAX_LABEL:
            raise InvalidInput(issues=[{"path": ["label"], "message": "at most 128 characters", "code": "too_big"}])
        if expires_in_days is not None and not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
            raise InvalidInput(
                issues=[{"path": ["expiresInDays"], "message": "must be between 1 and 3650", "code": "too_big"}]
            )
        token = new_api_token()
        record = await self._store.insert(
            tenant_id,
            user_id,
            hash_secret(token),
            label=label,
            scope=str(scope),
            project_id=project_id,
            expires_in_days=expires_in_days,
        )
        return _minted(record, token)

    async def mint_for_caller(
        self,
        caller: Caller,
        *,
        label: str = "",
        scope: str = "full",
        project: str | None = None,
        expires_in_days: int | None = None,
    ) -> MintedToken:
        """A token for the calling user; a project reference (id or name) must be one they belong to."""
        if caller.is_restricted:
            raise Forbidden(RESTRICTED_TOKEN)
        project_id = await self._access.resolve_project(caller, project) if project is not None else None
        return await self.mint(
            caller.tenant_id,
            caller.user_id,
            label=label,
            scope=scope,
            project_id=project_id,
            expires_in_days=expires_in_days,
        )

    async def mint_for_email(
        self,
        tenant_id: str,
        email: str,
        *,
        label: str = "",
        scope: str = "full",
        project: str | None = None,
        expires_in_days: int | None = None,
    ) -> MintedToken:
        """Operator minting (command line): the account is named by its exact email within the tenant."""
        caller = await self._account(tenant_id, email)
        project_id = await self._access.resolve_project(caller, project) if project is not None else None
        return await self.mint(
            tenant_id, caller.user_id, label=label, scope=scope, project_id=project_id, expires_in_days=expires_in_days
        )

    async def list_for_caller(self, caller: Caller) -> TokenList:
        """The caller's tokens, oldest first, revoked and expired ones included."""
        return TokenList(tokens=[_listed(r) for r in await self._store.list_for_user(caller.tenant_id, caller.user_id)])

    async def list_for_email(self, tenant_id: str, email: str) -> TokenList:
        """Operator listing (command line): the account is named by its exact email within the tenant."""
        caller = await self._account(tenant_id, email)
        return await self.list_for_caller(caller)

    async def revoke_own(self, caller: Caller, token_hash: str) -> TokenDeleted:
        """Revoke one of the caller's own tokens by hash; anyone else's looks like no token at all."""
        if caller.is_restricted:
            raise Forbidden(RESTRICTED_TOKEN)
        if not await self._store.revoke(caller.tenant_id, caller.user_id, token_hash):
            raise NotFound(TOKEN_NOT_FOUND)
        return TokenDeleted(deleted=True)

    async def revoke_plaintext(self, tenant_id: str, token: str) -> bool:
        """Kill a token known only by its plaintext (a leak), within one tenant."""
        return await self._store.revoke_any(tenant_id, hash_secret(token))

    async def admin_revoke(self, caller: Caller, token: str, *, request_ip: str | None = None) -> AdminTokenRevoked:
        """An admin kills a leaked token of any user of their own tenant (whether one matched)."""
        require_admin(caller)
        revoked = await self.revoke_plaintext(caller.tenant_id, token)
        await self._audit.record(
            caller, "admin.token.revoke", hash_secret(token), {"revoked": revoked}, request_ip=request_ip
        )
        return AdminTokenRevoked(revoked=revoked)

    async def rotate(self, bearer: str | None, cookie_value: str | None) -> RotatedToken:
        """Replace the presented `nm_` token: it is revoked and a new one with the same scope, project
        and expiry is minted in one transaction.

        Failed attempts count per presented token; after ROTATE_LOCKOUT of them in the window the
        token is locked out of rotation (429) until the window ends.
        """
        if not self._authenticator.mode.has_accounts:
            raise InvalidInput(ROTATION_UNAVAILABLE)
        if bearer is None or not bearer.startswith(API_TOKEN_PREFIX):
            if cookie_value and await self._authenticator.session_caller(cookie_value) is not None:
                raise InvalidInput(BEARER_REQUIRED)
            raise Unauthenticated(UNAUTHORIZED)
        old_hash = hash_secret(bearer)
        key = f"lock:rotate:{old_hash}"
        window = await self._counters.peek(key)
        if window.count >= ROTATE_LOCKOUT:
            raise RateLimited(TOO_MANY_FAILED_ATTEMPTS, retry_after=window.reset_in, code=LOCKED_CODE)
        try:
            return await self._rotate(bearer, old_hash)
        except (Unauthenticated, Forbidden):
            await self._counters.hit(key, ROTATE_WINDOW_SECONDS)
            raise

    async def _rotate(self, bearer: str, old_hash: str) -> RotatedToken:
        caller = await self._authenticator.token_caller(bearer)
        if caller is None:
            raise Unauthenticated(UNAUTHORIZED)
        # a restricted token may replace itself: the replacement keeps its scope and project (reference 3.6)
        token = new_api_token()
        record = await self._store.rotate(caller.tenant_id, caller.user_id, old_hash, hash_secret(token))
        if record is None:  # revoked or expired between the lookup and the rotation
            raise Unauthenticated(UNAUTHORIZED)
        return RotatedToken(
            token=token, user_id=record.user_id, created_at=iso(record.created_at), warning=MINT_WARNING
        )

    async def _account(self, tenant_id: str, email: str) -> Caller:
        user = await self._projects.user_by_email(tenant_id, email)
        if user is None:
            raise NotFound(NO_SUCH_USER)
        return Caller(tenant_id=tenant_id, user_id=user.id, email=user.email)
