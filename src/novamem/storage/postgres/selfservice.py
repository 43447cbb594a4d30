"""A user's recent activity and onboarding state, read across identity and memory tables of one tenant."""

from __future__ import annotations

from typing import Any

from psycopg import sql

from novamem.domain.scope import ReadScope
from novamem.storage.postgres.database import Database, map_errors
from novamem.storage.postgres.scoping import read_filter

__all__ = ["PostgresSelfServiceStore"]

SNIPPET_CHARS = 120

# Four sources, newest first: the user's own `created` changes still in their scope, the tokens they
# minted, the projects they joined (or created: the owner joins too), and audit rows naming them.
_ACTIVITY = """
WITH since AS (SELECT now() - make_interval(hours => %(hours)s) AS t)
(SELECT 'remember' AS kind, c.at, 'remembered: ' || coalesce(left(e.content, %(snip)s), '(since deleted)') AS text,
        p.name AS project
   FROM memory_changes c CROSS JOIN since
   LEFT JOIN memory_entries e ON e.id = c.entry_id AND e.tenant_id = c.tenant_id
   LEFT JOIN projects p ON p.id = c.project_id AND p.tenant_id = c.tenant_id
  WHERE {w} AND c.user_id = %(s_user)s AND c.change = 'created' AND c.at >= since.t
  ORDER BY c.seq DESC LIMIT %(lim)s)
UNION ALL
(SELECT 'token', t.created_at, 'minted token' || CASE WHEN t.label <> '' THEN ' "' || t.label || '"' ELSE '' END,
        p.name
   FROM user_tokens t CROSS JOIN since
   LEFT JOIN projects p ON p.id = t.project_id AND p.tenant_id = t.tenant_id
  WHERE t.tenant_id = %(s_tenant)s AND t.user_id = %(s_user)s AND t.created_at >= since.t
  ORDER BY t.created_at DESC LIMIT %(lim)s)
UNION ALL
(SELECT 'project', m.joined_at, CASE WHEN m.role = 'owner' THEN 'created project ' ELSE 'joined project ' END || p.name,
        p.name
   FROM project_members m CROSS JOIN since JOIN projects p ON p.id = m.project_id AND p.tenant_id = m.tenant_id
  WHERE m.tenant_id = %(s_tenant)s AND m.user_id = %(s_user)s AND m.joined_at >= since.t
  ORDER BY m.joined_at DESC LIMIT %(lim)s)
UNION ALL
(SELECT 'audit', a.ts, a.action || coalesce(' ' || a.target, ''), NULL
   FROM admin_audit_log a CROSS JOIN since
  WHERE a.tenant_id = %(s_tenant)s AND (a.actor_user_id = %(s_user)s OR a.target = %(s_user)s) AND a.ts >= since.t
  ORDER BY a.ts DESC, a.id DESC LIMIT %(lim)s)
ORDER BY at DESC
LIMIT %(lim)s
"""

_ONBOARDING = """
SELECT EXISTS (SELECT 1 FROM users WHERE tenant_id = %(tenant)s AND role = 'admin') AS bootstrap_done,
       EXISTS (SELECT 1 FROM users WHERE tenant_id = %(tenant)s AND id = %(user)s) AS user_exists,
       EXISTS (SELECT 1 FROM user_tokens WHERE tenant_id = %(tenant)s AND user_id = %(user)s) AS minted_token,
       EXISTS (SELECT 1 FROM memory_entries WHERE tenant_id = %(tenant)s AND user_id = %(user)s) AS remembered
"""


class PostgresSelfServiceStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def activity(self, scope: ReadScope, hours: int, limit: int) -> list[dict[str, Any]]:
        """`kind, at, text, project` (project name or None), newest first, at most `limit`."""
        where, params = read_filter(scope, "c", with_namespaces=False, with_organization=False)
        params.update(hours=hours, lim=limit, snip=SNIPPET_CHARS)
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(sql.SQL(_ACTIVITY).format(w=where), params)
                return list(await cur.fetchall())

    async def onboarding(self, tenant_id: str, user_id: str) -> dict[str, bool]:
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(_ONBOARDING, {"tenant": tenant_id, "user": user_id})
                row = await cur.fetchone()
        assert row is not None
        return {key: bool(value) for key, value in row.items()}
