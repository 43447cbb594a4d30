"""Per-user metrics: a user's counted requests, per credential and per minute, summed over every replica.

The HTTP edge classifies each answered request (`classify_request`) and, for a 2xx answer to a user's
credential, calls `count`: an in-process dict update, no I/O. A background task adds the deltas to
PostgreSQL every `NOVAMEM_METRICS_FLUSH_INTERVAL_MS` (one transaction of additive upserts: minute buckets
plus lifetime totals per credential) and once more on shutdown; a failed flush keeps them for the next
one. Reads add this replica's unflushed deltas to the stored sums (under the flush lock, so a flush
committing between the two reads is neither missed nor counted twice), as `MetricsService` does. The
same task drops minute buckets older than the 48 hours the history covers.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from novamem.domain.entries import iso, now_utc
from novamem.domain.scope import Caller, Credential
from novamem.errors import InvalidInput, NovamemError
from novamem.services.operations.flushing import PeriodicFlush
from novamem.services.operations.metrics import DEFAULT_FLUSH_INTERVAL_S, GAUGE_DEADLINE_S, MetricsService
from novamem.services.operations.user_metrics_models import (
    AdminUserMetrics,
    CredentialMetrics,
    MetricsHistory,
    MetricsSample,
    UserMetricCounters,
    UserMetricGauges,
    UserMetricRates,
    UserMetrics,
)
from novamem.storage.base import TokenRecord
from novamem.storage.user_metrics import (
    SESSION_CREDENTIAL,
    CredentialTotals,
    MinuteCounts,
    UsageDelta,
    UserMetricsStore,
    UserTokenList,
)

__all__ = [
    "DEFAULT_HISTORY_HOURS",
    "MAX_HISTORY_HOURS",
    "SESSION_LABEL",
    "RequestKind",
    "UserMetricsService",
    "classify_request",
]

log = logging.getLogger("novamem.metrics")

DEFAULT_HISTORY_HOURS = 24
MAX_HISTORY_HOURS = 48
SESSION_LABEL = "dashboard"
MINUTE = timedelta(minutes=1)
# an hour beyond the longest history, so a replica whose clock runs ahead never prunes a shown minute
BUCKET_RETENTION = timedelta(hours=MAX_HISTORY_HOURS + 1)
PRUNE_EVERY_S = 600.0
# unflushed keys (user, credential, minute) one replica holds while PostgreSQL is unreachable; past this,
# new keys are dropped (and logged) rather than growing without bound
MAX_PENDING = 100_000


class RequestKind(StrEnum):
    """How a counted request is classified (reference section 9.3)."""

    QUERY = "query"
    REMEMBER = "remember"
    FORGET = "forget"


_ROUTES: dict[tuple[str, str], RequestKind] = {
    ("POST", "/v1/search"): RequestKind.QUERY,
    ("POST", "/v1/recent"): RequestKind.QUERY,
    ("POST", "/v1/neighbors"): RequestKind.QUERY,
    ("POST", "/v1/context"): RequestKind.QUERY,
    ("GET", "/v1/context-prefix"): RequestKind.QUERY,
    ("POST", "/v1/remember"): RequestKind.REMEMBER,
    ("POST", "/v1/remember/batch"): RequestKind.REMEMBER,
    ("POST", "/v1/capture"): RequestKind.REMEMBER,
    ("POST", "/v1/session-recap"): RequestKind.REMEMBER,
    ("POST", "/v1/forget"): RequestKind.FORGET,
}


def classify_request(method: str, path: str) -> RequestKind | None:
    """The kind of a REST request that per-user metrics count, or None for every other route."""
    return _ROUTES.get((method, path))


def _minute(at: datetime) -> datetime:
    return datetime.fromtimestamp(int(at.timestamp()) // 60 * 60, UTC)


@dataclass(slots=True)
class _Tally:
    queries: int = 0
    remembers: int = 0
    forgets: int = 0
    last_at: datetime = field(default_factory=now_utc)

    def add(self, kind: RequestKind, at: datetime) -> None:
        if kind is RequestKind.QUERY:
            self.queries += 1
        elif kind is RequestKind.REMEMBER:
            self.remembers += 1
        else:
            self.forgets += 1
        self.last_at = max(self.last_at, at)


_Key = tuple[str, str, str, datetime]  # (tenant, user, credential, minute)
_Pending = dict[_Key, _Tally]


def _credential_key(caller: Caller) -> str | None:
    """The credential a user's request is counted under, or None for callers without a user account."""
    if caller.credential is Credential.TOKEN and caller.token_hash:
        return caller.token_hash
    if caller.credential is Credential.SESSION:
        return SESSION_CREDENTIAL
    return None


