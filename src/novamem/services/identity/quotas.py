"""Write quotas: entries stored and writes per minute, per user, enforced across every replica.

The server defaults (`NOVAMEM_QUOTA_MAX_ENTRIES`, `NOVAMEM_QUOTA_WRITES_PER_MINUTE`, 0 = unlimited) apply
unless the user has an override row (NULL = default). Writes per minute are counted in the shared
fixed-window counters; the entry count is read from the database on every capped write (a per-process
tally would miss what the other replicas stored).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TypeVar

from novamem.domain.scope import Caller
from novamem.error_messages import ENTRY_QUOTA_EXCEEDED, NO_SUCH_USER, WRITE_QUOTA_EXCEEDED
from novamem.errors import NotFound, RateLimited
from novamem.services.identity.audit import AuditService
from novamem.services.identity.quota_models import QuotaResponse, QuotaView, UsageResponse
from novamem.services.operations.admin import require_admin
from novamem.storage.base import Counters, QuotaOverride, QuotaStore

__all__ = ["Quota", "QuotaService"]

WRITE_WINDOW_S = 60
# Seconds an override is reused by this process before it is read again.
CACHE_TTL_S = 10.0
_CACHE_MAX = 10_000
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Quota:
    """Limits in force for one user; None means unlimited."""

    max_entries: int | None
    writes_per_minute: int | None

    def view(self) -> QuotaView:
        """The limits as answered (null = unlimited)."""
        return QuotaView(max_entries=self.max_entries, writes_per_minute=self.writes_per_minute)


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
        self._overrides: dict[tuple[str, str], tuple[float, QuotaOverride]] = {}

    async def effective(self, tenant_id: str, user_id: str, *, has_account: bool) -> Quota:
        """The user's override where set, else the server default (the shared caller has no overrides)."""
        override = await self._override(tenant_id, user_id) if has_account else QuotaOverride(None, None)
        return Quota(
            max_entries=_limit(override.max_entries if override.max_entries is not None else self._default.max_entries),
            writes_per_minute=_limit(
                override.writes_per_minute
                if override.writes_per_minute is not None
                else self._default.writes_per_minute
            ),
        )

    async def check_write(self, caller: Caller, amount: int = 1, *, pending: int = 0) -> None:
        """Refuse (429) when the caller is at their entry cap or over their writes per minute.

        The window counter counts this write only when a limit is set; the entry count is read from the
        database each time, so another replica's writes count and forgetting something frees room at once.
        `pending` is how many writes of the same batch were admitted before this one and are not in the
        database yet.
        """
        quota = await self.effective(caller.tenant_id, caller.user_id, has_account=caller.is_user)
        if quota.max_entries is not None:
            # read each time, never cached: a process's own tally misses what the other replicas stored
            count = await self._store.count_entries(caller.tenant_id, caller.user_id) + pending
            if count >= quota.max_entries:
                raise RateLimited(
                    ENTRY_QUOTA_EXCEEDED.format(limit=quota.max_entries),
                    retry_after=WRITE_WINDOW_S,
                )
        if quota.writes_per_minute is not None:
            window = await self._counters.hit(
                f"quota:writes:{caller.tenant_id}:{caller.user_id}", WRITE_WINDOW_S, amount
            )
            if window.count > quota.writes_per_minute:
                raise RateLimited(
                    WRITE_QUOTA_EXCEEDED.format(limit=quota.writes_per_minute),
                    retry_after=window.reset_in,
                )

    async def usage(self, caller: Caller) -> UsageResponse:
        """How many entries the caller stores and the limits in force (null = unlimited)."""
        entries = await self._store.count_entries(caller.tenant_id, caller.user_id)
        quota = await self.effective(caller.tenant_id, caller.user_id, has_account=caller.is_user)
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

    async def _override(self, tenant_id: str, user_id: str) -> QuotaOverride:
        key = (tenant_id, user_id)
        cached = self._fresh(self._overrides, key)
        if cached is not None:
            return cached
        override = await self._store.override(tenant_id, user_id)
        self._remember(self._overrides, key, override)
        return override

    @staticmethod
    def _fresh(cache: dict[tuple[str, str], tuple[float, _T]], key: tuple[str, str]) -> _T | None:
        hit = cache.get(key)
        if hit is None or time.monotonic() - hit[0] > CACHE_TTL_S:
            return None
        return hit[1]

    @staticmethod
    def _remember(cache: dict[tuple[str, str], tuple[float, _T]], key: tuple[str, str], value: _T) -> None:
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        cache[key] = (time.monotonic(), value)
