"""Deployment-wide leadership through a PostgreSQL session advisory lock."""

from __future__ import annotations

import psycopg

from novamem.storage.postgres.database import map_errors

__all__ = ["PostgresLeaderLock"]

_JOBS_LOCK = 7_778_002


class PostgresLeaderLock:
    """Held by at most one replica at a time; lost when that replica's connection dies."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._conn: psycopg.AsyncConnection[tuple[object, ...]] | None = None

    async def acquire(self) -> bool:
        """True if this process holds (or just took) the lock."""
        with map_errors():
            if self._conn is not None and not self._conn.closed:
                try:
                    await self._conn.execute("SELECT 1")
                    return True
                except psycopg.Error:
                    await self.release()
            conn = await psycopg.AsyncConnection.connect(self._url, autocommit=True)
            row = await (await conn.execute("SELECT pg_try_advisory_lock(%s)", (_JOBS_LOCK,))).fetchone()
            if row and row[0]:
                self._conn = conn
                return True
            await conn.close()
            return False

    async def release(self) -> None:
        if self._conn is not None:
            try:
                await self._conn.close()
            finally:
                self._conn = None
