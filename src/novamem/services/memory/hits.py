"""Search and context hits, counted in memory and written in batches: one `touch` per tenant per window.

A busy server used to write one hit statement per search, each competing for the CPU with the next
search's statements. Here the first hit after a quiet period starts one flusher task; it waits
`HIT_WINDOW_S`, then writes everything pending (one `MemoryStore.touch` per tenant, with a count per id),
and hits that arrive while it writes go into the next window. A tenant with more than `HIT_CAP` pending
ids cuts the window short. `close` writes what is pending at once, so a graceful stop loses nothing; a
crash forgets at most the last window of hits (which promotion and decay tolerate, see docs/lifecycle.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

from novamem.errors import NovamemError
from novamem.storage.base import MemoryStore

__all__ = ["HIT_CAP", "HIT_FLUSH_TIMEOUT_S", "HIT_WINDOW_S", "HitBuffer"]

log = logging.getLogger("novamem.recall")

#: how long hits wait in memory before they are written, in seconds
HIT_WINDOW_S = 0.2
#: pending ids of one tenant that cut the window short
HIT_CAP = 5_000
#: the longest one tenant's write may take before it is given up (and logged)
HIT_FLUSH_TIMEOUT_S = 10.0


class HitBuffer:
    """Pending hits per tenant (a count per id) and the one task that writes them.

    Failures are logged, never raised: a hit count is bookkeeping, and a lost one costs a memory a little
    lifespan at most. Everything runs on the event loop, so adding a hit never waits.
    """

    def __init__(
        self,
        store: MemoryStore,
        *,
        window: float = HIT_WINDOW_S,
        cap: int = HIT_CAP,
        timeout: float = HIT_FLUSH_TIMEOUT_S,
    ) -> None:
        """`window`: seconds between the first pending hit and its write (0: at the loop's next turn);
        `cap`: pending ids of one tenant that start the write early; `timeout`: bound of one tenant's write."""
        self._store = store
        self._window = window
        self._cap = cap
        self._timeout = timeout
        self._pending: dict[str, Counter[str]] = {}
        self._flusher: asyncio.Task[None] | None = None
        # set to cut the running flusher's window short; made with each flusher, on the loop that runs it
        self._early: asyncio.Event | None = None
        self._closing = False

    @property
    def pending(self) -> int:
        """Hits waiting to be written, over all tenants."""
        return sum(sum(ids.values()) for ids in self._pending.values())

    def add(self, tenant_id: str, ids: list[str]) -> asyncio.Task[None] | None:
        """Count one hit on each id (an id listed twice counts twice); returns the flusher task when this
        call started it (None when one was already running or there was nothing to count)."""
        if not ids:
            return None
        pending = self._pending.setdefault(tenant_id, Counter())
        pending.update(ids)
        started = self._start() if self._flusher is None else None
        if len(pending) >= self._cap and self._early is not None:
            self._early.set()
        return started

    async def close(self) -> None:
        """Write every pending hit now (no window), and wait until that is done."""
        self._closing = True
        if self._early is not None:
            self._early.set()
        if self._flusher is None and self._pending:  # its flusher was cancelled (the loop stopping)
            self._start()
        if self._flusher is not None:
            # shielded: a cancelled close leaves the write running rather than half done
            await asyncio.shield(self._flusher)

    def _start(self) -> asyncio.Task[None]:
        """Start the flusher, with a fresh early-write event on the running loop."""
        self._early = asyncio.Event()
        self._flusher = asyncio.create_task(self._run(self._early), name="novamem-hit-flusher")
        return self._flusher

    async def _run(self, early: asyncio.Event) -> None:
        """Wait a window (or until `early` is set), write what is pending, repeat until nothing is."""
        try:
            while self._pending:
                if self._window > 0 and not self._closing:
                    try:
                        await asyncio.wait_for(early.wait(), timeout=self._window)
                    except TimeoutError:
                        pass  # the window ended: the usual case
                early.clear()
                batch, self._pending = self._pending, {}
                for tenant_id, counts in batch.items():
                    await self._write(tenant_id, counts)
        finally:
            # no await between the loop's last check and here: a hit added meanwhile starts a new task
            self._flusher = None

    async def _write(self, tenant_id: str, counts: Counter[str]) -> None:
        ids = sorted(counts)
        try:
            await asyncio.wait_for(
                self._store.touch(tenant_id, ids, counts=[counts[i] for i in ids]), timeout=self._timeout
            )
        except (NovamemError, TimeoutError) as exc:
            log.warning("hit bump failed: %s", exc)
        except Exception:
            # this task is the top of its own call chain (like a job): log the unexpected failure with its
            # traceback and go on with the other tenants, instead of losing their hits with this task
            log.exception("hit bump failed for %d memories", len(ids))
