"""PostgreSQL as the source of the vector index: each entry's vector under the active model, with the
columns a scope filter reads, by id (outbox upserts) or in id order (rebuilds)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import sql

from novamem.storage.base import VectorSpace
from novamem.storage.postgres.database import Database, map_errors
from novamem.storage.postgres.scoping import MEMBERSHIPS
from novamem.storage.vector_index import VectorRecord

__all__ = ["PostgresVectorSource"]

_COLUMNS = sql.SQL(
    "e.id, e.tenant_id, e.user_id, e.project_id, e.scope_key, e.namespace, e.organization_id, e.agent_name,"
    " e.sensitivity, e.status, e.expires_at, {m} AS namespaces, e.embedding::real[] AS vec"
).format(m=MEMBERSHIPS)


def _record(row: dict[str, Any]) -> VectorRecord:
    return VectorRecord(
        entry_id=row["id"],
        tenant_id=row["tenant_id"],
        user_id=row["user_id"],
        project_id=row["project_id"],
        scope_key=row["scope_key"],
        namespace=row["namespace"],
        organization_id=row["organization_id"],
        agent_name=row["agent_name"],
        sensitivity=int(row["sensitivity"]),
        status=row["status"],
        expires_at=row["expires_at"],
        vector=[float(x) for x in row["vec"]],
        namespaces=tuple(row["namespaces"]),
    )


class PostgresVectorSource:
    """Reads vectors of the active model (server work across tenants: never a caller's read)."""

    def __init__(self, db: Database, space: VectorSpace) -> None:
        self._db = db
        self._space = space

    def _embedded(self) -> sql.Composable:
        return sql.SQL("e.embedded_at IS NOT NULL AND e.embedding_model = {m}").format(m=sql.Literal(self._space.model))

    async def vector_records(self, entry_ids: Sequence[str]) -> list[VectorRecord]:
        if not entry_ids:
            return []
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    sql.SQL("SELECT {c} FROM memory_entries e WHERE e.id = ANY(%s) AND {m}").format(
                        c=_COLUMNS, m=self._embedded()
                    ),
                    (list(entry_ids),),
                )
                rows = await cur.fetchall()
        return [_record(r) for r in rows]

    async def vector_page(self, after_id: str | None, limit: int) -> list[VectorRecord]:
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    sql.SQL(
                        "SELECT {c} FROM memory_entries e WHERE {m} AND (%(after)s::text IS NULL OR e.id > %(after)s)"
                        " ORDER BY e.id LIMIT %(lim)s"
                    ).format(c=_COLUMNS, m=self._embedded()),
                    {"after": after_id, "lim": limit},
                )
                rows = await cur.fetchall()
        return [_record(r) for r in rows]

    async def count_vectors(self) -> int:
        with map_errors():
            async with self._db.connection() as conn:
                cur = await conn.execute(
                    sql.SQL("SELECT count(*) AS n FROM memory_entries e WHERE {m}").format(m=self._embedded())
                )
                row = await cur.fetchone()
        return int(row["n"]) if row else 0
