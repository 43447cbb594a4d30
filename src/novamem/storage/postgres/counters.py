"""Fixed-window counters in PostgreSQL, so every replica shares one budget."""

from __future__ import annotations

from novamem.storage.base import WindowCount
from novamem.storage.postgres.database import Database, map_errors

__all__ = ["PostgresCounters"]

# One statement: start a window when none is running (or the last one ended), else count into it.
# The database clock decides, so replicas with skewed clocks still agree.
_HIT = """
INSERT INTO rate_counters AS c (key, count, reset_at)
VALUES (%(key)s, %(n)s, now() + make_interval(secs => %(window)s))
ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN c.reset_at <= now() THEN %(n)s ELSE c.count + %(n)s END,
    reset_at = CASE WHEN c.reset_at <= now() THEN now() + make_interval(secs => %(window)s) ELSE c.reset_at END
RETURNING count, GREATEST(CEIL(EXTRACT(EPOCH FROM (reset_at - now()))), 1)::int AS reset_in
"""

_PEEK = """
SELECT count, GREATEST(CEIL(EXTRACT(EPOCH FROM (reset_at - now()))), 1)::int AS reset_in
  FROM rate_counters WHERE key = %(key)s AND reset_at > now()
"""


class PostgresCounters:
    """`hit` counts an event into its window; `peek` reads a window without counting."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def hit(self, key: str, window_seconds: int, amount: int = 1, *, hot: bool = False) -> WindowCount:
        """Count into a window. `hot` (the per-request rate limit) runs on the database's quick connection,
        which commits asynchronously: no pool checkout and no wait for the WAL flush on every request."""
        params = {"key": key, "n": amount, "window": window_seconds}
        if hot:
            row = await self._db.quick_one(_HIT, params)
        else:
            with map_errors():
                async with self._db.connection() as conn:
                    cur = await conn.execute(_HIT, params)
                    row = await cur.fetchone()
        assert row is not None
        return WindowCount(count=int(row["count"]), reset_in=int(row["reset_in"]))

    async def peek(self, key: str) -> WindowCount:
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(_PEEK, {"key": key})
                row = await cur.fetchone()
        if row is None:
            return WindowCount(count=0, reset_in=0)
        return WindowCount(count=int(row["count"]), reset_in=int(row["reset_in"]))

    async def clear(self, key: str) -> None:
        with map_errors():
            async with self._db.connection() as conn:
                await conn.execute("DELETE FROM rate_counters WHERE key = %(key)s", {"key": key})

    async def prune(self) -> int:
        """Drop windows that ended (run from a background job)."""
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute("DELETE FROM rate_counters WHERE reset_at < now() - interval '1 hour'")
                return cur.rowcount or 0
