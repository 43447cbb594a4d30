"""The PostgreSQL connection pool, driver-error mapping and the migration runner."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from importlib import resources

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from novamem.errors import Conflict, InvalidInput, NovamemError, Unavailable

__all__ = ["Database", "map_errors", "migrate"]

log = logging.getLogger("novamem.storage")

# Arbitrary constant key: every replica that migrates takes this lock first.
_MIGRATION_LOCK = 7_778_001
DB_UNAVAILABLE = "database unavailable"


@contextmanager
def map_errors() -> Iterator[None]:
    """Translate driver exceptions into novamem errors; nothing above storage sees psycopg."""
    try:
        yield
    except NovamemError:
        raise
    except PoolTimeout as exc:
        raise Unavailable(DB_UNAVAILABLE) from exc
    except psycopg.errors.UniqueViolation as exc:
        raise Conflict("an identical memory already exists in this scope") from exc
    except psycopg.DataError as exc:
        # input that passed validation but that PostgreSQL still cannot store or compare
        raise InvalidInput(
            "invalid request body", issues=[{"path": [], "message": "a value cannot be stored", "code": "unstorable"}]
        ) from exc
    except psycopg.errors.QueryCanceled as exc:
        raise Unavailable("database query timed out") from exc
    except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
        raise Unavailable(DB_UNAVAILABLE) from exc


class Database:
    """An async pool over one PostgreSQL; connections are checked before use so outages heal."""

    def __init__(self, url: str, *, max_size: int, min_size: int = 1, timeout: float = 5.0) -> None:
        self._pool = AsyncConnectionPool(
            url,
            min_size=min(min_size, max_size),
            max_size=max_size,
            timeout=timeout,
            open=False,
            check=AsyncConnectionPool.check_connection,
            kwargs={
                "autocommit": True,
                "row_factory": dict_row,
                "prepare_threshold": None,
                # filtered HNSW scans keep walking the graph until LIMIT rows pass the filter
                "options": "-c hnsw.iterative_scan=relaxed_order -c hnsw.ef_search=100",
            },
            name="novamem",
        )
        #: connections handed out so far; a cheap, always-on count of round-trip groups
        self.checkouts = 0

    async def open(self) -> None:
        await self._pool.open(wait=False)

    async def close(self) -> None:
        await self._pool.close()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[dict[str, object]]]:
        """A pooled connection in autocommit mode; use `conn.transaction()` for atomic work."""
        with map_errors():
            async with self._pool.connection() as conn:
                self.checkouts += 1
                yield conn

    async def ping(self) -> bool:
        try:
            async with self.connection() as conn:
                await conn.execute("SELECT 1")
            return True
        except Unavailable:
            return False


def _migration_files() -> list[tuple[int, str, str]]:
    folder = resources.files("novamem.storage.postgres") / "migrations"
    found = []
    for item in folder.iterdir():
        if item.name.endswith(".sql"):
            version = int(item.name.split("_", 1)[0])
            found.append((version, item.name, item.read_text(encoding="utf-8")))
    return sorted(found)


def migrate(url: str) -> list[str]:
    """Apply pending forward-only migrations under an advisory lock; returns the names applied.

    Two replicas starting together serialise on the lock; the second finds nothing left to do.
    """
    applied: list[str] = []
    with map_errors(), psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations").fetchall()}
            for version, name, body in _migration_files():
                if version in done:
                    continue
                with conn.transaction():
                    conn.execute(body)  # type: ignore[arg-type]
                    conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name))
                log.info("applied migration %s", name)
                applied.append(name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))
    return applied
