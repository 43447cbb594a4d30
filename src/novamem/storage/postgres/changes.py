"""The change feed: `memory_changes` rows, read per caller scope and pruned after a retention period.

Rows are written in the same transaction as the change they describe: by `PostgresMemoryStore` and the fact
stores for what their statements do, and by migration 0020's triggers for what happens to derived facts
because of their source (deleted by the cascade or by 0017's triggers, or following its status and fields).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg.rows import DictRow

from novamem.domain.scope import ReadScope
from novamem.storage.postgres.database import Database, map_errors
from novamem.storage.postgres.scoping import read_filter

__all__ = ["PostgresChangeFeed", "tell_lost"]

# A `deleted` row for each memory of a project, addressed to each user who loses the project: every member
# when %(member)s is NULL (the project is being deleted), else that user (removed from it). Only they read
# these rows (migration 0021), so a client mirroring their feed drops what they can no longer read, while the
# remaining members' memories stay where they are.
_TELL_LOST = """
INSERT INTO memory_changes (tenant_id, user_id, project_id, entry_id, change, detail, addressed)
SELECT e.tenant_id, u.user_id, e.project_id, e.id, 'deleted', %(detail)s::jsonb, true
  FROM memory_entries e
 CROSS JOIN (SELECT m.user_id FROM project_members m
              WHERE %(member)s::text IS NULL AND m.tenant_id = %(tenant)s AND m.project_id = %(project)s
             UNION ALL SELECT %(member)s::text WHERE %(member)s::text IS NOT NULL) u
 WHERE e.tenant_id = %(tenant)s AND e.project_id = %(project)s
 ORDER BY u.user_id, e.id
"""


async def tell_lost(
    conn: psycopg.AsyncConnection[DictRow],
    tenant_id: str,
    project_id: str,
    *,
    reason: Literal["project_deleted", "member_removed"],
    member: str | None = None,
) -> None:
    """Log each memory of the project `deleted` (`{"reason": reason}`) for the users who lose it: `member`,
    or every member when None. Run inside the transaction that takes the project away, before its rows or
    memberships go."""
    params = {"tenant": tenant_id, "project": project_id, "member": member, "detail": json.dumps({"reason": reason})}
    await conn.execute(_TELL_LOST, params)


class PostgresChangeFeed:
    """Reads the feed through the shared scope filter: own user-global rows plus the scope's projects."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def changes(
        self, scope: ReadScope, *, since: datetime | None, after_seq: int | None, limit: int
    ) -> list[dict[str, Any]]:
        """Oldest first: `seq, entry_id, project_id, change, detail, at`.

        Besides the scope's rows, the rows addressed to the caller (migration 0021) when the scope reads their
        user-global memories: the memories of a project they lost, each `deleted` once.
        """
        where, params = read_filter(scope, "c", with_namespaces=False, with_organization=False)
        params.update(since=since, after=after_seq, lim=limit)
        # a token confined to projects reads none: the rows are about the user's access, not those projects
        addressed = sql.SQL(
            "(c.addressed AND c.tenant_id = %(s_tenant)s AND c.user_id = %(s_user)s)"
            if scope.include_user_global
            else "false"
        )
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    sql.SQL(
                        "SELECT c.seq, c.entry_id, c.project_id, c.change, c.detail, c.at FROM memory_changes c"
                        # the scope's own rows, and those addressed to the caller about a project they lost
                        " WHERE ((NOT c.addressed AND {w}) OR {a})"
                        " AND (%(after)s::bigint IS NULL OR c.seq > %(after)s)"
                        " AND (%(since)s::timestamptz IS NULL OR c.at >= %(since)s)"
                        " ORDER BY c.seq LIMIT %(lim)s"
                    ).format(w=where, a=addressed),
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
