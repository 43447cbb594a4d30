"""Server-side upkeep: embedding what is owed, and purging expired entries."""

from __future__ import annotations

import logging

from novamem.services.memory.memories import EmbedderState
from novamem.storage.base import MemoryStore

__all__ = ["Reconciler"]

log = logging.getLogger("novamem.lifecycle")


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

    async def purge_expired(self) -> int:
        return await self._store.purge_expired()
