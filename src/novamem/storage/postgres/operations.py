"""Operations on PostgreSQL: the admin inventory, job runs, scrape-time gauges and dependency probes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from psycopg.types.json import Jsonb

from novamem.storage.operations import DecayRun, ExtractionDebt, JobRun, ProjectListing, TokenListing
from novamem.storage.postgres.database import Database, map_errors

__all__ = ["PostgresGauges", "PostgresHealthProbe", "PostgresInventory", "PostgresJobRunLog"]

# a gauge read that takes longer than this answers null rather than holding up the scrape
GAUGE_TIMEOUT = "5s"

_PROJECTS = """
SELECT p.id, p.name, p.owner_user_id, p.created_at, u.email AS owner_email,
       (SELECT count(*) FROM project_members m WHERE m.project_id = p.id) AS member_count,
       (SELECT count(*) FROM memory_entries e WHERE e.tenant_id = p.tenant_id AND e.project_id = p.id) AS entry_count
  FROM projects p
  LEFT JOIN users u ON u.id = p.owner_user_id AND u.tenant_id = p.tenant_id
 WHERE p.tenant_id = %(tenant)s
 ORDER BY p.created_at DESC, p.id DESC
"""

# no token_hash in the select list: the listing never carries it, not even internally
_TOKENS = """
SELECT t.user_id, u.email, t.label, t.scope, t.project_id, t.created_at, t.last_used_at, t.expires_at,
       t.revoked_at
  FROM user_tokens t
  JOIN users u ON u.id = t.user_id AND u.tenant_id = t.tenant_id
 WHERE t.tenant_id = %(tenant)s
 ORDER BY t.created_at DESC, t.user_id, t.label
"""

_RECORD_RUN = """
INSERT INTO job_runs (job, last_run_at, runs, result) VALUES (%(job)s, now(), 1, %(result)s)
ON CONFLICT (job) DO UPDATE SET last_run_at = now(), runs = job_runs.runs + 1, result = EXCLUDED.result
"""

_LAST_DECAY = """
SELECT started_at, finished_at, demoted, promoted, effective_days, (SELECT count(*) FROM decay_runs) AS runs
  FROM decay_runs WHERE finished_at IS NOT NULL
 ORDER BY finished_at DESC, id DESC LIMIT 1
"""

# `%(tenant)s IS NULL` reads the whole deployment
_ANY_TENANT = "(%(tenant)s::text IS NULL OR tenant_id = %(tenant)s)"


class PostgresInventory:
    """Projects and tokens of one tenant, newest first."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def projects(self, tenant_id: str) -> list[ProjectListing]:
        with map_errors():
            async with self._db.connection() as conn:
                rows = await (await conn.execute(_PROJECTS, {"tenant": tenant_id})).fetchall()
        return [
            ProjectListing(
                id=r["id"],
                name=r["name"],
                owner_user_id=r["owner_user_id"],
                owner_email=r["owner_email"],
                member_count=int(r["member_count"]),
                entry_count=int(r["entry_count"]),
                created_at=r["created_at"],
            )
            for r in rows
        ]

    async def tokens(self, tenant_id: str) -> list[TokenListing]:
        with map_errors():
            async with self._db.connection() as conn:
                rows = await (await conn.execute(_TOKENS, {"tenant": tenant_id})).fetchall()
        return [TokenListing(**r) for r in rows]


