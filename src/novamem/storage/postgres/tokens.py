"""API tokens: only the SHA-256 of each plaintext is stored, and every query is held to one tenant."""

from __future__ import annotations

from typing import Any

from novamem.error_messages import NO_SUCH_USER
from novamem.errors import NotFound
from novamem.storage.base import TokenRecord
from novamem.storage.postgres.database import Database, map_errors

__all__ = ["PostgresTokenStore"]

_COLUMNS = "token_hash, user_id, label, scope, project_id, expires_at, created_at, last_used_at, revoked_at"

_INSERT = f"""
INSERT INTO user_tokens (token_hash, tenant_id, user_id, label, scope, project_id, expires_at)
SELECT %(hash)s, u.tenant_id, u.id, %(label)s, %(scope)s, %(project)s,
       CASE WHEN %(days)s::int IS NULL THEN NULL ELSE now() + make_interval(days => %(days)s::int) END
  FROM users u
 WHERE u.id = %(user)s AND u.tenant_id = %(tenant)s
   AND (%(project)s::text IS NULL
        OR EXISTS (SELECT 1 FROM projects p WHERE p.id = %(project)s AND p.tenant_id = u.tenant_id))
RETURNING {_COLUMNS}
"""

# The presented token is revoked and its replacement inserted with the same restrictions, in one
# transaction; the row lock taken by the UPDATE makes a concurrent second rotation find nothing live.
_REVOKE_LIVE = f"""
UPDATE user_tokens SET revoked_at = now()
 WHERE token_hash = %(hash)s AND tenant_id = %(tenant)s AND user_id = %(user)s
   AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
RETURNING {_COLUMNS}
"""

_INSERT_ROTATED = f"""
INSERT INTO user_tokens (token_hash, tenant_id, user_id, label, scope, project_id, expires_at)
VALUES (%(hash)s, %(tenant)s, %(user)s, 'rotated', %(scope)s, %(project)s, %(expires)s)
RETURNING {_COLUMNS}
"""


def _record(row: dict[str, Any]) -> TokenRecord:
    return TokenRecord(
        token_hash=row["token_hash"],
        user_id=row["user_id"],
        label=row["label"],
        scope=row["scope"],
        project_id=row["project_id"],
        expires_at=row["expires_at"],
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
    )


class PostgresTokenStore:
    """Mint, list, revoke and rotate the API tokens of one tenant's users."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def insert(
        self,
        tenant_id: str,
        user_id: str,
        token_hash: str,
        *,
        label: str,
        scope: str,
        project_id: str | None,
        expires_in_days: int | None,
    ) -> TokenRecord:
        """Store a new token's hash; the user (and the project, if any) must be in the tenant."""
        params = {
            "hash": token_hash,
            "tenant": tenant_id,
            "user": user_id,
            "label": label,
            "scope": scope,
            "project": project_id,
            "days": expires_in_days,
        }
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(_INSERT, params)
                row = await cur.fetchone()
        if row is None:
            raise NotFound(NO_SUCH_USER)
        return _record(row)

    async def list_for_user(self, tenant_id: str, user_id: str) -> list[TokenRecord]:
        """Every token of the user, oldest first, revoked and expired ones included."""
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    f"SELECT {_COLUMNS} FROM user_tokens WHERE tenant_id = %(tenant)s AND user_id = %(user)s"
                    " ORDER BY created_at, token_hash",
                    {"tenant": tenant_id, "user": user_id},
                )
                return [_record(row) for row in await cur.fetchall()]

    async def revoke(self, tenant_id: str, user_id: str, token_hash: str) -> bool:
        """Revoke one of the user's own live tokens; False when they have no such live token."""
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    "UPDATE user_tokens SET revoked_at = now() WHERE token_hash = %(hash)s AND tenant_id = %(tenant)s"
                    " AND user_id = %(user)s AND revoked_at IS NULL",
                    {"hash": token_hash, "tenant": tenant_id, "user": user_id},
                )
                return bool(cur.rowcount)

    async def revoke_any(self, tenant_id: str, token_hash: str) -> bool:
        """Revoke a live token of any user of the tenant (admin use)."""
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    "UPDATE user_tokens SET revoked_at = now() WHERE token_hash = %(hash)s AND tenant_id = %(tenant)s"
                    " AND revoked_at IS NULL",
                    {"hash": token_hash, "tenant": tenant_id},
                )
                return bool(cur.rowcount)

    async def rotate(self, tenant_id: str, user_id: str, old_hash: str, new_hash: str) -> TokenRecord | None:
        """Revoke a live token and insert its replacement (same scope, project and expiry, label
        `rotated`) atomically; None when the old token is not live (nothing changes then)."""
        with map_errors():
            async with self._db.connection() as conn, conn.transaction():
                cur = await conn.execute(_REVOKE_LIVE, {"hash": old_hash, "tenant": tenant_id, "user": user_id})
                old = await cur.fetchone()
                if old is None:
                    return None
                cur = await conn.execute(
                    _INSERT_ROTATED,
                    {
                        "hash": new_hash,
                        "tenant": tenant_id,
                        "user": user_id,
                        "scope": old["scope"],
                        "project": old["project_id"],
                        "expires": old["expires_at"],
                    },
                )
                row = await cur.fetchone()
        assert row is not None
        return _record(row)
