"""Per-user quota overrides (`user_quotas`), the entry counts quotas are checked against, and the entry
cap enforced inside the writing transaction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from psycopg import AsyncConnection

from novamem.error_messages import ENTRY_QUOTA_EXCEEDED
from novamem.errors import RateLimited
from novamem.storage.base import QuotaOverride
from novamem.storage.postgres.database import Database, map_errors

__all__ = ["PostgresQuotaStore", "enforce_entry_cap"]

# First key of the two-key transaction advisory lock per (tenant, user) that capped writes take; two-key
# advisory locks are a space apart from the one-key locks (migrations, the job leader).
_ENTRY_CAP_LOCK = 7_778_011
_COUNT = "SELECT count(*) AS n FROM memory_entries WHERE tenant_id = %(tenant)s AND user_id = %(user)s"


async def enforce_entry_cap(
    conn: AsyncConnection[dict[str, Any]], tenant_id: str, user_ids: Iterable[str], cap: int
) -> None:
    """Refuse the write (`RateLimited`, which rolls the transaction back) when it leaves a user with more
    than `cap` entries. Call it inside the writing transaction, after its inserts, as its last statement.

    The lock per (tenant, user) is held until the transaction ends, so counting and committing is one step
    across every process: a concurrent capped write of the same user waits here, then counts what this one
    committed. Users are locked in sorted order, so two batches never wait on each other in a cycle.
    """
    for user_id in sorted(set(user_ids)):
        params = {"tenant": tenant_id, "user": user_id}
        await conn.execute(
            "SELECT pg_advisory_xact_lock(%(lock)s, hashtext(%(tenant)s || '/' || %(user)s))",
            {**params, "lock": _ENTRY_CAP_LOCK},
        )
        cur = await conn.execute(_COUNT, params)
        row = await cur.fetchone()
        if row is not None and int(row["n"]) > cap:
            raise RateLimited(ENTRY_QUOTA_EXCEEDED.format(limit=cap))


# Only a user of the same tenant gets a row: the SELECT finds nothing for anyone else.
_SET = """
INSERT INTO user_quotas (user_id, tenant_id, max_entries, writes_per_minute, updated_at)
SELECT u.id, u.tenant_id, %(max)s, %(wpm)s, now() FROM users u WHERE u.id = %(user)s AND u.tenant_id = %(tenant)s
ON CONFLICT (user_id) DO UPDATE SET max_entries = EXCLUDED.max_entries,
    writes_per_minute = EXCLUDED.writes_per_minute, updated_at = now()
RETURNING user_id
"""


class PostgresQuotaStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def override(self, tenant_id: str, user_id: str) -> QuotaOverride:
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    "SELECT max_entries, writes_per_minute FROM user_quotas"
                    " WHERE tenant_id = %(tenant)s AND user_id = %(user)s",
                    {"tenant": tenant_id, "user": user_id},
                )
                row = await cur.fetchone()
        if row is None:
            return QuotaOverride(None, None)
        return QuotaOverride(row["max_entries"], row["writes_per_minute"])

    async def set_override(self, tenant_id: str, user_id: str, quota: QuotaOverride) -> bool:
        """Store the user's overrides; False when the tenant has no such user."""
        params = {"tenant": tenant_id, "user": user_id, "max": quota.max_entries, "wpm": quota.writes_per_minute}
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(_SET, params)
                return await cur.fetchone() is not None

    async def count_entries(self, tenant_id: str, user_id: str) -> int:
        """Entries the user wrote (user-global and in projects), whatever their state."""
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(_COUNT, {"tenant": tenant_id, "user": user_id})
                row = await cur.fetchone()
        return int(row["n"]) if row else 0