class UserMetricsService(PeriodicFlush):
    """Counts users' requests per credential; flushes to a shared store; answers a user's own numbers."""

    def __init__(
        self,
        store: UserMetricsStore | None,
        tokens: UserTokenList,
        metrics: MetricsService,
        *,
        flush_interval_s: float = DEFAULT_FLUSH_INTERVAL_S,
    ) -> None:
        self._store = store
        self._tokens = tokens
        self._metrics = metrics
        super().__init__(name="user metrics", interval_s=flush_interval_s, prune_every_s=PRUNE_EVERY_S)
        self._pending: _Pending = {}
        self._inflight: list[_Pending] = []  # being written: still counted by reads until the write commits
        self._dropped = 0
        self._flush_lock = asyncio.Lock()

    # ---- counting (hot path: no I/O) ---------------------------------------------------------------

    def count(self, caller: Caller, kind: RequestKind) -> None:
        """Count one answered (2xx) request of a user's credential; other callers are not counted."""
        credential = _credential_key(caller)
        if credential is None:
            return
        at = now_utc()
        key = (caller.tenant_id, caller.user_id, credential, _minute(at))
        tally = self._pending.get(key)
        if tally is None:
            if len(self._pending) >= MAX_PENDING:
                self._dropped += 1
                return
            tally = self._pending[key] = _Tally(last_at=at)
        tally.add(kind, at)

    # ---- flushing ----------------------------------------------------------------------------------

    @property
    def has_store(self) -> bool:
        return self._store is not None

    async def prune(self) -> None:
        """Drop minute buckets older than the 48 hours the history covers."""
        if self._store is not None:
            await self._store.prune(now_utc() - BUCKET_RETENTION)

    async def flush(self) -> None:
        """Write the unflushed deltas; on failure they are put back for the next flush."""
        if self._store is None:
            return
        if self._dropped:
            log.warning("user metrics: %d requests not counted (too many unflushed keys)", self._dropped)
            self._dropped = 0
        async with self._flush_lock:
            if not self._pending:
                return
            batch, self._pending = self._pending, {}
            self._inflight.append(batch)
            try:
                await self._store.add(
                    [
                        UsageDelta(tenant, user, credential, minute, t.queries, t.remembers, t.forgets, t.last_at)
                        for (tenant, user, credential, minute), t in batch.items()
                    ]
                )
            except Exception:
                for key, tally in batch.items():
                    kept = self._pending.get(key)
                    if kept is None:
                        self._pending[key] = tally
                    else:
                        kept.queries += tally.queries
                        kept.remembers += tally.remembers
                        kept.forgets += tally.forgets
                        kept.last_at = max(kept.last_at, tally.last_at)
                raise
            finally:
                self._inflight.remove(batch)

    def _local(self, caller: Caller) -> list[tuple[str, MinuteCounts, datetime]]:
        """This replica's unflushed counts of the caller: (credential, minute counts, last request)."""
        out = []
        for pending in [self._pending, *self._inflight]:
            for (tenant, user, credential, minute), t in pending.items():
                if tenant == caller.tenant_id and user == caller.user_id:
                    out.append((credential, MinuteCounts(minute, t.queries, t.remembers, t.forgets), t.last_at))
        return out

    # ---- reading -----------------------------------------------------------------------------------

    async def _stored(self, caller: Caller, since: datetime) -> tuple[list[CredentialTotals], list[MinuteCounts]]:
        """Lifetime totals per credential and the minutes from `since` on: stored sums plus unflushed counts."""
        async with self._flush_lock:
            if self._store is not None:
                stored_totals, stored_minutes = await asyncio.gather(
                    self._store.totals(caller.tenant_id, caller.user_id),
                    self._store.minutes(caller.tenant_id, caller.user_id, since),
                )
            else:
                stored_totals, stored_minutes = [], []
            local = self._local(caller)
        totals = {t.credential: t for t in stored_totals}
        minutes = {m.minute: m for m in stored_minutes}
        for credential, counts, last_at in local:
            before = totals.get(credential)
            totals[credential] = CredentialTotals(
                credential=credential,
                queries=counts.queries + (before.queries if before else 0),
                remembers=counts.remembers + (before.remembers if before else 0),
                forgets=counts.forgets + (before.forgets if before else 0),
                last_at=max(last_at, before.last_at) if before and before.last_at else last_at,
            )
            if counts.minute >= since:
                seen = minutes.get(counts.minute)
                minutes[counts.minute] = (
                    counts
                    if seen is None
                    else MinuteCounts(
                        counts.minute,
                        seen.queries + counts.queries,
                        seen.remembers + counts.remembers,
                        seen.forgets + counts.forgets,
                    )
                )
        return list(totals.values()), sorted(minutes.values(), key=lambda m: m.minute)

    async def _gauges(self, caller: Caller) -> UserMetricGauges:
        if self._store is None:
            return UserMetricGauges(warm_entries=None, cold_entries=None)
        try:
            warm, cold = await asyncio.wait_for(
                self._store.entry_tiers(caller.tenant_id, caller.user_id), timeout=GAUGE_DEADLINE_S
            )
        except (NovamemError, TimeoutError) as exc:
            log.warning("user entry gauges unavailable: %s", getattr(exc, "message", type(exc).__name__))
            return UserMetricGauges(warm_entries=None, cold_entries=None)
        return UserMetricGauges(warm_entries=warm, cold_entries=cold)

    def _credential_rows(
        self, tokens: list[TokenRecord], totals: list[CredentialTotals]
    ) -> tuple[list[CredentialMetrics], bool]:
        """One row per live token (oldest first), then the sessions row if sessions counted anything; and
        whether the caller has any live token."""
        by_credential = {t.credential: t for t in totals}
        live = [t for t in tokens if t.revoked_at is None]

        def row(kind: str, token_hash: str | None, label: str, counted: CredentialTotals | None) -> CredentialMetrics:
            return CredentialMetrics.model_validate(
                {
                    "credential": kind,
                    "token_hash": token_hash,
                    "label": label,
                    "counters": _counters(counted),
                    "last_used_at": iso(counted.last_at) if counted else None,
                }
            )

        rows = [row("token", t.token_hash, t.label, by_credential.get(t.token_hash)) for t in live]
        session = by_credential.get(SESSION_CREDENTIAL)
        if session is not None:
            rows.append(row("session", None, SESSION_LABEL, session))
        return rows, bool(live)

    async def me(self, caller: Caller) -> UserMetrics | AdminUserMetrics:
        """The caller's counters, rates, entry gauges and per-credential rows; for an admin's session or
        unrestricted token, the global snapshot (as `GET /v1/admin/metrics`) with the admin's own rows."""
        now = now_utc()
        current = _minute(now)
        previous = current - MINUTE
        listed = self._tokens.list_for_user(caller.tenant_id, caller.user_id)
        if caller.is_admin and not caller.is_restricted:
            (totals, _), tokens, snapshot = await asyncio.gather(
                self._stored(caller, previous), listed, self._metrics.snapshot(caller)
            )
            rows, has_tokens = self._credential_rows(tokens, totals)
            return AdminUserMetrics.model_validate({**dict(snapshot), "tokens": rows, "has_my_tokens": has_tokens})
        (totals, minutes), tokens, gauges = await asyncio.gather(
            self._stored(caller, previous), listed, self._gauges(caller)
        )
        rows, _ = self._credential_rows(tokens, totals)
        return UserMetrics(
            counters=_counters(_sum(totals)),
            gauges=gauges,
            rates=_rates(minutes, now, current, previous),
            uptime_ms=self._metrics.uptime_ms(),
            tokens=rows,
        )

    async def history(self, caller: Caller, hours: int = DEFAULT_HISTORY_HOURS) -> MetricsHistory:
        """The caller's minutes with counted requests over the last `hours` hours (1-48, the current minute
        included), oldest first; minutes without any counted request are left out."""
        if isinstance(hours, bool) or not 1 <= hours <= MAX_HISTORY_HOURS:
            raise InvalidInput(
                issues=[{"path": "hours", "message": f"must be 1-{MAX_HISTORY_HOURS}", "code": "invalid_type"}]
            )
        since = _minute(now_utc()) - MINUTE * (hours * 60 - 1)
        _, minutes = await self._stored(caller, since)
        samples = [
            MetricsSample(sampled_at=iso(m.minute), queries=m.queries, remembers=m.remembers, forgets=m.forgets)
            for m in minutes
            if m.queries or m.remembers or m.forgets
        ]
        return MetricsHistory(hours=hours, samples=samples)


