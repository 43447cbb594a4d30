"""Projects, their members and each user's active project, always within one tenant."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from novamem.error_messages import NO_SUCH_USER
from novamem.errors import NotFound
from novamem.storage.base import MemberRecord, ProjectRecord, ProjectRef, UserRef
from novamem.storage.postgres.changes import tell_lost
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


_PROJECT = """
SELECT p.id, p.name, p.owner_user_id, p.created_at, m.role
  FROM projects p
  LEFT JOIN project_members m ON m.project_id = p.id AND m.user_id = %(user)s
 WHERE p.tenant_id = %(tenant)s AND p.id = %(project)s
"""

_MINE = """
SELECT p.id, p.name, p.owner_user_id, p.created_at, m.role
  FROM project_members m
  JOIN projects p ON p.id = m.project_id AND p.tenant_id = m.tenant_id
 WHERE m.tenant_id = %(tenant)s AND m.user_id = %(user)s
 ORDER BY p.created_at, p.id
"""

# The pointer counts only while the project exists and the user is still one of its members.
_ACTIVE = """
SELECT a.project_id AS pointer, p.id, p.name, p.owner_user_id, p.created_at, m.role
  FROM user_active_project a
  LEFT JOIN projects p ON p.id = a.project_id AND p.tenant_id = a.tenant_id
  LEFT JOIN project_members m ON m.project_id = p.id AND m.user_id = a.user_id
 WHERE a.tenant_id = %(tenant)s AND a.user_id = %(user)s
"""

_ADD_MEMBER = """
INSERT INTO project_members (project_id, user_id, tenant_id, role)
SELECT p.id, u.id, p.tenant_id, %(role)s
  FROM projects p JOIN users u ON u.tenant_id = p.tenant_id
 WHERE p.tenant_id = %(tenant)s AND p.id = %(project)s AND u.id = %(user)s
