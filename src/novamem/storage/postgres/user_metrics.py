"""Per-user request counts in PostgreSQL: every replica adds its deltas, readers see the sum."""

from __future__ import annotations

from datetime import datetime

from novamem.storage.postgres.database import Database, map_errors
from novamem.storage.postgres.operations import GAUGE_TIMEOUT
from novamem.storage.user_metrics import CredentialTotals, MinuteCounts, UsageDelta

__all__ = ["PostgresUserMetricsStore"]

_ADD_BUCKET = """
INSERT INTO user_metric_buckets AS b (tenant_id, user_id, credential, minute, queries, remembers, forgets)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (tenant_id, user_id, credential, minute) DO UPDATE SET
    queries = b.queries + EXCLUDED.queries,
    remembers = b.remembers + EXCLUDED.remembers,
    forgets = b.forgets + EXCLUDED.forgets
"""

_ADD_TOTAL = """
INSERT INTO user_metric_totals AS t (tenant_id, user_id, credential, queries, remembers, forgets, last_at)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (tenant_id, user_id, credential) DO UPDATE SET
    queries = t.queries + EXCLUDED.queries,
    remembers = t.remembers + EXCLUDED.remembers,
    forgets = t.forgets + EXCLUDED.forgets,
    last_at = GREATEST(t.last_at, EXCLUDED.last_at)
"""

_TOTALS = """
SELECT credential, queries, remembers, forgets, last_at FROM user_metric_totals
 WHERE tenant_id = %(tenant)s AND user_id = %(user)s
"""

_MINUTES = """
SELECT minute, sum(queries) AS queries, sum(remembers) AS remembers, sum(forgets) AS forgets
  FROM user_metric_buckets
 WHERE tenant_id = %(tenant)s AND user_id = %(user)s AND minute >= %(since)s
 GROUP BY minute ORDER BY minute
"""

_TIERS = """
SELECT count(*) FILTER (WHERE c.entry_id IS NULL) AS warm, count(c.entry_id) AS cold
  FROM memory_entries e LEFT JOIN memory_cold c ON c.entry_id = e.id
 WHERE e.tenant_id = %(tenant)s AND e.user_id = %(user)s
"""

_Totals = tuple[int, int, int, datetime]


class PostgresUserMetricsStore:
    """`user_metric_buckets` (48 hours of minutes) and `user_metric_totals` (lifetime), per credential."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, deltas: list[UsageDelta]) -> None:
        """Add one flush's deltas in one transaction, rows in key order (so concurrent flushes never deadlock)."""
        if not deltas:
            return
        buckets = sorted(
            (d.tenant_id, d.user_id, d.credential, d.minute, d.queries, d.remembers, d.forgets) for d in deltas
        )
        totals: dict[tuple[str, str, str], _Totals] = {}
        for d in deltas:
            key = (d.tenant_id, d.user_id, d.credential)
            q, r, f, last = totals.get(key, (0, 0, 0, d.last_at))
            totals[key] = (q + d.queries, r + d.remembers, f + d.forgets, max(last, d.last_at))
        with map_errors():
            async with self._db.connection() as conn, conn.transaction():
                async with conn.cursor() as cur:
                    await cur.executemany(_ADD_BUCKET, buckets)
                    await cur.executemany(_ADD_TOTAL, [(*key, *value) for key, value in sorted(totals.items())])

    async def totals(self, tenant_id: str, user_id: str) -> list[CredentialTotals]:
        with map_errors():
            async with self._db.connection() as conn:
                rows = await (await conn.execute(_TOTALS, {"tenant": tenant_id, "user": user_id})).fetchall()
        return [
            CredentialTotals(
                credential=r["credential"],
                queries=int(r["queries"]),
                remembers=int(r["remembers"]),
                forgets=int(r["forgets"]),
                last_at=r["last_at"],
            )
            for r in rows
        ]

    async def minutes(self, tenant_id: str, user_id: str, since: datetime) -> list[MinuteCounts]:
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(_MINUTES, {"tenant": tenant_id, "user": user_id, "since": since})
                rows = await cur.fetchall()
        return [
            MinuteCounts(
                minute=r["minute"], queries=int(r["queries"]), remembers=int(r["remembers"]), forgets=int(r["forgets"])
            )
            for r in rows
        ]

    async def prune(self, before: datetime) -> int:
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    "DELETE FROM user_metric_buckets WHERE minute < %(before)s", {"before": before}
                )
                return cur.rowcount or 0

    async def entry_tiers(self, tenant_id: str, user_id: str) -> tuple[int, int]:
        with map_errors():
            async with self._db.connection() as conn, conn.transaction():
                await conn.execute(f"SET LOCAL statement_timeout = '{GAUGE_TIMEOUT}'")
                row = await (await conn.execute(_TIERS, {"tenant": tenant_id, "user": user_id})).fetchone()
        assert row is not None  # aggregates always answer one row
        return int(row["warm"]), int(row["cold"])
