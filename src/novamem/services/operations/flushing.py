"""The background loop behind every per-replica tally that PostgreSQL makes deployment-wide.

Counting happens in memory on the request path (no I/O); one task per replica writes the tallies every
`interval` seconds and now and then drops rows older than their retention. A failed write keeps the tallies
for the next one, and stopping writes once more, so a clean shutdown loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod

from novamem.errors import NovamemError

__all__ = ["PeriodicFlush"]

log = logging.getLogger("novamem.metrics")


class PeriodicFlush(ABC):
    """Runs `flush` every `interval_s` seconds and `prune` every `prune_every_s` while started.

    `name` names the task and the log lines (`"metrics"`, `"user metrics"`). Subclasses say whether there is a
    store to write to (`has_store`), how to write (`flush`) and how to forget old rows (`prune`).
    """

    def __init__(self, *, name: str, interval_s: float, prune_every_s: float) -> None:
        self._flush_name = name
        self._interval = interval_s
        self._prune_every_s = prune_every_s
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    @abstractmethod
    def has_store(self) -> bool:
        """Whether there is anywhere to write (without a store the loop never starts)."""

    @abstractmethod
    async def flush(self) -> None:
        """Write the pending tallies; on failure they must stay pending for the next flush."""

    @abstractmethod
    async def prune(self) -> None:
        """Drop stored rows older than the retention."""

    def start(self) -> None:
        """Start the periodic flush (the app's lifespan calls this once the container is built)."""
        if self.has_store and self._task is None:
            self._stopping.clear()
            task_name = f"novamem-{self._flush_name.replace(' ', '-')}-flush"
            self._task = asyncio.create_task(self._loop(), name=task_name)

    async def stop(self) -> None:
        """Stop the periodic flush and write what is left."""
        if self._task is not None:
            self._stopping.set()
            try:
                await asyncio.wait_for(self._task, timeout=30)
            except TimeoutError:
                log.warning("%s flush did not stop in time", self._flush_name)
            self._task = None
        try:
            await self.flush()
        except NovamemError as exc:
            log.warning("final %s flush failed: %s", self._flush_name, exc.message)

    async def _loop(self) -> None:
        last_prune = 0.0
        while not self._stopping.is_set():
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=self._interval)
            except TimeoutError:
                pass
            try:
                await self.flush()
                if time.monotonic() - last_prune >= self._prune_every_s:
                    await self.prune()
                    last_prune = time.monotonic()
            except NovamemError as exc:
                log.warning("%s flush failed (kept for the next one): %s", self._flush_name, exc.message)
            except Exception:  # keep flushing later; the deltas were kept
                log.exception("%s flush crashed", self._flush_name)
