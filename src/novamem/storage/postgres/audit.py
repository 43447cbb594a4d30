"""The append-only admin audit log (the database refuses updates and deletes of its rows)."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from novamem.storage.base import AuditRecord
from novamem.storage.postgres.database import Database, map_errors

__all__ = ["PostgresAuditLog"]

_COLUMNS = "id, ts, actor_user_id, actor_label, action, target, metadata, request_ip"
# every column a person reads in the log, as one text (metadata as its JSON text)
_HAYSTACK = "concat_ws(' ', actor_label, action, coalesce(target, ''), metadata::text, coalesce(request_ip, ''))"


def _contains(text: str) -> str:
    """An ILIKE pattern that matches `text` literally anywhere (its own % and _ escaped)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


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
                    f"SELECT {_COLUMNS}"
                    " FROM admin_audit_log WHERE tenant_id = %(tenant)s ORDER BY ts DESC, id DESC LIMIT %(limit)s",
                    {"tenant": tenant_id, "limit": limit},
                )
                return list(await cur.fetchall())

    async def search(self, tenant_id: str, text: str | None, limit: int, offset: int) -> list[dict[str, Any]]:
        """Newest first, within one tenant; with `text`, only entries that contain it (any case) in their
        actor, action, target, metadata or address."""
        params: dict[str, Any] = {"tenant": tenant_id, "limit": limit, "offset": offset}
        where = "tenant_id = %(tenant)s"
        if text:
            where += f" AND {_HAYSTACK} ILIKE %(pattern)s"
            params["pattern"] = _contains(text)
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    f"SELECT {_COLUMNS} FROM admin_audit_log WHERE {where}"
                    " ORDER BY ts DESC, id DESC LIMIT %(limit)s OFFSET %(offset)s",
                    params,
                )
                return list(await cur.fetchall())