def _sum(totals: list[CredentialTotals]) -> CredentialTotals:
    return CredentialTotals(
        credential="*",
        queries=sum(t.queries for t in totals),
        remembers=sum(t.remembers for t in totals),
        forgets=sum(t.forgets for t in totals),
        last_at=None,
    )


def _counters(totals: CredentialTotals | None) -> UserMetricCounters:
    if totals is None:
        return UserMetricCounters(queries_total=0, remembers_total=0, forgets_total=0)
    return UserMetricCounters(
        queries_total=totals.queries, remembers_total=totals.remembers, forgets_total=totals.forgets
    )


def _rates(minutes: list[MinuteCounts], now: datetime, current: datetime, previous: datetime) -> UserMetricRates:
    """Per second over the last 60 s: the current minute so far plus the part of the previous minute that
    falls inside the window (its counts weighted by that share, as a sliding-window counter does)."""
    elapsed = (now - current).total_seconds()
    weight = max(0.0, (60.0 - elapsed) / 60.0)
    by_minute = {m.minute: m for m in minutes}
    cur, prev = by_minute.get(current), by_minute.get(previous)

    def rate(current_count: int, previous_count: int) -> float:
        return round((current_count + previous_count * weight) / 60.0, 4)

    return UserMetricRates(
        queries_per_sec_60s=rate(cur.queries if cur else 0, prev.queries if prev else 0),
        remembers_per_sec_60s=rate(cur.remembers if cur else 0, prev.remembers if prev else 0),
    )
