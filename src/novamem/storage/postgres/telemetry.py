"""Admin telemetry on PostgreSQL: aggregate counts over one tenant's memory rows, in one snapshot.

Every query is filtered by `scoping.tenant_filter` and groups or counts rows; none selects `content`,
`user_id` or `metadata`, so no entry's text and no user id can reach the result.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import DictRow

from novamem.domain.entries import Sensitivity
from novamem.storage.postgres.database import Database, map_errors
from novamem.storage.postgres.scoping import tenant_filter
from novamem.storage.telemetry import DEFAULT_TOP, EntryAggregates, LabelCount

__all__ = ["PostgresTelemetry"]

# telemetry is a dashboard read: a slow aggregate is cut off rather than holding a connection
TELEMETRY_TIMEOUT = "10s"

_TOTALS = sql.SQL(
    "SELECT count(*) AS total, count(e.embedded_at) AS embedded,"
    " count(*) FILTER (WHERE e.embedded_at IS NULL) AS pending,"
    " count(*) FILTER (WHERE e.facts_pending_at IS NOT NULL) AS pending_facts,"
    " count(*) FILTER (WHERE c.entry_id IS NULL) AS warm, count(c.entry_id) AS cold"
    " FROM memory_entries e LEFT JOIN memory_cold c ON c.entry_id = e.id WHERE {where}"
)
_BY_NAMESPACE = sql.SQL(
    "SELECT e.namespace AS label, count(*) AS n FROM memory_entries e WHERE {where}"
    " GROUP BY e.namespace ORDER BY n DESC, label LIMIT %(top)s"
)
# the project's name comes from the same tenant's projects table (null when the project row is gone)
_BY_PROJECT = sql.SQL(
    "SELECT e.project_id AS label, min(p.name) AS name, count(*) AS n FROM memory_entries e"
    " LEFT JOIN projects p ON p.id = e.project_id AND p.tenant_id = e.tenant_id"
    " WHERE {where} GROUP BY e.project_id ORDER BY n DESC, label NULLS FIRST LIMIT %(top)s"
)
_BY_SENSITIVITY = sql.SQL(
    "SELECT e.sensitivity AS level, count(*) AS n FROM memory_entries e"
    " WHERE {where} AND e.created_at >= %(since)s GROUP BY e.sensitivity ORDER BY n DESC, level LIMIT %(small)s"
)
_TOP_AGENTS = sql.SQL(
    "SELECT e.agent_name AS label, count(*) AS n FROM memory_entries e"
    " WHERE {where} AND e.agent_name IS NOT NULL GROUP BY e.agent_name ORDER BY n DESC, label LIMIT %(small)s"
)
_PER_DAY = sql.SQL(
    "SELECT (e.created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n FROM memory_entries e"
    " WHERE {where} AND e.created_at >= %(since)s GROUP BY day"
)


async def _rows(
    conn: AsyncConnection[DictRow], query: sql.SQL, where: sql.Composed, params: dict[str, Any]
) -> list[DictRow]:
    cur = await conn.execute(query.format(where=where), params)
    return await cur.fetchall()


def _labels(rows: list[DictRow]) -> list[LabelCount]:
    return [LabelCount(label=r["label"], count=int(r["n"]), name=r.get("name")) for r in rows]


class PostgresTelemetry:
    """Aggregates over one tenant's `memory_entries`, read in one read-only snapshot."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def aggregates(
        self, tenant_id: str, since: datetime, *, top: int = DEFAULT_TOP, top_small: int = 10
    ) -> EntryAggregates:
        where, params = tenant_filter(tenant_id)
        params = {**params, "since": since, "top": top, "small": top_small}
        with map_errors():
            async with self._db.connection() as conn, conn.transaction():
                # one snapshot, so the totals and the groups add up even while entries are written
                await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                await conn.execute(f"SET LOCAL statement_timeout = '{TELEMETRY_TIMEOUT}'")
                totals = (await _rows(conn, _TOTALS, where, params))[0]
                namespaces = await _rows(conn, _BY_NAMESPACE, where, params)
                projects = await _rows(conn, _BY_PROJECT, where, params)
                levels = await _rows(conn, _BY_SENSITIVITY, where, params)
                agents = await _rows(conn, _TOP_AGENTS, where, params)
                days = await _rows(conn, _PER_DAY, where, params)
        per_day: dict[date, int] = {r["day"]: int(r["n"]) for r in days}
        return EntryAggregates(
            total=int(totals["total"]),
            embedded=int(totals["embedded"]),
            pending_embeddings=int(totals["pending"]),
            pending_extractions=int(totals["pending_facts"]),
            warm=int(totals["warm"]),
            cold=int(totals["cold"]),
            by_namespace=_labels(namespaces),
            by_project=_labels(projects),
            by_sensitivity=[LabelCount(label=Sensitivity(r["level"]).label, count=int(r["n"])) for r in levels],
            top_agents=_labels(agents),
            created_per_day=per_day,
        )
