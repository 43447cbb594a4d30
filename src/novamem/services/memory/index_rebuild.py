"""`novamem reindex --vectors`: rebuild the vector index (Qdrant) from PostgreSQL, resumably.

Steps: first the entries whose vector is owed get one (after a model change the start-up queued every
entry of another model for re-embedding, so this is where they are re-embedded); then the collection is
emptied and refilled from PostgreSQL in keyset pages by entry id, with a checkpoint (the last id done)
after each page. Interrupted and started again, the rebuild resumes after that id; point ids derive
from entry ids, so a page written twice leaves the same points: nothing missing, nothing doubled.
The outbox keeps feeding the index meanwhile; both write the same idempotent state. Once every entry has
a vector of the current model, the collections this deployment made for other models or dimensions are
dropped (nothing searches them any more); while some vector is still owed they are kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from novamem.services.memory.lifecycle import Reconciler
from novamem.storage.base import MemoryStore
from novamem.storage.index_outbox import OutboxTarget
from novamem.storage.vector_index import RebuildCheckpoints, VectorIndex, VectorSource

__all__ = ["DEFAULT_REBUILD_BATCH", "RebuildProgress", "RebuildResult", "VectorRebuild"]

DEFAULT_REBUILD_BATCH = 500
_TARGET = OutboxTarget.VECTOR.value


@dataclass(frozen=True, slots=True)
class RebuildProgress:
    """Where a rebuild stands: its phase (`embed` or `index`), work done and the total (None: unknown)."""

    phase: str
    done: int
    total: int | None


@dataclass(frozen=True, slots=True)
class RebuildResult:
    """What a rebuild did: entries (re-)embedded first, entries written to the index by this run, whether
    it resumed an interrupted one, the entries still owed a vector (the embedder did not answer), and the
    indexes of other embedding models it dropped."""

    index: str
    embedded: int
    indexed: int
    resumed: bool
    still_owed: int
    dropped: tuple[str, ...] = ()


class VectorRebuild:
    """Rebuilds one vector index from PostgreSQL."""

    def __init__(
        self,
        index: VectorIndex,
        source: VectorSource,
        checkpoints: RebuildCheckpoints,
        reconciler: Reconciler,
        store: MemoryStore,
    ) -> None:
        self._index = index
        self._source = source
        self._checkpoints = checkpoints
        self._reconciler = reconciler
        self._store = store

    async def _embed_owed(self, progress: Callable[[RebuildProgress], None]) -> int:
        total = await self._store.count_owed()
        embedded = 0
        if total:
            progress(RebuildProgress("embed", 0, total))
        while True:
            stored = await self._reconciler.run_once()
            if stored == 0:
                return embedded
            embedded += stored
            progress(RebuildProgress("embed", min(embedded, total), total))

    async def run(
        self, *, batch: int = DEFAULT_REBUILD_BATCH, progress: Callable[[RebuildProgress], None] = lambda p: None
    ) -> RebuildResult:
        """Re-embed what is owed, then rebuild (or resume rebuilding) the index; see the module docstring."""
        embedded = await self._embed_owed(progress)
        name = self._index.name
        resumed, last_id = await self._checkpoints.load(_TARGET, name)
        if not resumed:
            await self._index.reset()
            await self._checkpoints.begin(_TARGET, name)
        total = await self._source.count_vectors()
        # resumed: the points already there (pages done before, plus what the outbox added since)
        done = await self._index.count() if resumed else 0
        indexed = 0
        progress(RebuildProgress("index", min(done, total), total))
        while True:
            records = await self._source.vector_page(last_id, batch)
            if not records:
                break
            await self._index.put(records)
            last_id = records[-1].entry_id
            await self._checkpoints.advance(_TARGET, name, last_id)
            indexed += len(records)
            done += len(records)
            progress(RebuildProgress("index", min(done, total), total))
        await self._checkpoints.finish(_TARGET, name)
        still_owed = await self._store.count_owed()
        dropped = () if still_owed else tuple(await self._index.drop_others())
        return RebuildResult(
            index=name, embedded=embedded, indexed=indexed, resumed=resumed, still_owed=still_owed, dropped=dropped
        )
