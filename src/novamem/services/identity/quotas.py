"""Write quotas: entries stored and writes per minute, per user, enforced across every replica.

The server defaults (`NOVAMEM_QUOTA_MAX_ENTRIES`, `NOVAMEM_QUOTA_WRITES_PER_MINUTE`, 0 = unlimited) apply
unless the user has an override row (NULL = default). Writes per minute are counted in the shared
fixed-window counters. The entry cap is checked twice: here, from the database, before any work is done
(a per-process tally would miss what the other replicas stored); and again by the store inside the writing
transaction, under a lock per user, so two writes racing for the last free slot (on any replicas) cannot
both land. With no cap in force neither check runs.

An override is reused by this process only while the deployment-wide auth epoch the caller was resolved
under stands still: changing an override moves the epoch (a database trigger), so every replica reads the
new limits on its next request.
"""

from __future__ import annotations

from dataclasses import dataclass

from novamem.domain.scope import Caller
from novamem.error_messages import ENTRY_QUOTA_EXCEEDED, NO_SUCH_USER, WRITE_QUOTA_EXCEEDED
from novamem.errors import NotFound, NovamemError, RateLimited
from novamem.services.identity.audit import AuditService
from novamem.services.identity.quota_models import QuotaResponse, QuotaView, UsageResponse
from novamem.services.operations.admin import require_admin
from novamem.storage.base import Counters, QuotaOverride, QuotaStore

__all__ = ["Admission", "Quota", "QuotaService"]

WRITE_WINDOW_S = 60
_CACHE_MAX = 10_000


@dataclass(frozen=True, slots=True)
class Quota:
    """Limits in force for one user; None means unlimited."""

    max_entries: int | None
    writes_per_minute: int | None

    def view(self) -> QuotaView:
        """The limits as answered (null = unlimited)."""
        return QuotaView(max_entries=self.max_entries, writes_per_minute=self.writes_per_minute)


@dataclass(frozen=True, slots=True)
class Admission:
    """How many writes of a batch the quota admits (the first `admitted`, in order), and the error that
    refuses the rest (None when all are admitted)."""

    admitted: int
    refusal: NovamemError | None


def _limit(value: int | None) -> int | None:
    return value if value else None


