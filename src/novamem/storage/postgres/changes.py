"""The change feed: `memory_changes` rows, read per caller scope and pruned after a retention period.

Rows are written in the same transaction as the change they describe: by `PostgresMemoryStore` and the fact
stores for what their statements do, and by migration 0020's triggers for what happens to derived facts
because of their source (deleted by the cascade or by 0017's triggers, or following its status and fields).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import sql

from novamem.domain.scope import ReadScope
from novamem.storage.postgres.database import Database, map_errors
from novamem.storage.postgres.scoping import read_filter

__all__ = ["PostgresChangeFeed"]


class PostgresChangeFeed:
    """Reads the feed through the shared scope filter: own user-global rows plus the scope's projects."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def changes(
        self, scope: ReadScope, *, since: datetime | None, after_seq: int | None, limit: int
    ) -> list[dict[str, Any]]:
        """Oldest first: `seq, entry_id, project_id, change, detail, at`."""
        where, params = read_filter(scope, "c", with_namespaces=False, with_organization=False)
        params.update(since=since, after=after_seq, lim=limit)
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    sql.SQL(
                        "SELECT c.seq, c.entry_id, c.project_id, c.change, c.detail, c.at FROM memory_changes c"
                        " WHERE {w} AND (%(after)s::bigint IS NULL OR c.seq > %(after)s)"
                        " AND (%(since)s::timestamptz IS NULL OR c.at >= %(since)s)"
                        " ORDER BY c.seq LIMIT %(lim)s"
                    ).format(w=where),
                    params,
                )
                return list(await cur.fetchall())

    async def prune(self, older_than_days: int) -> int:
        """Drop rows older than the retention period (every tenant: server work)."""
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    "DELETE FROM memory_changes WHERE at < now() - make_interval(days => %(days)s)",
                    {"days": older_than_days},
                )
                return cur.rowcount or 0
