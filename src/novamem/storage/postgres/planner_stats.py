"""Fresh planner statistics for `memory_entries` while memories are being written in bulk.

The nearest-neighbour reads of a write (the `co_occurs` links of a new memory, the near-duplicate check)
and of a search in one namespace are planned from PostgreSQL's statistics of the table. Autovacuum
refreshes them after a tenth of the table has changed: at 100,000 memories, some 10,000 writes. Until
then a namespace that is filling up (a transcript imported into a new namespace) still counts as empty,
so the planner sorts every row of it by distance instead of walking the HNSW index, and each new row
costs more than the one before: 8,000 memories stored into a new namespace of a 100,000-memory store ran
at 37 a second instead of about 200 (`bench/fresh_writes.py`).

So each process counts the rows it writes and, after every `ANALYZE_EVERY_ROWS`, refreshes the statistics
of the columns that scope those reads, in the background. That samples a fixed number of rows whatever
the table's size, so its cost does not grow with the store.
"""

from __future__ import annotations

import asyncio
import logging

from novamem.storage.postgres.database import Database

__all__ = ["ANALYZE_EVERY_ROWS", "PlannerStatistics"]

log = logging.getLogger(__name__)

ANALYZE_EVERY_ROWS = 2000
# the columns the scope filters and the model match read; the wide ones (content, tsv, embedding) are left
# to autovacuum
_SCOPE_COLUMNS = (
    "tenant_id, organization_id, user_id, project_id, scope_key, namespace, namespaces, status, embedding_model"
)
# never queue behind a vacuum or another ANALYZE of the table: the next batch of rows tries again
_LOCK_TIMEOUT = "1s"


class PlannerStatistics:
    """Counts the rows this process writes to `memory_entries` and refreshes the statistics of their scope
    columns after every `every` of them, one refresh at a time, off the writer's path."""

    def __init__(self, db: Database, *, every: int = ANALYZE_EVERY_ROWS) -> None:
        self._db = db
        self._every = every
        self._since = 0
        self._task: asyncio.Task[None] | None = None
        self.refreshed = 0

    def written(self, rows: int) -> None:
        """`rows` new rows were committed; start a refresh once enough have been since the last."""
        self._since += rows
        if self._since < self._every or (self._task is not None and not self._task.done()):
            return
        self._since = 0
        self._task = asyncio.get_running_loop().create_task(self._refresh(), name="novamem-planner-statistics")

    async def _refresh(self) -> None:
        try:
            async with self._db.connection() as conn, conn.transaction():
                await conn.execute(f"SET LOCAL lock_timeout = '{_LOCK_TIMEOUT}'")
                await conn.execute(f"ANALYZE memory_entries ({_SCOPE_COLUMNS})")
            self.refreshed += 1
        except Exception as exc:  # statistics are an optimisation: a failed refresh only waits for the next
            log.warning("could not refresh the statistics of memory_entries: %s", type(exc).__name__)

    async def settled(self) -> None:
        """Wait for a refresh in progress (shutdown, tests)."""
        if self._task is not None:
            await asyncio.shield(self._task)
