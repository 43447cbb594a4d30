"""`novamem reindex --graph`: rebuild derived tenant graphs from PostgreSQL, in batches, resumably.

A rebuild of a tenant drops its graph, then upserts its entries in id order, recording the last id done
after each batch (`index_rebuilds`). Interrupted and started again, it resumes after that id without
dropping anything; upserts are idempotent, so a batch cut short is simply applied again, and the result is
exactly the graph of what PostgreSQL holds. A rebuild of every tenant also records the last tenant
finished, and ends by dropping the graphs of tenants that hold no memories any more (erased tenants
included), so what is left is exactly one graph per tenant with memories. The outbox keeps feeding the
graph meanwhile: both write the same idempotent state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from novamem.storage.graph_index import DEFAULT_GRAPH_BATCH, GraphSource, GraphWriter

__all__ = ["ALL_TENANTS", "GraphRebuild", "GraphRebuildResult", "RebuildProgress"]

ALL_TENANTS = "*"


@dataclass(frozen=True, slots=True)
class RebuildProgress:
    """Where a rebuild is: the tenant, entries done in it so far, and whether this run resumed."""

    tenant_id: str
    done: int
    resumed: bool


@dataclass(frozen=True, slots=True)
class GraphRebuildResult:
    """What a rebuild of every tenant did: entries written by this run, and the stale graphs it dropped."""

    written: int
    dropped: list[str]


class GraphRebuild:
    """Rebuilds tenant graphs of a derived graph index from the source of truth."""

    def __init__(self, source: GraphSource, writer: GraphWriter, *, batch: int = DEFAULT_GRAPH_BATCH) -> None:
        self._source = source
        self._writer = writer
        self.batch = batch

    async def tenant(self, tenant_id: str, progress: Callable[[RebuildProgress], None] | None = None) -> int:
        """Rebuild one tenant's graph (resuming an interrupted rebuild); returns the entries written."""
        name = f"tenant:{tenant_id}"
        resumed, after = await self._source.rebuild_checkpoint(name)
        if not resumed:
            await self._writer.drop(tenant_id)
            await self._source.save_checkpoint(name, None)
        done = 0
        while True:
            ids = await self._source.graph_entry_ids(tenant_id, after, self.batch)
            if not ids:
                break
            gone = await self._writer.upsert(tenant_id, ids)
            await self._writer.delete(tenant_id, gone)  # deleted while we read: its outbox item may be done
            after = ids[-1]
            await self._source.save_checkpoint(name, after)
            done += len(ids)
            if progress is not None:
                progress(RebuildProgress(tenant_id, done, resumed))
        await self._source.clear_checkpoint(name)
        return done

    async def all(self, progress: Callable[[RebuildProgress], None] | None = None) -> GraphRebuildResult:
        """Rebuild every tenant's graph, resuming after the last tenant an interrupted run finished; then
        drop the graphs of tenants without memories."""
        resumed, last = await self._source.rebuild_checkpoint(ALL_TENANTS)
        if not resumed:
            await self._source.save_checkpoint(ALL_TENANTS, None)
        total = 0
        for tenant_id in sorted(await self._source.graph_tenants()):
            if last is not None and tenant_id <= last:
                continue
            total += await self.tenant(tenant_id, progress)
            await self._source.save_checkpoint(ALL_TENANTS, tenant_id)
        # the tenants read again now: one that got its first memory meanwhile keeps the graph the outbox made
        dropped = await self._writer.drop_others(await self._source.graph_tenants())
        await self._source.clear_checkpoint(ALL_TENANTS)
        return GraphRebuildResult(written=total, dropped=dropped)
