"""Deployment-wide lifecycle bookkeeping: one `decay_runs` row per decay pass."""

from __future__ import annotations

from datetime import datetime

from novamem.storage.postgres.database import Database, map_errors

__all__ = ["PostgresDecayLog"]


class PostgresDecayLog:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, started_at: datetime, *, demoted: int, promoted: int, effective_days: float | None) -> None:
        with map_errors():
            async with self._db.connection() as conn:
                await conn.execute(
                    "INSERT INTO decay_runs (started_at, finished_at, demoted, promoted, effective_days)"
                    " VALUES (%(started)s, now(), %(demoted)s, %(promoted)s, %(days)s)",
                    {"started": started_at, "demoted": demoted, "promoted": promoted, "days": effective_days},
                )
