"""PostgreSQL `index_outbox`: the durable queue feeding the derived indexes (see `storage/index_outbox.py`).

Memory changes are queued by statement-level triggers on `memory_entries` (migration 0010), in the
transaction of the change, for the targets listed in `index_targets`; that covers rows removed by SQL
cascades too. `use_targets` writes that list at start-up from the settings. `PostgresIndexOutbox` is the
queue as drainers and rebuilds use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection

from novamem.storage.index_outbox import DEFAULT_CLAIM_LEASE_SECONDS, OutboxItem, OutboxOp, OutboxTarget
from novamem.storage.postgres.database import Database, map_errors

__all__ = ["PostgresIndexOutbox", "PostgresRebuildCheckpoints", "enqueue_in"]

Conn = AsyncConnection[dict[str, Any]]

_MAX_ERROR_CHARS = 500


async def enqueue_in(
    conn: Conn, targets: Sequence[str], op: OutboxOp, tenant_id: str, entry_ids: Sequence[str]
) -> None:
    """Queue `op` for each entry on each enabled target, on the caller's connection (its transaction)."""
    if not targets or not entry_ids:
        return
    await conn.execute(
        "INSERT INTO index_outbox (target, tenant_id, entry_id, op)"
        " SELECT t, %(tenant)s, e, %(op)s FROM unnest(%(targets)s::text[]) t, unnest(%(ids)s::text[]) e",
        {"tenant": tenant_id, "op": op.value, "targets": list(targets), "ids": list(entry_ids)},
    )


class PostgresIndexOutbox:
    """The outbox queue in PostgreSQL; claims are leases, so a drainer that dies loses nothing."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def use_targets(self, targets: Sequence[str], *, exclusive: bool = True) -> None:
        """Enable `targets`; with `exclusive`, disable every other one and drop its queued items (an index
        switched off is rebuilt with `novamem reindex` when it is switched on again)."""
        wanted = [OutboxTarget(t).value for t in targets]
        with map_errors():
            async with self._db.connection() as conn, conn.transaction():
                if exclusive:
                    await conn.execute("DELETE FROM index_targets WHERE NOT (target = ANY(%s))", (wanted,))
                    await conn.execute("DELETE FROM index_outbox WHERE NOT (target = ANY(%s))", (wanted,))
                await conn.execute(
                    "INSERT INTO index_targets (target) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING", (wanted,)
                )

    async def enqueue(self, target: str, tenant_id: str, entry_ids: Sequence[str], op: str) -> int:
        if not entry_ids:
            return 0
        with map_errors():
            async with self._db.connection() as conn:
                await enqueue_in(conn, [target], OutboxOp(op), tenant_id, entry_ids)
        return len(entry_ids)

    async def claim(
        self, target: str, limit: int, *, lease_seconds: float = DEFAULT_CLAIM_LEASE_SECONDS
    ) -> list[OutboxItem]:
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    "UPDATE index_outbox o SET next_attempt_at = now() + make_interval(secs => %(lease)s)"
                    " WHERE o.id IN (SELECT id FROM index_outbox WHERE target = %(target)s"
                    "  AND next_attempt_at <= now() ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)"
                    " RETURNING o.id, o.target, o.tenant_id, o.entry_id, o.op",
                    {"target": target, "limit": limit, "lease": lease_seconds},
                )
                rows = await cur.fetchall()
        items = [OutboxItem(r["id"], r["target"], r["tenant_id"], r["entry_id"], r["op"]) for r in rows]
        return sorted(items, key=lambda i: i.id)

    async def done(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        with map_errors():
            async with self._db.connection() as conn:
                await conn.execute("DELETE FROM index_outbox WHERE id = ANY(%s)", (list(ids),))

    async def failed(self, ids: Sequence[int], error: str, *, base_seconds: float, max_seconds: float) -> None:
        if not ids:
            return
        with map_errors():
            async with self._db.connection() as conn:
                await conn.execute(
                    "UPDATE index_outbox SET attempts = attempts + 1, last_error = %(err)s,"
                    " next_attempt_at = now() + make_interval(secs =>"
                    "  least(%(max)s, %(base)s * power(2, least(attempts, 30))))"
                    " WHERE id = ANY(%(ids)s)",
                    {"ids": list(ids), "err": error[:_MAX_ERROR_CHARS], "base": base_seconds, "max": max_seconds},
                )

    async def pending(self, tenant_id: str | None = None) -> dict[str, int]:
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    "SELECT target, count(*) AS n FROM index_outbox"
                    " WHERE %(tenant)s::text IS NULL OR tenant_id = %(tenant)s GROUP BY target",
                    {"tenant": tenant_id},
                )
                rows = await cur.fetchall()
        counts = {t.value: 0 for t in OutboxTarget}
        counts.update({r["target"]: int(r["n"]) for r in rows})
        return counts


class PostgresRebuildCheckpoints:
    """Rebuild checkpoints in `index_rebuilds` (one row per target and index while a rebuild runs)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def load(self, target: str, index_name: str) -> tuple[bool, str | None]:
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    "SELECT last_id FROM index_rebuilds WHERE target = %s AND index_name = %s", (target, index_name)
                )
                row = await cur.fetchone()
        return (row is not None, row["last_id"] if row else None)

    async def begin(self, target: str, index_name: str) -> None:
        with map_errors():
            async with self._db.connection() as conn:
                await conn.execute(
                    "INSERT INTO index_rebuilds (target, index_name) VALUES (%s, %s) ON CONFLICT (target, index_name)"
                    " DO UPDATE SET last_id = NULL, started_at = now(), updated_at = now()",
                    (target, index_name),
                )

    async def advance(self, target: str, index_name: str, last_id: str) -> None:
        with map_errors():
            async with self._db.connection() as conn:
                await conn.execute(
                    "UPDATE index_rebuilds SET last_id = %s, updated_at = now() WHERE target = %s AND index_name = %s",
                    (last_id, target, index_name),
                )

    async def finish(self, target: str, index_name: str) -> None:
        with map_errors():
            async with self._db.connection() as conn:
                await conn.execute(
                    "DELETE FROM index_rebuilds WHERE target = %s AND index_name = %s", (target, index_name)
                )
