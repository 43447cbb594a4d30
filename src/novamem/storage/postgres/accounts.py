"""Users, dashboard sessions and tenants in PostgreSQL; every statement filters by tenant.

The last-admin rule is enforced here, inside the transaction that demotes or erases, under a
per-tenant advisory lock, so two admins demoting each other at once cannot leave a tenant with none.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import DictRow
from ulid import ULID

from novamem.error_messages import (
    BA_USER_NOT_FOUND,
    LAST_ADMIN_CODE,
    LAST_ADMIN_DELETE,
    LAST_ADMIN_DEMOTE,
    NO_SUCH_TENANT,
    USER_EXISTS,
    USER_EXISTS_CODE,
)
from novamem.errors import Conflict, NotFound
from novamem.storage.accounts import EraseReport, SessionRecord, TenantRecord, UserListing, UserRecord
from novamem.storage.postgres.changes import tell_lost
from novamem.storage.postgres.database import Database, map_errors

__all__ = ["PostgresAccountStore"]

_USER_COLUMNS = (
    "id, tenant_id, email, name, role, password_hash, must_change_password, banned, ban_reason, ban_expires,"
    " created_at, updated_at"
)
# a user with how many entries and live tokens they hold (the admin users list)
_LISTING = (
    f"SELECT {_USER_COLUMNS},"
    " (SELECT count(*) FROM memory_entries e WHERE e.tenant_id = u.tenant_id AND e.user_id = u.id) AS entry_count,"
    " (SELECT count(*) FROM user_tokens t WHERE t.tenant_id = u.tenant_id AND t.user_id = u.id"
    "   AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())) AS token_count"
    " FROM users u"
)
_SESSION_COLUMNS = "id, tenant_id, user_id, ip_address, user_agent, created_at, updated_at, expires_at"
# serialises admin-count decisions (bootstrap, demote, erase) within one tenant
_ADMIN_LOCK = "SELECT pg_advisory_xact_lock(hashtext('novamem:admins:' || %(tenant)s))"


def _user(row: dict[str, Any]) -> UserRecord:
    return UserRecord(**{k: row[k] for k in UserRecord.__slots__})


def _session(row: dict[str, Any]) -> SessionRecord:
    return SessionRecord(**{k: row[k] for k in SessionRecord.__slots__})


def _tenant(row: dict[str, Any]) -> TenantRecord:
    return TenantRecord(id=row["id"], name=row["name"], created_at=row["created_at"])


def new_id() -> str:
    return str(ULID())


class PostgresAccountStore:
    """The account aggregate over `users`, `auth_sessions` and `tenants`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # ---- users -------------------------------------------------------------------------------

    async def create_user(
        self,
        tenant_id: str,
        *,
        email: str,
        name: str,
        role: str,
        password_hash: str | None,
        must_change_password: bool,
    ) -> UserRecord:
        params = {
            "id": new_id(),
            "tenant": tenant_id,
            "email": email,
            "name": name,
            "role": role,
            "hash": password_hash,
            "must": must_change_password,
        }
        with map_errors():
            async with self._db.connection() as conn:
                try:
                    cur = await conn.execute(
                        f"INSERT INTO users (id, tenant_id, email, name, role, password_hash, must_change_password)"
                        f" VALUES (%(id)s, %(tenant)s, %(email)s, %(name)s, %(role)s, %(hash)s, %(must)s)"
                        f" RETURNING {_USER_COLUMNS}",
                        params,
                    )
                except psycopg.errors.UniqueViolation as exc:
                    raise Conflict(USER_EXISTS, code=USER_EXISTS_CODE) from exc
                except psycopg.errors.ForeignKeyViolation as exc:
                    raise NotFound(NO_SUCH_TENANT) from exc
                row = await cur.fetchone()
        assert row is not None
        return _user(row)

    async def create_first_admin(
        self, tenant_id: str, *, email: str, name: str, password_hash: str
    ) -> UserRecord | None:
        """Create an admin only while the tenant has none (race-safe: one replica wins). None if one exists."""
        with map_errors():
            async with self._db.connection() as conn, conn.transaction():
                await conn.execute(_ADMIN_LOCK, {"tenant": tenant_id})
                cur = await conn.execute(
                    "SELECT 1 FROM users WHERE tenant_id = %(tenant)s AND role = 'admin' LIMIT 1", {"tenant": tenant_id}
                )
                if await cur.fetchone() is not None:
                    return None
                try:
                    cur = await conn.execute(
                        f"INSERT INTO users (id, tenant_id, email, name, role, password_hash, must_change_password)"
                        f" VALUES (%(id)s, %(tenant)s, %(email)s, %(name)s, 'admin', %(hash)s, true)"
                        f" RETURNING {_USER_COLUMNS}",
                        {"id": new_id(), "tenant": tenant_id, "email": email, "name": name, "hash": password_hash},
                    )
                except psycopg.errors.UniqueViolation as exc:
                    raise Conflict(USER_EXISTS, code=USER_EXISTS_CODE) from exc
                row = await cur.fetchone()
        assert row is not None
        return _user(row)

    async def _one_user(self, where: str, params: dict[str, Any]) -> UserRecord | None:
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE {where}", params)
                row = await cur.fetchone()
        return _user(row) if row else None

    async def get_user(self, tenant_id: str, user_id: str) -> UserRecord | None:
        return await self._one_user("tenant_id = %(tenant)s AND id = %(id)s", {"tenant": tenant_id, "id": user_id})

    async def get_user_by_email(self, tenant_id: str, email: str) -> UserRecord | None:
        return await self._one_user(
            "tenant_id = %(tenant)s AND lower(email) = lower(%(email)s)", {"tenant": tenant_id, "email": email}
        )

    async def find_user_for_sign_in(self, email: str) -> UserRecord | None:
        """The one account with this email on the whole server (sign-in precedes any tenant)."""
        return await self._one_user("lower(email) = lower(%(email)s)", {"email": email})

    async def list_users(self, tenant_id: str, limit: int, offset: int) -> tuple[list[UserListing], int]:
        params = {"tenant": tenant_id, "limit": limit, "offset": offset}
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    f"{_LISTING} WHERE u.tenant_id = %(tenant)s ORDER BY u.created_at, u.id"
                    " LIMIT %(limit)s OFFSET %(offset)s",
                    params,
                )
                rows = await cur.fetchall()
                cur = await conn.execute("SELECT count(*) AS n FROM users WHERE tenant_id = %(tenant)s", params)
                total = await cur.fetchone()
        listings = [UserListing(_user(r), int(r["entry_count"]), int(r["token_count"])) for r in rows]
        return listings, int(total["n"]) if total else 0

    async def user_listing(self, tenant_id: str, user_id: str) -> UserListing | None:
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    f"{_LISTING} WHERE u.tenant_id = %(tenant)s AND u.id = %(id)s", {"tenant": tenant_id, "id": user_id}
                )
                row = await cur.fetchone()
        return UserListing(_user(row), int(row["entry_count"]), int(row["token_count"])) if row else None

    async def count_admins(self, tenant_id: str) -> int:
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    "SELECT count(*) AS n FROM users WHERE tenant_id = %(tenant)s AND role = 'admin'",
                    {"tenant": tenant_id},
                )
                row = await cur.fetchone()
        return int(row["n"]) if row else 0

    async def set_role(self, tenant_id: str, user_id: str, role: str) -> UserRecord | None:
        """Change a role; demoting the tenant's last admin raises Conflict (`LAST_ADMIN_PROTECTED`)."""
        params = {"tenant": tenant_id, "id": user_id, "role": role}
        with map_errors():
            async with self._db.connection() as conn, conn.transaction():
                await conn.execute(_ADMIN_LOCK, params)
                cur = await conn.execute(
                    "SELECT role FROM users WHERE tenant_id = %(tenant)s AND id = %(id)s FOR UPDATE", params
                )
                current = await cur.fetchone()
                if current is None:
                    return None
                if current["role"] == "admin" and role != "admin" and await self._admins(conn, tenant_id) <= 1:
                    raise Conflict(LAST_ADMIN_DEMOTE, code=LAST_ADMIN_CODE)
                cur = await conn.execute(
                    f"UPDATE users SET role = %(role)s, updated_at = now() WHERE tenant_id = %(tenant)s"
                    f" AND id = %(id)s RETURNING {_USER_COLUMNS}",
                    params,
                )
                row = await cur.fetchone()
        return _user(row) if row else None

    async def set_ban(
        self, tenant_id: str, user_id: str, *, banned: bool, reason: str | None, expires: datetime | None
    ) -> UserRecord | None:
        """Ban (ending every session of the user at once) or unban."""
        params = {"tenant": tenant_id, "id": user_id, "banned": banned, "reason": reason, "expires": expires}
        with map_errors():
            async with self._db.connection() as conn, conn.transaction():
                cur = await conn.execute(
                    f"UPDATE users SET banned = %(banned)s, ban_reason = %(reason)s, ban_expires = %(expires)s,"
                    f" updated_at = now() WHERE tenant_id = %(tenant)s AND id = %(id)s RETURNING {_USER_COLUMNS}",
                    params,
                )
                row = await cur.fetchone()
                if row is not None and banned:
                    await conn.execute(
                        "DELETE FROM auth_sessions WHERE tenant_id = %(tenant)s AND user_id = %(id)s", params
                    )
        return _user(row) if row else None

    async def set_password(
        self, tenant_id: str, user_id: str, password_hash: str, *, must_change_password: bool
    ) -> bool:
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    "UPDATE users SET password_hash = %(hash)s, must_change_password = %(must)s, updated_at = now()"
                    " WHERE tenant_id = %(tenant)s AND id = %(id)s",
                    {"tenant": tenant_id, "id": user_id, "hash": password_hash, "must": must_change_password},
                )
                return (cur.rowcount or 0) > 0

    async def update_profile(
        self, tenant_id: str, user_id: str, *, name: str | None, email: str | None
    ) -> UserRecord | None:
        """Change the display name and/or email (None keeps it). Another account's email is a Conflict."""
        params = {"tenant": tenant_id, "id": user_id, "name": name, "email": email}
        with map_errors():
            async with self._db.connection() as conn:
                try:
                    cur = await conn.execute(
                        f"UPDATE users SET name = COALESCE(%(name)s, name), email = COALESCE(%(email)s, email),"
                        f" updated_at = now() WHERE tenant_id = %(tenant)s AND id = %(id)s RETURNING {_USER_COLUMNS}",
                        params,
                    )
                except psycopg.errors.UniqueViolation as exc:
                    raise Conflict(USER_EXISTS, code=USER_EXISTS_CODE) from exc
                row = await cur.fetchone()
        return _user(row) if row else None

    @staticmethod
    async def _admins(conn: psycopg.AsyncConnection[DictRow], tenant_id: str) -> int:
        cur = await conn.execute(
            "SELECT count(*) AS n FROM users WHERE tenant_id = %(tenant)s AND role = 'admin'", {"tenant": tenant_id}
        )
        row = await cur.fetchone()
        return int(row["n"]) if row else 0

    @staticmethod
    async def _erase_counts(conn: psycopg.AsyncConnection[DictRow], user: UserRecord) -> EraseReport:
        params: dict[str, Any] = {"tenant": user.tenant_id, "id": user.id}
        cur = await conn.execute(
            "SELECT id FROM projects WHERE tenant_id = %(tenant)s AND owner_user_id = %(id)s ORDER BY created_at, id",
            params,
        )
        owned = [r["id"] for r in await cur.fetchall()]
        params["owned"] = owned
        cur = await conn.execute(
            "SELECT count(*) AS n FROM memory_entries WHERE tenant_id = %(tenant)s"
            " AND (user_id = %(id)s OR project_id = ANY(%(owned)s))",
            params,
        )
        entries = await cur.fetchone()
        cur = await conn.execute(
            "SELECT count(*) AS n FROM user_tokens WHERE tenant_id = %(tenant)s AND user_id = %(id)s", params
        )
        tokens = await cur.fetchone()
        return EraseReport(
            user_id=user.id,
            email=user.email,
            entries=int(entries["n"]) if entries else 0,
            tokens=int(tokens["n"]) if tokens else 0,
            owned_projects=owned,
        )

    async def erase_preview(self, tenant_id: str, user_id: str) -> EraseReport | None:
        user = await self.get_user(tenant_id, user_id)
        if user is None:
            return None
        with map_errors():
            async with self._db.connection() as conn:
                return await self._erase_counts(conn, user)

    async def erase_user(self, tenant_id: str, user_id: str) -> EraseReport | None:
        """Delete the user and everything they hold, in one transaction.

        Owned projects go first (cascading to their entries, edges, vectors, members and confined
        tokens), then the user's other entries and change-feed rows, then the user row, which
        cascades to sessions, tokens, memberships, the active project and quotas.

        The user's memories in projects that stay (other owners' projects) leave a `deleted` row in the
        feed (`reason: user_erased`), so that members mirroring the project learn they are gone; the other
        members of the projects that go with the user are told the same of each of their memories
        (`reason: project_deleted`, addressed to each of them). The
        feed rows of those projects are kept for the members under the project's owner: nothing in the
        feed still names the erased user.
        """
        params = {"tenant": tenant_id, "id": user_id}
        with map_errors():
            async with self._db.connection() as conn, conn.transaction():
                await conn.execute(_ADMIN_LOCK, params)
                cur = await conn.execute(
                    f"SELECT {_USER_COLUMNS} FROM users WHERE tenant_id = %(tenant)s AND id = %(id)s FOR UPDATE",
                    params,
                )
                row = await cur.fetchone()
                if row is None:
                    return None
                user = _user(row)
                if user.is_admin and await self._admins(conn, tenant_id) <= 1:
                    raise Conflict(LAST_ADMIN_DELETE, code=LAST_ADMIN_CODE)
                report = await self._erase_counts(conn, user)
                # the user's memories in projects that outlive them, and the feed's position before the erasure
                cur = await conn.execute(
                    "SELECT e.id, e.project_id, p.owner_user_id AS owner,"
                    " (SELECT coalesce(max(seq), 0) FROM memory_changes) AS seq FROM memory_entries e"
                    " JOIN projects p ON p.tenant_id = e.tenant_id AND p.id = e.project_id"
                    " WHERE e.tenant_id = %(tenant)s AND e.user_id = %(id)s AND p.owner_user_id <> %(id)s",
                    params,
                )
                shared = await cur.fetchall()
                # the other members of the projects going with the user are told their memories are gone
                for project_id in report.owned_projects:
                    await tell_lost(conn, tenant_id, project_id, reason="project_deleted")
                await conn.execute(
                    "DELETE FROM projects WHERE tenant_id = %(tenant)s AND id = ANY(%(owned)s)",
                    {**params, "owned": report.owned_projects},
                )
                await conn.execute(
                    "DELETE FROM memory_entries WHERE tenant_id = %(tenant)s AND user_id = %(id)s", params
                )
                if shared:
                    # a `deleted` row for each (the cascade already logged some derived facts' own)
                    await conn.execute(
                        "INSERT INTO memory_changes (tenant_id, user_id, project_id, entry_id, change, detail)"
                        " SELECT %(tenant)s, s.owner, s.project, s.id, 'deleted', %(detail)s::jsonb"
                        " FROM unnest(%(ids)s::text[], %(projects)s::text[], %(owners)s::text[])"
                        "  AS s(id, project, owner)"
                        " WHERE NOT EXISTS (SELECT 1 FROM memory_changes c WHERE c.seq > %(seq)s"
                        "  AND c.entry_id = s.id AND c.change = 'deleted')",
                        {
                            **params,
                            "ids": [r["id"] for r in shared],
                            "projects": [r["project_id"] for r in shared],
                            "owners": [r["owner"] for r in shared],
                            "seq": shared[0]["seq"],
                            "detail": json.dumps({"reason": "user_erased"}),
                        },
                    )
                # the feed rows of projects that stay are the members' history: kept, under the project's owner
                # (rows addressed to the user, about projects they lost, are theirs alone and go below)
                await conn.execute(
                    "UPDATE memory_changes c SET user_id = p.owner_user_id FROM projects p"
                    " WHERE c.tenant_id = %(tenant)s AND c.user_id = %(id)s AND NOT c.addressed"
                    " AND p.tenant_id = c.tenant_id AND p.id = c.project_id",
                    params,
                )
                await conn.execute(
                    "DELETE FROM memory_changes WHERE tenant_id = %(tenant)s AND user_id = %(id)s", params
                )
                await conn.execute(
                    "DELETE FROM observer_logs WHERE tenant_id = %(tenant)s AND user_id = %(id)s", params
                )
                await conn.execute("DELETE FROM users WHERE tenant_id = %(tenant)s AND id = %(id)s", params)
        return report

    # ---- sessions ----------------------------------------------------------------------------

    async def create_session(
        self,
        tenant_id: str,
        user_id: str,
        *,
        token_hash: str,
        ip_address: str | None,
        user_agent: str | None,
        ttl_seconds: int,
    ) -> SessionRecord:
        params = {
            "id": new_id(),
            "tenant": tenant_id,
            "user": user_id,
            "hash": token_hash,
            "ip": ip_address,
            "ua": user_agent[:512] if user_agent else None,
            "ttl": ttl_seconds,
        }
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    "INSERT INTO auth_sessions (id, token_hash, tenant_id, user_id, ip_address, user_agent, expires_at)"
                    " SELECT %(id)s, %(hash)s, u.tenant_id, u.id, %(ip)s, %(ua)s,"
                    " now() + make_interval(secs => %(ttl)s)"
                    " FROM users u WHERE u.tenant_id = %(tenant)s AND u.id = %(user)s"
                    f" RETURNING {_SESSION_COLUMNS}",
                    params,
                )
                row = await cur.fetchone()
        if row is None:
            raise NotFound(BA_USER_NOT_FOUND, code="USER_NOT_FOUND")
        return _session(row)

    async def get_session(self, tenant_id: str, session_id: str, *, token_hash: str = "") -> SessionRecord | None:
        """A live session named by its id or, when `token_hash` is given, by the SHA-256 of its token."""
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    f"SELECT {_SESSION_COLUMNS} FROM auth_sessions WHERE tenant_id = %(tenant)s"
                    " AND (id = %(id)s OR token_hash = %(hash)s) AND expires_at > now()",
                    {"tenant": tenant_id, "id": session_id, "hash": token_hash or None},
                )
                row = await cur.fetchone()
        return _session(row) if row else None

    async def list_sessions(self, tenant_id: str, user_id: str) -> list[SessionRecord]:
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    f"SELECT {_SESSION_COLUMNS} FROM auth_sessions WHERE tenant_id = %(tenant)s"
                    " AND user_id = %(user)s AND expires_at > now() ORDER BY created_at, id",
                    {"tenant": tenant_id, "user": user_id},
                )
                return [_session(r) for r in await cur.fetchall()]

    async def revoke_session(self, tenant_id: str, user_id: str, *, session_id: str, token_hash: str) -> bool:
        """Delete one of the user's sessions, named by its id or by the SHA-256 of its token."""
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    "DELETE FROM auth_sessions WHERE tenant_id = %(tenant)s AND user_id = %(user)s"
                    " AND (id = %(id)s OR token_hash = %(hash)s)",
                    {"tenant": tenant_id, "user": user_id, "id": session_id, "hash": token_hash},
                )
                return (cur.rowcount or 0) > 0

    async def revoke_sessions(self, tenant_id: str, user_id: str, *, keep: str | None = None) -> int:
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    "DELETE FROM auth_sessions WHERE tenant_id = %(tenant)s AND user_id = %(user)s"
                    " AND id IS DISTINCT FROM %(keep)s",
                    {"tenant": tenant_id, "user": user_id, "keep": keep},
                )
                return cur.rowcount or 0

    async def delete_expired_sessions(self) -> int:
        """Janitor work across the deployment: drop sessions that ended."""
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute("DELETE FROM auth_sessions WHERE expires_at <= now()")
                return cur.rowcount or 0

    # ---- tenants -----------------------------------------------------------------------------

    async def create_tenant(
        self, name: str, *, email: str, admin_name: str, password_hash: str
    ) -> tuple[TenantRecord, UserRecord]:
        """A new tenant and its first admin (who must change the password), in one transaction."""
        tenant_id = new_id()
        with map_errors():
            async with self._db.connection() as conn, conn.transaction():
                cur = await conn.execute(
                    "INSERT INTO tenants (id, name) VALUES (%(id)s, %(name)s) RETURNING id, name, created_at",
                    {"id": tenant_id, "name": name},
                )
                tenant = await cur.fetchone()
                try:
                    cur = await conn.execute(
                        f"INSERT INTO users (id, tenant_id, email, name, role, password_hash, must_change_password)"
                        f" VALUES (%(id)s, %(tenant)s, %(email)s, %(name)s, 'admin', %(hash)s, true)"
                        f" RETURNING {_USER_COLUMNS}",
                        {
                            "id": new_id(),
                            "tenant": tenant_id,
                            "email": email,
                            "name": admin_name,
                            "hash": password_hash,
                        },
                    )
                except psycopg.errors.UniqueViolation as exc:
                    raise Conflict(USER_EXISTS, code=USER_EXISTS_CODE) from exc
                admin = await cur.fetchone()
        assert tenant is not None and admin is not None
        return _tenant(tenant), _user(admin)

    async def list_tenants(self) -> list[TenantRecord]:
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute("SELECT id, name, created_at FROM tenants ORDER BY created_at, id")
                return [_tenant(r) for r in await cur.fetchall()]
