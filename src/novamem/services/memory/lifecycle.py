"""Server-side upkeep: embedding what is owed, and purging expired entries."""

from __future__ import annotations

import logging
import time

from novamem.services.memory.memories import EmbedderState
from novamem.storage.base import MemoryStore

__all__ = ["CATCH_UP_S", "Reconciler"]

log = logging.getLogger("novamem.lifecycle")

# How long one reconciler tick may keep embedding while full batches are owed. A change of embedding model
# puts every stored row in the queue: one batch a minute would leave vector search without most of a
# large store for hours. The rest of each interval is left to searches and writes.
CATCH_UP_S = 20.0


class Reconciler:
    """Embeds rows whose vector is owed, in batches, once the embedder answers again."""

    def __init__(self, store: MemoryStore, embedder: EmbedderState, *, batch: int, fanout: int) -> None:
        self._store = store
        self._embedder = embedder
        self._batch = batch
        self._fanout = fanout

    async def run_once(self) -> int:
        """One pass; returns how many rows got their vector."""
        if self._embedder.embedder is None:
            return 0
        owed = await self._store.owed_embeddings(self._batch)
        if not owed:
            return 0
        vectors = await self._embedder.documents([o.content for o in owed])
        if vectors is None:
            return 0
        stored = await self._store.store_embeddings(list(zip(owed, vectors, strict=True)), self._fanout)
        if stored:
            log.info("reconciler embedded %d owed rows", stored)
        return stored

    async def catch_up(self, budget_s: float = CATCH_UP_S) -> int:
        """Passes one after another while each embeds a full batch (more is owed), for up to `budget_s`
        seconds; returns how many rows got their vector. What is left waits for the next tick."""
        deadline = time.monotonic() + budget_s
        total = 0
        while True:
            stored = await self.run_once()
            total += stored
            if stored < self._batch or time.monotonic() >= deadline:
                return total

    async def purge_expired(self) -> int:
        return await self._store.purge_expired()
