"""The observer's logs in `observer_logs` (one per tenant, user and project or none), and where new memories
are piling up for the scheduled observer pass."""

from __future__ import annotations

from novamem.domain.observation import ObservationLog
from novamem.storage.postgres.database import Database, map_errors

__all__ = ["PostgresObservationLogs"]

_OWNER = "tenant_id = %(tenant)s AND user_id = %(user)s AND coalesce(project_id, '') = coalesce(%(project)s, '')"


class PostgresObservationLogs:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, tenant_id: str, user_id: str, project_id: str | None) -> ObservationLog | None:
        params = {"tenant": tenant_id, "user": user_id, "project": project_id}
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    f"SELECT log, observed_through, revision, updated_at FROM observer_logs WHERE {_OWNER}", params
                )
                row = await cur.fetchone()
        if row is None:
            return None
        return ObservationLog(
            tenant_id=tenant_id,
            user_id=user_id,
            project_id=project_id,
            text=str(row["log"]),
            observed_through=row["observed_through"],
            revision=int(row["revision"]),
            updated_at=row["updated_at"],
        )

    async def save(self, log: ObservationLog) -> bool:
        params = {
            "tenant": log.tenant_id,
            "user": log.user_id,
            "project": log.project_id,
            "log": log.text,
            "through": log.observed_through,
            "revision": log.revision,
        }
        with map_errors():
            async with self._db.connection() as conn:
                if log.revision == 0:
                    cur = await conn.execute(
                        "INSERT INTO observer_logs (tenant_id, user_id, project_id, log, observed_through, revision)"
                        " VALUES (%(tenant)s, %(user)s, %(project)s, %(log)s, %(through)s, 1)"
                        " ON CONFLICT (tenant_id, user_id, (coalesce(project_id, ''))) DO NOTHING",
                        params,
                    )
                else:
                    cur = await conn.execute(
                        "UPDATE observer_logs SET log = %(log)s, observed_through = %(through)s,"
                        f" revision = revision + 1, updated_at = now() WHERE {_OWNER} AND revision = %(revision)s",
                        params,
                    )
                return (cur.rowcount or 0) > 0

    async def busy_owners(self, since_id: str, threshold: int, limit: int) -> list[tuple[str, str, str | None]]:
        # a range of the primary key: the memories written since the last passes, whatever the store's size
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    "SELECT tenant_id, user_id, project_id FROM memory_entries"
                    " WHERE id > %(since)s AND namespace = 'default' AND status = 'active'"
                    " AND organization_id IS NULL AND coalesce(source_type, '') NOT IN ('fact', 'observation')"
                    " GROUP BY tenant_id, user_id, project_id HAVING count(*) >= %(threshold)s"
                    " ORDER BY max(id) DESC LIMIT %(limit)s",
                    {"since": since_id, "threshold": threshold, "limit": limit},
                )
                rows = await cur.fetchall()
        return [(str(r["tenant_id"]), str(r["user_id"]), r["project_id"]) for r in rows]
