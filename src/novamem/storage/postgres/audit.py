"""The append-only admin audit log (the database refuses updates and deletes of its rows)."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from novamem.storage.base import AuditRecord
from novamem.storage.postgres.database import Database, map_errors

__all__ = ["PostgresAuditLog"]


class PostgresAuditLog:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def append(self, record: AuditRecord) -> None:
        with map_errors():
            async with self._db.connection() as conn:
                await conn.execute(
                    "INSERT INTO admin_audit_log (tenant_id, actor_user_id, actor_label, action, target, metadata,"
                    " request_ip) VALUES (%(tenant)s, %(actor)s, %(label)s, %(action)s, %(target)s, %(meta)s, %(ip)s)",
                    {
                        "tenant": record.tenant_id,
                        "actor": record.actor_user_id,
                        "label": record.actor_label,
                        "action": record.action,
                        "target": record.target,
                        "meta": Jsonb(record.metadata),
                        "ip": record.request_ip,
                    },
                )

    async def recent(self, tenant_id: str, limit: int) -> list[dict[str, Any]]:
        """Newest first, within one tenant."""
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    "SELECT id, ts, actor_user_id, actor_label, action, target, metadata, request_ip"
                    " FROM admin_audit_log WHERE tenant_id = %(tenant)s ORDER BY ts DESC, id DESC LIMIT %(limit)s",
                    {"tenant": tenant_id, "limit": limit},
                )
                return list(await cur.fetchall())
