"""Deployment-wide metrics: counters incremented by the services, summed over every replica.

The hot path only adds to an in-process dict. A background task flushes the deltas to PostgreSQL
every few seconds (additive upserts: one row per tenant and counter holds the deployment-wide sum)
and once more on shutdown; a failed flush keeps the deltas for the next one. Reads add this
replica's unflushed deltas to the stored sums, so a replica always sees its own latest counts.

Counters are keyed by tenant so that a tenant's admin sees their tenant's numbers only (see
`metrics_reach`); work that belongs to no tenant (decay runs, reaped orphans) is kept under `*`.
Gauges are counted at scrape time and rates come from 10-second buckets of the last minute; the same
buckets, kept for a day, give the admin dashboard its hourly throughput chart.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import math
import os
import platform
import secrets
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from novamem.domain.entries import MemoryEntry, iso, now_utc
from novamem.domain.scope import Caller
from novamem.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    NovamemError,
    PayloadTooLarge,
    RateLimited,
    Unauthenticated,
)
from novamem.services.operations.admin import metrics_reach, require_admin
from novamem.services.operations.flushing import PeriodicFlush
from novamem.services.operations.models import (
    AdminStats,
    DayCount,
    InstanceStats,
    MetricCounters,
    MetricGauges,
    MetricRates,
    MetricsOverview,
    MetricsSnapshot,
    ThroughputBucket,
)
from novamem.storage.operations import DEPLOYMENT, ExtractionDebt, GaugeReader, JobRunLog, MetricsStore

__all__ = [
    "BUCKET_SECONDS",
    "DEFAULT_FLUSH_INTERVAL_S",
    "DEFAULT_HISTORY_DAYS",
    "DEFAULT_THROUGHPUT_HOURS",
    "Counter",
    "MetricsService",
    "new_replica_id",
    "prometheus_text",
]

log = logging.getLogger("novamem.metrics")

T = TypeVar("T")


class Counter(StrEnum):
    """The lifetime counters (the reference's names)."""

    QUERIES = "queries_total"  # search, recent, neighbors, context answered
    ZERO_HIT = "queries_zero_hit"  # search/context that found nothing (and could look)
    REMEMBERS = "remembers_total"  # items stored by remember, capture and session recap
    FORGETS = "forgets_total"  # entries deleted by forget
    HITS_WARM = "hits_warm_total"  # warm entries returned by search/context
    HITS_COLD = "hits_cold_total"  # cold entries returned by search/context
    HITS_GRAPH = "hits_graph_total"  # entries returned by neighbors
    PROMOTIONS = "promotions_total"
    DEMOTIONS = "demotions_total"
    DECAY_RUNS = "decay_runs_total"
    ORPHANS_REAPED = "orphans_reaped_total"
    SEARCH_ERRORS = "search_errors_total"  # reads that failed, or were degraded and empty (503)
    REMEMBER_ERRORS = "remember_errors_total"  # writes that failed on the server's side


RATED = (Counter.QUERIES, Counter.REMEMBERS)
BUCKET_SECONDS = 10
RATE_WINDOW_S = 60
DEFAULT_THROUGHPUT_HOURS = 24
DEFAULT_HISTORY_DAYS = 30
THROUGHPUT_STEP_S = 3600
# long enough for the throughput chart's oldest hour
BUCKET_RETENTION = timedelta(hours=DEFAULT_THROUGHPUT_HOURS + 1)
DEFAULT_FLUSH_INTERVAL_S = 5.0
PRUNE_EVERY_S = 60.0
GAUGE_DEADLINE_S = 5.0
# errors that are the caller's fault: they count as neither success nor server failure
_CLIENT_ERRORS = (InvalidInput, NotFound, Conflict, Unauthenticated, Forbidden, RateLimited, PayloadTooLarge)

CounterKey = tuple[str, str]  # (tenant, counter)
BucketKey = tuple[datetime, str, str]  # (bucket start, tenant, counter)


def new_replica_id() -> str:
    """A name for this process among the deployment's replicas: host, pid and a random suffix."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def _bucket(at: datetime) -> datetime:
    return datetime.fromtimestamp(int(at.timestamp()) // BUCKET_SECONDS * BUCKET_SECONDS, UTC)


def _slot(at: datetime, step_seconds: int) -> datetime:
    """The start of the `step_seconds` slot (aligned to the epoch) that `at` falls in."""
    return datetime.fromtimestamp(int(at.timestamp()) // step_seconds * step_seconds, UTC)


def _rss_bytes() -> int | None:
    """Resident memory of this process from /proc (Linux); None elsewhere."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _in_reach(tenant: str, reach: str | None) -> bool:
    return reach is None or tenant in (reach, DEPLOYMENT)


class MetricsService(PeriodicFlush):
    """Counts what the services do; flushes to a shared store; answers snapshots for admins."""

    def __init__(
        self,
        store: MetricsStore | None,
        gauges: GaugeReader | None = None,
        runs: JobRunLog | None = None,
        *,
        replica_id: str | None = None,
        flush_interval_s: float = DEFAULT_FLUSH_INTERVAL_S,
        index_pending: Callable[[str | None], Awaitable[dict[str, int]]] | None = None,
    ) -> None:
        """`index_pending`: index outbox items per enabled target, for a tenant or (None) everyone."""
        self._store = store
        self._index_pending = index_pending
        self._gauges = gauges
        self._runs = runs
        self.replica_id = replica_id or new_replica_id()
        super().__init__(name="metrics", interval_s=flush_interval_s, prune_every_s=PRUNE_EVERY_S)
        self._pending: dict[CounterKey, int] = {}
        self._pending_buckets: dict[BucketKey, int] = {}
        # deltas being written right now: still counted by reads until the write commits
        self._inflight: list[tuple[dict[CounterKey, int], dict[BucketKey, int]]] = []
        self._started = time.monotonic()
        self._started_at = now_utc()
        self._flush_lock = asyncio.Lock()

    # ---- counting (hot path: no I/O) ---------------------------------------------------------------

    def count(self, tenant_id: str, counter: Counter, amount: int = 1) -> None:
        """Add to a tenant's counter (no I/O: the next flush writes it)."""
        if amount <= 0:
            return
        key = (tenant_id, counter.value)
        self._pending[key] = self._pending.get(key, 0) + amount
        if counter in RATED:
            bucket_key = (_bucket(now_utc()), tenant_id, counter.value)
            self._pending_buckets[bucket_key] = self._pending_buckets.get(bucket_key, 0) + amount

    @contextmanager
    def failures(self, tenant_id: str, counter: Counter) -> Iterator[None]:
        """Count an exception raised in the block as a server-side failure (caller errors are not)."""
        try:
            yield
        except _CLIENT_ERRORS:
            raise
        except Exception:
            self.count(tenant_id, counter)
            raise

    def searched(self, tenant_id: str, found: Sequence[MemoryEntry], *, degraded: bool) -> None:
        """A search or context answer: degraded and empty is a failure (503), not a zero-hit query."""
        if degraded and not found:
            self.count(tenant_id, Counter.SEARCH_ERRORS)
            return
        self.count(tenant_id, Counter.QUERIES)
        if not found:
            self.count(tenant_id, Counter.ZERO_HIT)
        cold = sum(1 for e in found if e.cold)
        self.count(tenant_id, Counter.HITS_COLD, cold)
        self.count(tenant_id, Counter.HITS_WARM, len(found) - cold)

    # ---- flushing ----------------------------------------------------------------------------------

    @property
    def has_store(self) -> bool:
        return self._store is not None

    async def prune(self) -> None:
        """Drop throughput buckets older than the longest history an admin may ask for."""
        if self._store is not None:
            await self._store.prune_buckets(now_utc() - BUCKET_RETENTION)

    async def flush(self) -> None:
        """Write the unflushed deltas; on failure they are put back for the next flush."""
        if self._store is None:
            return
        async with self._flush_lock:
            if not self._pending and not self._pending_buckets:
                return
            batch = (self._pending, self._pending_buckets)
            self._pending, self._pending_buckets = {}, {}
            self._inflight.append(batch)
            try:
                await self._store.add(*batch)
            except Exception:
                for key, value in batch[0].items():
                    self._pending[key] = self._pending.get(key, 0) + value
                for bucket_key, value in batch[1].items():
                    self._pending_buckets[bucket_key] = self._pending_buckets.get(bucket_key, 0) + value
                raise
            finally:
                self._inflight.remove(batch)

    def _local(self, reach: str | None) -> dict[str, int]:
        out: dict[str, int] = {}
        for counters in [self._pending, *(c for c, _ in self._inflight)]:
            for (tenant, name), value in counters.items():
                if _in_reach(tenant, reach):
                    out[name] = out.get(name, 0) + value
        return out

    def _local_window(self, reach: str | None, since: datetime) -> dict[str, int]:
        out: dict[str, int] = {}
        for buckets in [self._pending_buckets, *(b for _, b in self._inflight)]:
            for (bucket, tenant, name), value in buckets.items():
                if bucket >= since and _in_reach(tenant, reach):
                    out[name] = out.get(name, 0) + value
        return out

    def _local_series(self, reach: str | None, since: datetime, step_seconds: int) -> dict[tuple[datetime, str], int]:
        out: dict[tuple[datetime, str], int] = {}
        for buckets in [self._pending_buckets, *(b for _, b in self._inflight)]:
            for (bucket, tenant, name), value in buckets.items():
                if bucket >= since and _in_reach(tenant, reach):
                    key = (_slot(bucket, step_seconds), name)
                    out[key] = out.get(key, 0) + value
        return out

    # ---- reading -----------------------------------------------------------------------------------

    async def _counters(self, reach: str | None) -> MetricCounters:
        # under the flush lock, so that a flush committing between the two reads is neither missed nor counted
        # twice: stored totals plus what this replica has not flushed yet is then exact
        async with self._flush_lock:
            stored = await self._store.totals(reach) if self._store is not None else {}
            local = self._local(reach)
        return MetricCounters.model_validate({c.value: stored.get(c.value, 0) + local.get(c.value, 0) for c in Counter})

    async def _rates(self, reach: str | None) -> MetricRates:
        now = now_utc()
        since = _bucket(now) - timedelta(seconds=RATE_WINDOW_S - BUCKET_SECONDS)
        names = tuple(c.value for c in RATED)
        try:
            async with self._flush_lock:  # as in `_counters`
                stored = await self._store.window(reach, since, names) if self._store is not None else {}
                local = self._local_window(reach, since)
        except NovamemError as exc:
            log.warning("metrics rates unavailable: %s", exc.message)
            return MetricRates(queries_per_sec_60s=None, remembers_per_sec_60s=None)
        span = max((now - since).total_seconds(), 1.0)

        def rate(name: str) -> float:
            return round((stored.get(name, 0) + local.get(name, 0)) / span, 4)

        return MetricRates(
            queries_per_sec_60s=rate(Counter.QUERIES.value), remembers_per_sec_60s=rate(Counter.REMEMBERS.value)
        )

    async def _gauge(self, read: Callable[[], Awaitable[T]], name: str) -> T | None:
        """One scrape-time read with a deadline; a failure is logged and answers None."""
        try:
            return await asyncio.wait_for(read(), timeout=GAUGE_DEADLINE_S)
        except (NovamemError, TimeoutError) as exc:
            log.warning("gauge %s unavailable: %s", name, getattr(exc, "message", type(exc).__name__))
            return None

    async def _gauge_values(self, reach: str | None) -> MetricGauges:
        gauges, runs = self._gauges, self._runs
        tiers: tuple[int, int] | None = None
        edges = pending = facts = None
        last_decay: str | None = None
        if gauges is not None:
            tiers, edges, pending, facts = await asyncio.gather(
                self._gauge(lambda: gauges.entry_tiers(reach), "entry_tiers"),
                self._gauge(lambda: gauges.graph_edges(reach), "graph_edges"),
                self._gauge(lambda: gauges.pending_embeddings(reach), "pending_embeddings"),
                self._gauge(lambda: gauges.pending_facts(reach), "pending_facts"),
            )
        if runs is not None:
            decay = await self._gauge(runs.last_decay, "last_decay_run_iso")
            last_decay = iso(decay.finished_at) if decay is not None else None
        index = await self.pending_index(reach)
        return MetricGauges(
            pending_index_vector=(index or {}).get("vector"),
            pending_index_graph=(index or {}).get("graph"),
            warm_entries=tiers[0] if tiers else None,
            cold_entries=tiers[1] if tiers else None,
            graph_edges=edges,
            # vectors live beside their rows, so nothing is ever parked for a separate vector store
            orphans_pending=0,
            pending_embeddings=pending,
            pending_facts=facts,
            last_decay_run_iso=last_decay,
        )

    async def pending_index(self, reach: str | None) -> dict[str, int] | None:
        """Index outbox items per enabled derived index (None: none enabled, or the read failed)."""
        read = self._index_pending
        if read is None:
            return None
        return await self._gauge(lambda: read(reach), "pending_index")

    async def pending_embeddings(self, caller: Caller) -> int | None:
        """The embedding backlog an admin may see (their tenant's, or the deployment's)."""
        if self._gauges is None:
            return None
        gauges, reach = self._gauges, metrics_reach(caller)
        return await self._gauge(lambda: gauges.pending_embeddings(reach), "pending_embeddings")

    async def pending_facts(self, caller: Caller) -> int | None:
        """The fact-extraction backlog an admin may see (their tenant's, or the deployment's)."""
        if self._gauges is None:
            return None
        gauges, reach = self._gauges, metrics_reach(caller)
        return await self._gauge(lambda: gauges.pending_facts(reach), "pending_facts")

    async def extraction_debt(self, caller: Caller) -> ExtractionDebt | None:
        """The fact-extraction backlog an admin may see, with its oldest debt and its failing entries (None:
        unknown)."""
        if self._gauges is None:
            return None
        gauges, reach = self._gauges, metrics_reach(caller)
        return await self._gauge(lambda: gauges.extraction_debt(reach), "extraction_debt")

    def uptime_ms(self) -> int:
        """How long this replica has been up, in milliseconds."""
        return int((time.monotonic() - self._started) * 1000)

    async def snapshot(self, caller: Caller) -> MetricsSnapshot:
        """Counters, gauges, rates and uptime (the reference's names) for an admin."""
        require_admin(caller)
        reach = metrics_reach(caller)
        counters, gauges, rates = await asyncio.gather(
            self._counters(reach), self._gauge_values(reach), self._rates(reach)
        )
        return MetricsSnapshot(counters=counters, gauges=gauges, rates=rates, uptime_ms=self.uptime_ms())

    async def _throughput(self, reach: str | None, hours: int) -> list[ThroughputBucket] | None:
        """Queries and remembers per hour over the last `hours` hours (the current hour last); None when the
        buckets cannot be read."""
        step = THROUGHPUT_STEP_S
        first = _slot(now_utc(), step) - timedelta(seconds=step * (hours - 1))
        names = tuple(c.value for c in RATED)
        try:
            async with self._flush_lock:  # as in `_counters`
                stored = await self._store.series(reach, first, step, names) if self._store is not None else {}
                local = self._local_series(reach, first, step)
        except NovamemError as exc:
            log.warning("metrics throughput unavailable: %s", exc.message)
            return None

        def total(start: datetime, counter: Counter) -> int:
            return stored.get((start, counter.value), 0) + local.get((start, counter.value), 0)

        slots = [first + timedelta(seconds=step * i) for i in range(hours)]
        return [
            ThroughputBucket(
                start=iso(start), queries=total(start, Counter.QUERIES), remembers=total(start, Counter.REMEMBERS)
            )
            for start in slots
        ]

    async def _entries_per_day(self, reach: str | None, days: int) -> list[DayCount] | None:
        """Stored entries by the UTC day they were created, the last `days` days (today last)."""
        if self._gauges is None:
            return None
        gauges = self._gauges
        today = now_utc().date()
        first = today - timedelta(days=days - 1)
        since = datetime(first.year, first.month, first.day, tzinfo=UTC)
        counted = await self._gauge(lambda: gauges.entries_per_day(reach, since), "entries_per_day")
        if counted is None:
            return None
        return [
            DayCount(day=day.isoformat(), entries=counted.get(day, 0))
            for day in (first + timedelta(days=i) for i in range(days))
        ]

    async def overview(
        self, caller: Caller, *, hours: int = DEFAULT_THROUGHPUT_HOURS, days: int = DEFAULT_HISTORY_DAYS
    ) -> MetricsOverview:
        """The snapshot plus what the admin dashboard charts: hourly throughput and entries created per day.

        `hours` is at most a day (older buckets are pruned); both cover the admin's reach, as the snapshot does.
        """
        require_admin(caller)
        if not 1 <= hours <= DEFAULT_THROUGHPUT_HOURS or days < 1:
            raise InvalidInput(f"hours must be 1-{DEFAULT_THROUGHPUT_HOURS} and days at least 1")
        reach = metrics_reach(caller)
        snapshot, throughput, per_day = await asyncio.gather(
            self.snapshot(caller), self._throughput(reach, hours), self._entries_per_day(reach, days)
        )
        return MetricsOverview(snapshot=snapshot, throughput=throughput, entries_per_day=per_day)

    def instance(self) -> InstanceStats:
        """The replica answering: its id, process id, Python version and resident memory."""
        return InstanceStats(
            replica_id=self.replica_id,
            pid=os.getpid(),
            python_version=platform.python_version(),
            rss_bytes=_rss_bytes(),
            started_at=iso(self._started_at),
        )

    async def stats(self, caller: Caller) -> AdminStats:
        """`admin_stats`: the snapshot plus the answering replica's own numbers."""
        snapshot = await self.snapshot(caller)
        return AdminStats(
            counters=snapshot.counters,
            gauges=snapshot.gauges,
            rates=snapshot.rates,
            uptime_ms=snapshot.uptime_ms,
            instance=self.instance(),
        )

    async def prometheus(self, caller: Caller) -> str:
        """The snapshot in the Prometheus text format (0.0.4), with this process's own metrics."""
        return prometheus_text(await self.snapshot(caller), self.instance())


# ---- Prometheus text ---------------------------------------------------------------------------------

_COUNTER_HELP = {
    Counter.QUERIES: ("novamem_queries_total", "Queries answered (search, recent, neighbors, context)."),
    Counter.ZERO_HIT: ("novamem_queries_zero_hit_total", "Searches and context calls that found nothing."),
    Counter.REMEMBERS: ("novamem_remembers_total", "Memories stored by remember, capture and session recap."),
    Counter.FORGETS: ("novamem_forgets_total", "Memories deleted by forget."),
    Counter.HITS_WARM: ("novamem_hits_warm_total", "Warm entries returned by search and context."),
    Counter.HITS_COLD: ("novamem_hits_cold_total", "Cold entries returned by search and context."),
    Counter.HITS_GRAPH: ("novamem_hits_graph_total", "Entries returned by graph neighbours."),
    Counter.PROMOTIONS: ("novamem_promotions_total", "Cold entries promoted back to warm."),
    Counter.DEMOTIONS: ("novamem_demotions_total", "Warm entries demoted to cold by decay."),
    Counter.DECAY_RUNS: ("novamem_decay_runs_total", "Decay passes completed."),
    Counter.ORPHANS_REAPED: ("novamem_orphans_reaped_total", "Parked vector operations cleared."),
    Counter.SEARCH_ERRORS: ("novamem_search_errors_total", "Reads that failed or were degraded and empty."),
    Counter.REMEMBER_ERRORS: ("novamem_remember_errors_total", "Writes that failed on the server's side."),
}
_GAUGE_HELP = {
    "warm_entries": ("novamem_warm_entries", "Entries in the warm tier."),
    "cold_entries": ("novamem_cold_entries", "Entries in the cold tier."),
    "graph_edges": ("novamem_graph_edges", "Live relation edges."),
    "orphans_pending": ("novamem_orphans_pending", "Parked vector operations awaiting a retry."),
    "pending_embeddings": ("novamem_pending_embeddings", "Entries whose vector is owed (alert if it stops falling)."),
    "pending_facts": ("novamem_pending_facts", "Entries awaiting fact extraction."),
    "pending_index_vector": ("novamem_pending_index_vector", "Index outbox items queued for the vector index."),
    "pending_index_graph": ("novamem_pending_index_graph", "Index outbox items queued for the graph index."),
}
_RATE_HELP = {
    "queries_per_sec_60s": ("novamem_queries_per_sec_60s", "Queries per second over the last minute."),
    "remembers_per_sec_60s": ("novamem_remembers_per_sec_60s", "Stores per second over the last minute."),
}


def _value(value: float | int | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "NaN"
    if isinstance(value, float):
        return repr(value)
    return str(int(value))


def _metric(lines: list[str], name: str, kind: str, help_text: str, value: float | int | None) -> None:
    lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f"{name} {_value(value)}"]


def _process_lines(instance: InstanceStats) -> list[str]:
    """Python process metrics in place of the reference's go_* ones."""
    lines: list[str] = []
    version = platform.python_version_tuple()
    lines += [
        "# HELP python_info Python platform information.",
        "# TYPE python_info gauge",
        f'python_info{{implementation="{platform.python_implementation()}",major="{version[0]}",'
        f'minor="{version[1]}",patchlevel="{version[2]}",version="{platform.python_version()}"}} 1',
        "# HELP python_gc_collections_total Garbage collections per generation.",
        "# TYPE python_gc_collections_total counter",
    ]
    for generation, stats in enumerate(gc.get_stats()):
        lines.append(f'python_gc_collections_total{{generation="{generation}"}} {stats.get("collections", 0)}')
    _metric(lines, "python_asyncio_tasks", "gauge", "Live asyncio tasks in this process.", len(asyncio.all_tasks()))
    _metric(lines, "python_threads", "gauge", "Threads in this process.", threading.active_count())
    _metric(lines, "process_resident_memory_bytes", "gauge", "Resident memory in bytes.", instance.rss_bytes)
    _metric(lines, "process_cpu_seconds_total", "counter", "CPU time of this process.", time.process_time())
    try:
        fds: int | None = len(os.listdir("/proc/self/fd"))
    except OSError:
        fds = None
    _metric(lines, "process_open_fds", "gauge", "Open file descriptors.", fds)
    return lines


def prometheus_text(snapshot: MetricsSnapshot, instance: InstanceStats) -> str:
    """Render a snapshot (and the process's numbers) as Prometheus text exposition 0.0.4."""
    lines: list[str] = []
    counters, gauges, rates = snapshot.counters.model_dump(), snapshot.gauges.model_dump(), snapshot.rates.model_dump()
    for counter, (name, help_text) in _COUNTER_HELP.items():
        _metric(lines, name, "counter", help_text, counters[counter.value])
    for key, (name, help_text) in _GAUGE_HELP.items():
        _metric(lines, name, "gauge", help_text, gauges[key])
    for key, (name, help_text) in _RATE_HELP.items():
        _metric(lines, name, "gauge", help_text, rates[key])
    last_decay = snapshot.gauges.last_decay_run_iso
    decay_ts = datetime.fromisoformat(last_decay).timestamp() if last_decay else None
    _metric(lines, "novamem_last_decay_run_timestamp_seconds", "gauge", "When decay last finished.", decay_ts)
    _metric(lines, "novamem_uptime_seconds", "gauge", "Seconds this replica has been up.", snapshot.uptime_ms / 1000)
    lines += _process_lines(instance)
    return "\n".join(lines) + "\n"