class QuotaService:
    """Checks writes against the caller's quota and manages per-user overrides."""

    def __init__(
        self,
        store: QuotaStore,
        counters: Counters,
        audit: AuditService,
        *,
        max_entries: int,
        writes_per_minute: int,
    ) -> None:
        self._store = store
        self._counters = counters
        self._audit = audit
        self._default = QuotaOverride(max_entries, writes_per_minute)
        # (tenant, user) -> (auth epoch it was read under, override)
        self._overrides: dict[tuple[str, str], tuple[int, QuotaOverride]] = {}

    async def effective(
        self, tenant_id: str, user_id: str, *, has_account: bool, auth_epoch: int | None = None
    ) -> Quota:
        """The user's override where set, else the server default (the shared caller has no overrides).

        `auth_epoch`: the epoch the caller's credential was resolved under; an override read under the same
        epoch is reused, otherwise (or with None) it is read again."""
        override = await self._override(tenant_id, user_id, auth_epoch) if has_account else QuotaOverride(None, None)
        return Quota(
            max_entries=_limit(override.max_entries if override.max_entries is not None else self._default.max_entries),
            writes_per_minute=_limit(
                override.writes_per_minute
                if override.writes_per_minute is not None
                else self._default.writes_per_minute
            ),
        )

    async def check_write(self, caller: Caller, amount: int = 1) -> None:
        """Refuse (429) when the caller is at their entry cap or over their writes per minute.

        The window counter counts these `amount` writes only when a limit is set; the entry count is read
        from the database each time, so another replica's writes count and forgetting something frees
        room at once.
        """
        quota = await self._quota(caller)
        if quota.max_entries is not None:
            # read each time, never cached: a process's own tally misses what the other replicas stored
            if await self._store.count_entries(caller.tenant_id, caller.user_id) >= quota.max_entries:
                raise _entry_refusal(quota.max_entries)
        if quota.writes_per_minute is not None:
            window = await self._counters.hit(_window_key(caller), WRITE_WINDOW_S, amount)
            if window.count > quota.writes_per_minute:
                raise _window_refusal(quota.writes_per_minute, window.reset_in)

    async def admit(self, caller: Caller, count: int) -> Admission:
        """Admit a batch of `count` writes in one check: the first ones that fit the entry cap and the writes
        per minute, in order; the rest are refused as one-by-one checks would refuse them.

        One count query (with a cap) and one window hit of the writes admitted by the cap (with a limit),
        whatever the batch size. The entries admitted may still be refused by the store's own check if a
        concurrent write takes the room first.
        """
        quota = await self._quota(caller)
        admitted, refusal = count, None
        if quota.max_entries is not None and count > 0:
            room = max(0, quota.max_entries - await self._store.count_entries(caller.tenant_id, caller.user_id))
            if room < count:
                admitted, refusal = room, _entry_refusal(quota.max_entries)
        if quota.writes_per_minute is not None and admitted > 0:
            window = await self._counters.hit(_window_key(caller), WRITE_WINDOW_S, admitted)
            fits = max(0, quota.writes_per_minute - (window.count - admitted))
            if fits < admitted:
                admitted, refusal = fits, _window_refusal(quota.writes_per_minute, window.reset_in)
        return Admission(admitted=admitted, refusal=refusal)

    async def entry_cap(self, caller: Caller) -> int | None:
        """The caller's entry cap in force (None: none), for the store to check again when it inserts; right
        after `check_write` or `admit` for the same caller this costs no query (same auth epoch)."""
        return (await self._quota(caller)).max_entries

    async def _quota(self, caller: Caller) -> Quota:
        return await self.effective(
            caller.tenant_id, caller.user_id, has_account=caller.is_user, auth_epoch=caller.auth_epoch
        )

    async def usage(self, caller: Caller) -> UsageResponse:
        """How many entries the caller stores and the limits in force (null = unlimited)."""
        entries = await self._store.count_entries(caller.tenant_id, caller.user_id)
        quota = await self._quota(caller)
        return UsageResponse(entries=entries, quota=quota.view())

    async def set_override(
        self,
        admin: Caller,
        user_id: str,
        max_entries: int | None,
        writes_per_minute: int | None,
        *,
        request_ip: str | None = None,
    ) -> QuotaResponse:
        """Set (or with nulls clear) a user's overrides in the admin's tenant, recorded in the audit log;
        answers the limits in force."""
        require_admin(admin)
        found = await self._store.set_override(admin.tenant_id, user_id, QuotaOverride(max_entries, writes_per_minute))
        if not found:
            raise NotFound(NO_SUCH_USER)
        self._overrides.pop((admin.tenant_id, user_id), None)
        await self._audit.record(
            admin,
            "admin.user.quota",
            user_id,
            {"maxEntries": max_entries, "writesPerMinute": writes_per_minute},
            request_ip=request_ip,
        )
        quota = await self.effective(admin.tenant_id, user_id, has_account=True)
        return QuotaResponse(user_id=user_id, quota=quota.view())

    async def _override(self, tenant_id: str, user_id: str, auth_epoch: int | None) -> QuotaOverride:
        key = (tenant_id, user_id)
        cached = self._overrides.get(key)
        if cached is not None and auth_epoch is not None and cached[0] == auth_epoch:
            return cached[1]
        override = await self._store.override(tenant_id, user_id)
        if auth_epoch is not None:
            if len(self._overrides) >= _CACHE_MAX:
                self._overrides.clear()
            # kept under the epoch read *before* this read: a change committed in between moves past it
            self._overrides[key] = (auth_epoch, override)
        return override


def _window_key(caller: Caller) -> str:
    return f"quota:writes:{caller.tenant_id}:{caller.user_id}"


def _entry_refusal(limit: int) -> RateLimited:
    return RateLimited(ENTRY_QUOTA_EXCEEDED.format(limit=limit), retry_after=WRITE_WINDOW_S)


def _window_refusal(limit: int, reset_in: int) -> RateLimited:
    return RateLimited(WRITE_QUOTA_EXCEEDED.format(limit=limit), retry_after=reset_in)
