"""Decay, deployment-wide: the bulk demotion of idle warm entries, the promotions counted since the last
pass, and one `decay_runs` row per pass.

The lifespan rule is SQL shared with the hit counter (`memory_writes.touch`, which promotes): an entry
lives `base × log2(hits + 1)` days after its last use, where `hits` counts its write as one (so
`memory_access.hits`, which counts retrievals only, is off by one) and `base` is the entry's own
`metadata.retention.baseEffectiveDays` when that is a positive number, else the pass's base.
"""

from __future__ import annotations

from datetime import datetime

from psycopg import sql

from novamem.storage.postgres.database import Database, map_errors

__all__ = ["PostgresDecayLog", "idle_seconds", "lifespan_seconds"]

#: the largest per-entry base honoured, in days (as `effectiveDays` of `POST /v1/decay`); more is clamped
_MAX_BASE_DAYS = 3650

#: the smallest per-entry base honoured, in days (a tenth of a second): less is raised to it
_MIN_BASE_DAYS = "0.000001"


def _entry_base(entry: str) -> sql.Composable:
    """The entry's own base in days, or NULL when absent or not a positive JSON number.

    CASE fixes the evaluation order, so the cast to numeric only ever sees a JSON number's text (which
    numeric always accepts), and the value is bounded before it becomes a float (no overflow either way);
    any other shape (a string, an object, `retention` not an object) gives NULL and never fails the pass.
    """
    retention = sql.SQL("{e}.metadata -> 'retention'").format(e=sql.Identifier(entry))
    text = sql.SQL("(({r} ->> 'baseEffectiveDays')::numeric)").format(r=retention)
    return sql.SQL(
        "(CASE WHEN jsonb_typeof({r} -> 'baseEffectiveDays') = 'number' THEN"
        " (CASE WHEN {t} > 0 THEN greatest(least({t}, {cap}), {low}::numeric)::float8 END) END)"
    ).format(r=retention, t=text, cap=sql.Literal(_MAX_BASE_DAYS), low=sql.Literal(_MIN_BASE_DAYS))


def lifespan_seconds(
    entry: str, access: str, base_param: str, *, extra_hits: int | sql.Composable = 0
) -> sql.Composable:
    """Seconds an entry stays warm after its last use: `base × log2(hits + 1) × 86400`.

    `hits` = the retrievals in `access` (absent: none) + 1 for the write + `extra_hits`; promotion asks
    with the hits being counted now (the lifespan they would give): a number, or an SQL expression of
    the row (a batch of hits counts a different number on each entry).
    """
    n = sql.Literal(2 + extra_hits) if isinstance(extra_hits, int) else sql.SQL("(2 + {x})").format(x=extra_hits)
    return sql.SQL(
        "(coalesce({b}, %({p})s::float8) * 86400.0 * (ln((coalesce({a}.hits, 0) + {n})::float8) / ln(2.0::float8)))"
    ).format(b=_entry_base(entry), p=sql.SQL(base_param), a=sql.Identifier(access), n=n)


def idle_seconds(entry: str, access: str, now_param: str) -> sql.Composable:
    """Seconds since the entry was last used (retrieved, or written when never retrieved), as of `now`."""
    return sql.SQL("extract(epoch FROM (%({n})s::timestamptz - coalesce({a}.last_accessed, {e}.created_at)))").format(
        n=sql.SQL(now_param), a=sql.Identifier(access), e=sql.Identifier(entry)
    )


# a demotion is one small row in `memory_cold`: the memory row and its indexes are not touched (a hit counted
# while the statement runs is not seen by it; such an entry goes cold and its next hit brings it back)
_DEMOTE = sql.SQL(
    "INSERT INTO memory_cold (entry_id, tenant_id, since)"
    " SELECT x.id, x.tenant_id, %(now)s FROM memory_entries x LEFT JOIN memory_access a ON a.entry_id = x.id"
    " WHERE x.status = 'active' AND NOT EXISTS (SELECT 1 FROM memory_cold c WHERE c.entry_id = x.id)"
    " AND {idle} > {life}"
    " ON CONFLICT (entry_id) DO NOTHING"
).format(idle=idle_seconds("x", "a", "now"), life=lifespan_seconds("x", "a", "base"))

# the promotions counted since the last pass are taken (the row locked, so two passes never both report
# them) and subtracted, never reset: one counted meanwhile stays for the next pass
_RECORD = (
    "WITH seen AS (SELECT pending FROM decay_promotions FOR UPDATE),"
    " taken AS (UPDATE decay_promotions SET pending = decay_promotions.pending - (SELECT pending FROM seen))"
    " INSERT INTO decay_runs (started_at, finished_at, demoted, promoted, effective_days)"
    " SELECT %(started)s, %(finished)s, %(demoted)s, coalesce((SELECT pending FROM seen), 0), %(days)s"
    " RETURNING promoted"
)


class PostgresDecayLog:
    """The decay pass's statements: demotion over every tenant (server work) and the run's record."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def demote_idle(self, now: datetime, *, base_days: float) -> int:
        """Turn every warm active entry idle past its lifespan as of `now` cold, in one statement; returns
        how many. `base_days` applies to entries without a valid `metadata.retention.baseEffectiveDays`.
        """
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(_DEMOTE, {"now": now, "base": base_days})
                return max(cur.rowcount, 0)

    async def record(
        self, started_at: datetime, finished_at: datetime, *, demoted: int, effective_days: float | None
    ) -> int:
        """Write the pass's `decay_runs` row with the promotions counted since the last pass; returns those."""
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    _RECORD,
                    {"started": started_at, "finished": finished_at, "demoted": demoted, "days": effective_days},
                )
                row = await cur.fetchone()
        return int(row["promoted"]) if row else 0
