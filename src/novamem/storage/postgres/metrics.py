"""Deployment-wide metrics counters: every replica adds its deltas, readers see the sum."""

from __future__ import annotations

from datetime import datetime

from novamem.storage.operations import DEPLOYMENT
from novamem.storage.postgres.database import Database, map_errors

__all__ = ["PostgresMetricsStore"]

_ADD_COUNTER = """
INSERT INTO metrics_counters (tenant_id, name, value) VALUES (%s, %s, %s)
ON CONFLICT (tenant_id, name) DO UPDATE SET value = metrics_counters.value + EXCLUDED.value, updated_at = now()
"""

_ADD_BUCKET = """
INSERT INTO metrics_buckets (bucket, tenant_id, name, value) VALUES (%s, %s, %s, %s)
ON CONFLICT (bucket, tenant_id, name) DO UPDATE SET value = metrics_buckets.value + EXCLUDED.value
"""

# one tenant's rows plus the deployment's own (job counters), or (tenant None) every row
_REACH = "(%(tenant)s::text IS NULL OR tenant_id = %(tenant)s OR tenant_id = %(deployment)s)"


class PostgresMetricsStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, counters: dict[tuple[str, str], int], buckets: dict[tuple[datetime, str, str], int]) -> None:
        """Add one flush's deltas in one transaction, in key order (so concurrent flushes never deadlock)."""
        if not counters and not buckets:
            return
        with map_errors():
            async with self._db.connection() as conn, conn.transaction():
                async with conn.cursor() as cur:
                    if counters:
                        await cur.executemany(_ADD_COUNTER, [(t, n, v) for (t, n), v in sorted(counters.items())])
                    if buckets:
                        await cur.executemany(_ADD_BUCKET, [(b, t, n, v) for (b, t, n), v in sorted(buckets.items())])

    async def totals(self, tenant_id: str | None) -> dict[str, int]:
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    f"SELECT name, sum(value) AS value FROM metrics_counters WHERE {_REACH} GROUP BY name",
                    {"tenant": tenant_id, "deployment": DEPLOYMENT},
                )
                rows = await cur.fetchall()
        return {r["name"]: int(r["value"]) for r in rows}

    async def window(self, tenant_id: str | None, since: datetime, names: tuple[str, ...]) -> dict[str, int]:
        """Sums of the named counters over the buckets that start at or after `since`."""
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    "SELECT name, sum(value) AS value FROM metrics_buckets"
                    f" WHERE bucket >= %(since)s AND name = ANY(%(names)s) AND {_REACH} GROUP BY name",
                    {"tenant": tenant_id, "deployment": DEPLOYMENT, "since": since, "names": list(names)},
                )
                rows = await cur.fetchall()
        return {r["name"]: int(r["value"]) for r in rows}

    async def series(
        self, tenant_id: str | None, since: datetime, step_seconds: int, names: tuple[str, ...]
    ) -> dict[tuple[datetime, str], int]:
        """Sums of the named counters per `step_seconds` slot (slots aligned to the epoch), from `since` on."""
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    "SELECT to_timestamp(floor(extract(epoch FROM bucket) / %(step)s) * %(step)s) AS slot, name,"
                    " sum(value) AS value FROM metrics_buckets"
                    f" WHERE bucket >= %(since)s AND name = ANY(%(names)s) AND {_REACH} GROUP BY slot, name",
                    {
                        "tenant": tenant_id,
                        "deployment": DEPLOYMENT,
                        "since": since,
                        "names": list(names),
                        "step": step_seconds,
                    },
                )
                rows = await cur.fetchall()
        return {(r["slot"], r["name"]): int(r["value"]) for r in rows}

    async def prune_buckets(self, before: datetime) -> int:
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute("DELETE FROM metrics_buckets WHERE bucket < %(before)s", {"before": before})
                return cur.rowcount
