"""On-behalf-of service keys in `service_keys`.

Registering or revoking a key moves the auth epoch (a trigger, same transaction), so every replica's
authenticator drops what it had resolved and a revocation takes effect on the very next request.
"""

from __future__ import annotations

from typing import Any

from novamem.storage.postgres.database import Database, map_errors
from novamem.storage.service_keys import ServiceKeyRecord

__all__ = ["PostgresServiceKeyStore"]

_COLUMNS = "id, tenant_id, name, organization_id, public_key, created_at, revoked_at, created_by"
_INSERT = f"""
INSERT INTO service_keys (id, tenant_id, name, organization_id, public_key, created_by)
VALUES (%(id)s, %(tenant)s, %(name)s, %(org)s, %(key)s, %(by)s)
RETURNING {_COLUMNS}
"""
_LIST = f"SELECT {_COLUMNS} FROM service_keys WHERE tenant_id = %(tenant)s ORDER BY created_at DESC, id DESC"
_REVOKE = """
UPDATE service_keys SET revoked_at = clock_timestamp()
 WHERE id = %(id)s AND tenant_id = %(tenant)s AND revoked_at IS NULL
"""
_LIVE = f"SELECT {_COLUMNS} FROM service_keys WHERE id = %(id)s AND revoked_at IS NULL"


def _record(row: dict[str, Any]) -> ServiceKeyRecord:
    return ServiceKeyRecord(
        id=str(row["id"]),
        tenant_id=str(row["tenant_id"]),
        name=str(row["name"]),
        organization_id=str(row["organization_id"]),
        public_key=str(row["public_key"]),
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        created_by=row["created_by"],
    )


class PostgresServiceKeyStore:
    """`ServiceKeyStore` on PostgreSQL."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def insert(
        self, tenant_id: str, key_id: str, *, name: str, organization_id: str, public_key: str, created_by: str | None
    ) -> ServiceKeyRecord:
        params = {"id": key_id, "tenant": tenant_id, "name": name, "org": organization_id, "key": public_key}
        with map_errors():
            async with self._db.connection() as conn:
                row = await (await conn.execute(_INSERT, {**params, "by": created_by})).fetchone()
        assert row is not None
        return _record(row)

    async def list_for_tenant(self, tenant_id: str) -> list[ServiceKeyRecord]:
        with map_errors():
            async with self._db.connection() as conn:
                rows = await (await conn.execute(_LIST, {"tenant": tenant_id})).fetchall()
        return [_record(r) for r in rows]

    async def revoke(self, tenant_id: str, key_id: str) -> bool:
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(_REVOKE, {"id": key_id, "tenant": tenant_id})
                return (cur.rowcount or 0) > 0

    async def live(self, key_id: str) -> ServiceKeyRecord | None:
        with map_errors():
            async with self._db.connection() as conn:
                row = await (await conn.execute(_LIVE, {"id": key_id})).fetchone()
        return _record(row) if row is not None else None
