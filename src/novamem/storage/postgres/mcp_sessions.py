"""MCP session bookkeeping: one row per open session, keyed by the SHA-256 of its id.

The per-user cap is checked and the row inserted under a transaction-scoped advisory lock on the owner, so two
replicas opening sessions for the same user at the same moment cannot both slip under the cap. Idle sessions
count as closed: every read filters on `last_seen`, and expired rows are swept whenever a session opens.
"""

from __future__ import annotations

from novamem.storage.base import McpSessionOwner
from novamem.storage.postgres.database import Database, map_errors

__all__ = ["PostgresMcpSessionStore"]

_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('mcp-session:' || %(tenant)s || ':' || %(user)s, 0))"
_SWEEP = "DELETE FROM mcp_sessions WHERE last_seen < now() - make_interval(secs => %(idle)s)"
_COUNT = """
SELECT count(*) AS n FROM mcp_sessions
 WHERE tenant_id = %(tenant)s AND user_id = %(user)s AND last_seen >= now() - make_interval(secs => %(idle)s)
"""
_INSERT = "INSERT INTO mcp_sessions (id_hash, tenant_id, user_id) VALUES (%(id)s, %(tenant)s, %(user)s)"
# the owner and whether `last_seen` is old enough to be worth rewriting; expired rows are invisible
_LOOKUP = """
SELECT tenant_id, user_id, last_seen < now() - make_interval(secs => %(touch)s) AS stale
  FROM mcp_sessions
 WHERE id_hash = %(id)s AND last_seen >= now() - make_interval(secs => %(idle)s)
"""
_TOUCH = "UPDATE mcp_sessions SET last_seen = now() WHERE id_hash = %(id)s"
_DELETE = "DELETE FROM mcp_sessions WHERE id_hash = %(id)s AND tenant_id = %(tenant)s AND user_id = %(user)s"


class PostgresMcpSessionStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def open(self, id_hash: str, tenant_id: str, user_id: str, *, cap: int, idle_seconds: int) -> bool:
        """Record a new session unless the owner already has `cap` live ones (then False)."""
        owner = {"tenant": tenant_id, "user": user_id, "idle": idle_seconds}
        with map_errors():
            async with self._db.connection() as conn, conn.transaction():
                await conn.execute(_LOCK, owner)
                await conn.execute(_SWEEP, owner)
                cur = await conn.execute(_COUNT, owner)
                row = await cur.fetchone()
                if row is not None and int(row["n"]) >= cap:
                    return False
                await conn.execute(_INSERT, {**owner, "id": id_hash})
        return True

    async def owner(self, id_hash: str, *, idle_seconds: int, touch_after_seconds: int) -> McpSessionOwner | None:
        """Who owns a live session (None when unknown or expired); refreshes `last_seen` when it is stale."""
        # every MCP request makes this lookup: it runs on the database's dedicated quick connection
        row = await self._db.quick_one(_LOOKUP, {"id": id_hash, "idle": idle_seconds, "touch": touch_after_seconds})
        if row is None:
            return None
        if row["stale"]:
            await self.touch(id_hash)
        return McpSessionOwner(tenant_id=str(row["tenant_id"]), user_id=str(row["user_id"]))

    async def touch(self, id_hash: str) -> None:
        with map_errors():
            async with self._db.connection() as conn:
                await conn.execute(_TOUCH, {"id": id_hash})

    async def close(self, id_hash: str, tenant_id: str, user_id: str) -> bool:
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(_DELETE, {"id": id_hash, "tenant": tenant_id, "user": user_id})
                return bool(cur.rowcount)
