"""Keeping derived indexes (Qdrant vectors, FalkorDB graph) in step with PostgreSQL: the outbox drainer.

Every replica runs one drain loop. Claims are leases taken with `FOR UPDATE SKIP LOCKED`, so replicas
never apply the same items at once, and items of a replica that dies mid-batch are claimed again once
their lease runs out. A sink that raises `Unavailable` has its batch put back with an exponential
back-off (per item, in PostgreSQL) and is rested in this replica for a while; writes meanwhile go on
queueing, and everything catches up when the engine answers again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from novamem.errors import NovamemError, Unavailable
from novamem.storage.index_outbox import IndexOutbox, IndexSink

__all__ = [
    "DEFAULT_BACKOFF_BASE_S",
    "DEFAULT_BACKOFF_MAX_S",
    "DEFAULT_BATCH",
    "DEFAULT_IDLE_S",
    "IndexSync",
]

log = logging.getLogger("novamem.index_sync")

DEFAULT_BATCH = 256
DEFAULT_IDLE_S = 1.0
DEFAULT_BACKOFF_BASE_S = 1.0
DEFAULT_BACKOFF_MAX_S = 60.0


class IndexSync:
    """Drains the index outbox into its sinks, one loop per replica while started."""

    def __init__(
        self,
        outbox: IndexOutbox,
        sinks: Sequence[IndexSink],
        *,
        batch: int = DEFAULT_BATCH,
        idle_s: float = DEFAULT_IDLE_S,
        backoff_base_s: float = DEFAULT_BACKOFF_BASE_S,
        backoff_max_s: float = DEFAULT_BACKOFF_MAX_S,
    ) -> None:
        self._outbox = outbox
        self._sinks = list(sinks)
        self._batch = batch
        self._idle = idle_s
        self._base = backoff_base_s
        self._max = backoff_max_s
        # per sink target: monotonic time before which this replica leaves it alone, and failures in a row
        self._rest_until: dict[str, float] = {}
        self._failures: dict[str, int] = {}
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def targets(self) -> list[str]:
        """The targets with a sink in this deployment (what the memory table queues items for)."""
        return [s.target for s in self._sinks]

    async def prepare(self, *, serving: bool) -> None:
        """Register this process's targets, so changes are queued for them from now on.

        The server (`serving`) registers exactly its own; a command-line tool only adds its own, so one
        run with other settings never switches off an index the server keeps."""
        if serving or self.targets:
            await self._outbox.use_targets(self.targets, exclusive=serving)

    async def pending(self, tenant_id: str | None = None) -> dict[str, int]:
        """Queued items per enabled target (0 when none); one tenant's when `tenant_id` is given."""
        counts = await self._outbox.pending(tenant_id)
        return {t: counts.get(t, 0) for t in self.targets}

    async def sink_health(self) -> dict[str, bool]:
        """Whether each enabled sink's engine answers."""
        results = await asyncio.gather(*(s.healthy() for s in self._sinks))
        return {s.target: ok for s, ok in zip(self._sinks, results, strict=True)}

    async def drain_once(self, sink: IndexSink) -> int:
        """Apply one due batch to `sink`; returns the items applied (0 when none was due or it failed)."""
        if time.monotonic() < self._rest_until.get(sink.target, 0.0):
            return 0
        items = await self._outbox.claim(sink.target, self._batch)
        if not items:
            return 0
        ids = [i.id for i in items]
        try:
            await sink.apply(items)
        except Unavailable as exc:
            await self._failed(sink, ids, exc.message)
            return 0
        except Exception as exc:  # a sink bug must not stop the loop: recorded on the items, logged once here
            log.exception("index sink %s failed on %d items", sink.target, len(items))
            await self._failed(sink, ids, f"{type(exc).__name__}: {exc}")
            return 0
        await self._outbox.done(ids)
        if self._failures.pop(sink.target, 0):
            log.info("index sink %s answers again", sink.target)
        return len(items)

    async def _failed(self, sink: IndexSink, ids: list[int], error: str) -> None:
        failures = self._failures.get(sink.target, 0) + 1
        self._failures[sink.target] = failures
        self._rest_until[sink.target] = time.monotonic() + min(self._max, self._base * 2 ** (failures - 1))
        if failures == 1:
            log.warning("index sink %s unavailable (%s); changes stay queued", sink.target, error)
        await self._outbox.failed(ids, error, base_seconds=self._base, max_seconds=self._max)

    async def drain(self, *, max_batches: int = 1_000_000) -> int:
        """Drain every sink until nothing is due (or `max_batches` per sink); returns the items applied."""
        total = 0
        for sink in self._sinks:
            for _ in range(max_batches):
                applied = await self.drain_once(sink)
                total += applied
                if applied == 0:
                    break
        return total

    def start(self) -> None:
        """Start this replica's drain loop (no-op without sinks)."""
        if self._sinks and self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self._loop(), name="novamem-index-sync")

    async def stop(self) -> None:
        """Stop the loop; a batch in flight finishes or, if cut off, is claimed again after its lease."""
        if self._task is None:
            return
        self._stopping.set()
        try:
            await asyncio.wait_for(self._task, timeout=30)
        except TimeoutError:
            log.warning("index sync did not stop in time")
        self._task = None

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            applied = 0
            try:
                for sink in self._sinks:
                    applied += await self.drain_once(sink)
            except NovamemError as exc:  # the outbox itself (PostgreSQL) failed: try again after a pause
                log.warning("index sync paused: %s", exc.message)
            if applied == 0:
                try:
                    await asyncio.wait_for(self._stopping.wait(), timeout=self._idle)
                except TimeoutError:
                    pass