ON CONFLICT (project_id, user_id) DO NOTHING
"""


def _project(row: dict[str, Any]) -> ProjectRecord:
    return ProjectRecord(
        id=row["id"],
        name=row["name"],
        owner_user_id=row["owner_user_id"],
        created_at=row["created_at"],
        role=row["role"],
    )


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

    async def create(self, tenant_id: str, owner_user_id: str, project_id: str, name: str) -> ProjectRecord:
        """A new project whose creator is its owner (and first member)."""
        params = {"tenant": tenant_id, "user": owner_user_id, "project": project_id, "name": name}
        with map_errors():
            async with self._db.connection() as conn, conn.transaction():
                cur = await conn.execute(
                    "INSERT INTO projects (id, tenant_id, name, owner_user_id)"
                    " SELECT %(project)s, u.tenant_id, %(name)s, u.id FROM users u"
                    " WHERE u.id = %(user)s AND u.tenant_id = %(tenant)s RETURNING id",
                    params,
                )
                if await cur.fetchone() is None:
                    raise NotFound(NO_SUCH_USER)
                await conn.execute(
                    "INSERT INTO project_members (project_id, user_id, tenant_id, role)"
                    " VALUES (%(project)s, %(user)s, %(tenant)s, 'owner')",
                    params,
                )
                cur = await conn.execute(_PROJECT, params)
                row = await cur.fetchone()
        assert row is not None
        return _project(row)

    async def get(self, tenant_id: str, user_id: str, project_id: str) -> ProjectRecord | None:
        """The project with the user's role in it (None when the user is not a member)."""
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(_PROJECT, {"tenant": tenant_id, "user": user_id, "project": project_id})
                row = await cur.fetchone()
        return _project(row) if row else None

    async def list_for_user(self, tenant_id: str, user_id: str) -> list[ProjectRecord]:
        """The projects the user is a member of, oldest first."""
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(_MINE, {"tenant": tenant_id, "user": user_id})
                return [_project(row) for row in await cur.fetchall()]

    async def delete(self, tenant_id: str, project_id: str) -> int | None:
        """Delete a project and every entry in it; the entries' edges, vectors and source refs, the
        memberships and the tokens confined to it go by cascade. Each member's change feed is told that
        each entry is gone (`tell_lost`). Returns the entries removed, or None when there was no such
        project."""
        params = {"tenant": tenant_id, "project": project_id}
        with map_errors():
            async with self._db.connection() as conn, conn.transaction():
                # the row lock holds back concurrent writes into the project until it is gone
                cur = await conn.execute(
                    "SELECT id FROM projects WHERE tenant_id = %(tenant)s AND id = %(project)s FOR UPDATE", params
                )
                if await cur.fetchone() is None:
                    return None
                await tell_lost(conn, tenant_id, project_id, reason="project_deleted")
                cur = await conn.execute(
                    "DELETE FROM memory_entries WHERE tenant_id = %(tenant)s AND project_id = %(project)s", params
                )
                removed = cur.rowcount or 0
                await conn.execute(
                    "DELETE FROM user_active_project WHERE tenant_id = %(tenant)s AND project_id = %(project)s", params
                )
                await conn.execute("DELETE FROM projects WHERE tenant_id = %(tenant)s AND id = %(project)s", params)
        return removed

    async def members(self, tenant_id: str, project_id: str) -> list[MemberRecord]:
        """Members in the order they joined; the username shown is the account's email."""
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    "SELECT m.user_id, u.email, m.role, m.joined_at FROM project_members m"
                    " JOIN users u ON u.id = m.user_id AND u.tenant_id = m.tenant_id"
                    " WHERE m.tenant_id = %(tenant)s AND m.project_id = %(project)s"
                    " ORDER BY m.joined_at, m.user_id",
                    {"tenant": tenant_id, "project": project_id},
                )
                return [
                    MemberRecord(user_id=r["user_id"], email=r["email"], role=r["role"], joined_at=r["joined_at"])
                    for r in await cur.fetchall()
                ]

    async def member_counts(self, tenant_id: str, project_ids: Sequence[str]) -> dict[str, int]:
        """How many members each of these projects has (projects of other tenants count nothing)."""
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    "SELECT project_id, count(*) AS members FROM project_members"
                    " WHERE tenant_id = %(tenant)s AND project_id = ANY(%(projects)s) GROUP BY project_id",
                    {"tenant": tenant_id, "projects": list(project_ids)},
                )
                return {row["project_id"]: int(row["members"]) for row in await cur.fetchall()}

    async def entry_count(self, tenant_id: str, project_id: str) -> int:
        """How many entries `delete` would remove from this project now (every status, as delete does)."""
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    "SELECT count(*) AS entries FROM memory_entries"
                    " WHERE tenant_id = %(tenant)s AND project_id = %(project)s",
                    {"tenant": tenant_id, "project": project_id},
                )
                row = await cur.fetchone()
        return int(row["entries"]) if row else 0

    async def user_by_email(self, tenant_id: str, email: str) -> UserRef | None:
        """The tenant's account with exactly this email (letter case aside); never a match on names."""
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    "SELECT id, email FROM users WHERE tenant_id = %(tenant)s AND lower(email) = lower(%(email)s)",
                    {"tenant": tenant_id, "email": email},
                )
                row = await cur.fetchone()
        return UserRef(id=row["id"], email=row["email"]) if row else None

    async def add_member(self, tenant_id: str, project_id: str, user_id: str, role: str) -> bool:
        """False when the user already is a member (or project and user are not both in the tenant)."""
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    _ADD_MEMBER, {"tenant": tenant_id, "project": project_id, "user": user_id, "role": role}
                )
                return bool(cur.rowcount)

    async def remove_member(self, tenant_id: str, project_id: str, user_id: str) -> bool:
        """Remove a membership (and the user's active-project pointer at it); False when there was none.

        The user's change feed is told that each of the project's entries is gone for them (`tell_lost`).
        """
        params = {"tenant": tenant_id, "project": project_id, "user": user_id}
        with map_errors():
            async with self._db.connection() as conn, conn.transaction():
                cur = await conn.execute(
                    "DELETE FROM project_members WHERE tenant_id = %(tenant)s AND project_id = %(project)s"
                    " AND user_id = %(user)s",
                    params,
                )
                removed = bool(cur.rowcount)
                if removed:
                    await tell_lost(conn, tenant_id, project_id, reason="member_removed", member=user_id)
                await conn.execute(
                    "DELETE FROM user_active_project WHERE tenant_id = %(tenant)s AND user_id = %(user)s"
                    " AND project_id = %(project)s",
                    params,
                )
        return removed

    async def active(self, tenant_id: str, user_id: str) -> ProjectRecord | None:
        """The user's active project; a pointer at a deleted or no longer joined project is cleared."""
        params = {"tenant": tenant_id, "user": user_id}
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(_ACTIVE, params)
                row = await cur.fetchone()
                if row is None:
                    return None
                if row["id"] is None or row["role"] is None:
                    await conn.execute(
                        "DELETE FROM user_active_project WHERE tenant_id = %(tenant)s AND user_id = %(user)s"
                        " AND project_id = %(pointer)s",
                        {**params, "pointer": row["pointer"]},
                    )
                    return None
        return _project(row)

    async def set_active(self, tenant_id: str, user_id: str, project_id: str) -> None:
        with map_errors():
            async with self._db.connection() as conn:
                await conn.execute(
                    "INSERT INTO user_active_project (user_id, tenant_id, project_id) VALUES (%(user)s, %(tenant)s,"
                    " %(project)s) ON CONFLICT (user_id) DO UPDATE SET project_id = EXCLUDED.project_id,"
                    " updated_at = now() WHERE user_active_project.tenant_id = EXCLUDED.tenant_id",
                    {"tenant": tenant_id, "user": user_id, "project": project_id},
                )

    async def clear_active(self, tenant_id: str, user_id: str) -> None:
        with map_errors():
            async with self._db.connection() as conn:
                await conn.execute(
                    "DELETE FROM user_active_project WHERE tenant_id = %(tenant)s AND user_id = %(user)s",
                    {"tenant": tenant_id, "user": user_id},
                )
