"""Projects and their members, always within one tenant."""

from __future__ import annotations

from novamem.storage.base import ProjectRef
from novamem.storage.postgres.database import Database, map_errors

__all__ = ["PostgresProjectStore"]

_LOOKUP = """
SELECT p.id, p.name,
       EXISTS (SELECT 1 FROM project_members m WHERE m.project_id = p.id AND m.user_id = %(user)s) AS is_member
  FROM projects p
 WHERE p.tenant_id = %(tenant)s
   AND (p.id = %(ref)s
        OR (p.name = %(ref)s AND EXISTS (
                SELECT 1 FROM project_members m WHERE m.project_id = p.id AND m.user_id = %(user)s)))
 ORDER BY (p.id = %(ref)s) DESC, p.created_at, p.id
 LIMIT 1
"""


class PostgresProjectStore:
    """Project rows and memberships. Every query is filtered by the caller's tenant."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def lookup(self, tenant_id: str, user_id: str, ref: str) -> ProjectRef | None:
        """By id anywhere in the tenant, else by name among the user's own projects (oldest first)."""
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(_LOOKUP, {"tenant": tenant_id, "user": user_id, "ref": ref})
                row = await cur.fetchone()
        if row is None:
            return None
        return ProjectRef(id=row["id"], name=row["name"], is_member=bool(row["is_member"]))

    async def member_project_ids(self, tenant_id: str, user_id: str) -> list[str]:
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    "SELECT project_id FROM project_members WHERE tenant_id = %(tenant)s AND user_id = %(user)s"
                    " ORDER BY joined_at, project_id",
                    {"tenant": tenant_id, "user": user_id},
                )
                return [row["project_id"] for row in await cur.fetchall()]
