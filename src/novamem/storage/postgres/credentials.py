"""Resolving a presented API token or session to the principal behind it, in one query each.

Revocation, expiry, bans and lost project membership are all read here. Every change to them also
moves the `auth_epoch` counter (database triggers, same transaction), which is what lets the
authenticator reuse a resolution until the counter moves: any change takes effect on the very next
request, on every replica.
"""

from __future__ import annotations

from typing import Any

from novamem.storage.base import Principal
from novamem.storage.postgres.database import Database, map_errors

__all__ = ["PostgresCredentialStore"]

# The active project counts only while the user is still a member of it.
_ACTIVE = """
    (SELECT a.project_id FROM user_active_project a
       JOIN project_members m ON m.project_id = a.project_id AND m.user_id = a.user_id
      WHERE a.user_id = u.id AND a.tenant_id = u.tenant_id) AS active_project
"""

_USER_COLUMNS = """
    u.id AS user_id, u.tenant_id, u.email, u.role, u.must_change_password,
    (u.banned AND (u.ban_expires IS NULL OR u.ban_expires > now())) AS banned
"""

_RESOLVE_TOKEN = f"""
SELECT {_USER_COLUMNS}, {_ACTIVE},
       t.scope, t.project_id AS confined_project, t.last_used_at, t.expires_at,
       (t.project_id IS NULL OR EXISTS (
            SELECT 1 FROM project_members m WHERE m.project_id = t.project_id AND m.user_id = t.user_id
       )) AS confinement_ok
  FROM user_tokens t
  JOIN users u ON u.id = t.user_id AND u.tenant_id = t.tenant_id
 WHERE t.token_hash = %(hash)s
   AND t.revoked_at IS NULL
   AND (t.expires_at IS NULL OR t.expires_at > now())
"""

_RESOLVE_SESSION = f"""
SELECT {_USER_COLUMNS}, {_ACTIVE},
       s.id AS session_id, s.updated_at AS session_updated_at, s.expires_at
  FROM auth_sessions s
  JOIN users u ON u.id = s.user_id AND u.tenant_id = s.tenant_id
 WHERE s.token_hash = %(hash)s AND s.expires_at > now()
"""


def _principal(row: dict[str, Any]) -> Principal:
    return Principal(
        tenant_id=row["tenant_id"],
        user_id=row["user_id"],
        email=row["email"],
        is_admin=row["role"] == "admin",
        banned=bool(row["banned"]),
        must_change_password=bool(row["must_change_password"]),
        active_project=row["active_project"],
        scope=row.get("scope", "full"),
        confined_project=row.get("confined_project"),
        confinement_ok=bool(row.get("confinement_ok", True)),
        last_used_at=row.get("last_used_at"),
        session_id=row.get("session_id"),
        session_updated_at=row.get("session_updated_at"),
        expires_at=row.get("expires_at"),
    )


class PostgresCredentialStore:
    """Token and session lookups by SHA-256; writes only the throttled last-used stamps."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def epoch(self) -> int:
        row = await self._db.quick_one("SELECT value FROM auth_epoch WHERE id = 1")
        return int(str(row["value"])) if row else 0

    async def resolve_token(self, token_hash: str) -> Principal | None:
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(_RESOLVE_TOKEN, {"hash": token_hash})
                row = await cur.fetchone()
        return _principal(row) if row else None

    async def resolve_session(self, token_hash: str) -> Principal | None:
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(_RESOLVE_SESSION, {"hash": token_hash})
                row = await cur.fetchone()
        return _principal(row) if row else None

    async def touch_token(self, token_hash: str) -> None:
        """Stamp last use, at most once a minute per token."""
        with map_errors():
            async with self._db.connection() as conn:
                await conn.execute(
                    "UPDATE user_tokens SET last_used_at = now() WHERE token_hash = %(hash)s"
                    " AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
                    {"hash": token_hash},
                )

    async def roll_session(self, session_id: str, ttl_seconds: int) -> None:
        """Move a session's expiry forward (called when it was last rolled over a day ago)."""
        with map_errors():
            async with self._db.connection() as conn:
                await conn.execute(
                    "UPDATE auth_sessions SET updated_at = now(),"
                    " expires_at = now() + make_interval(secs => %(ttl)s) WHERE id = %(id)s",
                    {"id": session_id, "ttl": ttl_seconds},
                )