class PostgresJobRunLog:
    """`job_runs` (one row per periodic job) and the newest `decay_runs` row."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, job: str, result: dict[str, Any]) -> None:
        with map_errors():
            async with self._db.connection() as conn:
                await conn.execute(_RECORD_RUN, {"job": job, "result": Jsonb(result)})

    async def last_runs(self) -> dict[str, JobRun]:
        with map_errors():
            async with self._db.connection() as conn:
                rows = await (await conn.execute("SELECT job, last_run_at, runs, result FROM job_runs")).fetchall()
        return {r["job"]: JobRun(r["job"], r["last_run_at"], int(r["runs"]), dict(r["result"])) for r in rows}

    async def last_decay(self) -> DecayRun | None:
        with map_errors():
            async with self._db.connection() as conn:
                row = await (await conn.execute(_LAST_DECAY)).fetchone()
        if row is None:
            return None
        return DecayRun(
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            demoted=int(row["demoted"]),
            promoted=int(row["promoted"]),
            effective_days=row["effective_days"],
            runs=int(row["runs"]),
        )


class PostgresGauges:
    """Sizes counted at scrape time, over one tenant or (tenant None) the deployment."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def _one(self, query: str, tenant_id: str | None) -> dict[str, Any]:
        with map_errors():
            async with self._db.connection() as conn, conn.transaction():
                await conn.execute(f"SET LOCAL statement_timeout = '{GAUGE_TIMEOUT}'")
                row = await (await conn.execute(query, {"tenant": tenant_id})).fetchone()
        assert row is not None  # aggregates always answer one row
        return row

    async def entry_tiers(self, tenant_id: str | None) -> tuple[int, int]:
        row = await self._one(
            f"SELECT (SELECT count(*) FROM memory_entries WHERE {_ANY_TENANT}) - c.n AS warm, c.n AS cold"
            f" FROM (SELECT count(*) AS n FROM memory_cold WHERE {_ANY_TENANT}) c",
            tenant_id,
        )
        return int(row["warm"]), int(row["cold"])

    async def graph_edges(self, tenant_id: str | None) -> int:
        row = await self._one(
            f"SELECT count(*) AS n FROM memory_relations WHERE valid_to IS NULL AND {_ANY_TENANT}", tenant_id
        )
        return int(row["n"])

    async def pending_embeddings(self, tenant_id: str | None) -> int:
        row = await self._one(
            f"SELECT count(*) AS n FROM memory_entries WHERE embedded_at IS NULL AND {_ANY_TENANT}", tenant_id
        )
        return int(row["n"])

    async def pending_facts(self, tenant_id: str | None) -> int:
        """Entries owing an LLM fact extraction (migration 0017's partial index)."""
        row = await self._one(
            f"SELECT count(*) AS n FROM memory_entries WHERE facts_pending_at IS NOT NULL AND {_ANY_TENANT}",
            tenant_id,
        )
        return int(row["n"])

    async def extraction_debt(self, tenant_id: str | None) -> ExtractionDebt:
        """The backlog with its oldest debt and its failing entries (`facts_attempts` counts failed calls)."""
        row = await self._one(
            "SELECT count(*) AS n, min(facts_pending_at) AS oldest, count(*) FILTER (WHERE facts_attempts > 0)"
            f" AS failing FROM memory_entries WHERE facts_pending_at IS NOT NULL AND {_ANY_TENANT}",
            tenant_id,
        )
        return ExtractionDebt(pending=int(row["n"]), oldest_owed_at=row["oldest"], failing=int(row["failing"]))

    async def entries_per_day(self, tenant_id: str | None, since: datetime) -> dict[date, int]:
        """Stored entries by the UTC day they were created, from `since` on (days without any are absent)."""
        with map_errors():
            async with self._db.connection() as conn, conn.transaction():
                await conn.execute(f"SET LOCAL statement_timeout = '{GAUGE_TIMEOUT}'")
                cur = await conn.execute(
                    "SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n FROM memory_entries"
                    f" WHERE created_at >= %(since)s AND {_ANY_TENANT} GROUP BY day",
                    {"tenant": tenant_id, "since": since},
                )
                rows = await cur.fetchall()
        return {r["day"]: int(r["n"]) for r in rows}


class PostgresHealthProbe:
    """The warm tier answers a trivial query; the vector index answers a pgvector distance."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def ping(self) -> bool:
        return await self._db.ping()

    async def vector_ping(self) -> bool:
        """pgvector is installed and computes; vectors live in this same database."""
        with map_errors():
            async with self._db.connection() as conn:
                row = await (await conn.execute("SELECT '[1,0]'::vector <=> '[0,1]'::vector AS d")).fetchone()
        return row is not None
