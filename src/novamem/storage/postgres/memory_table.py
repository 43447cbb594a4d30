"""The `memory_entries` table as the memory store's modules share it: the columns an entry is read with,
a row as an entry, vectors as SQL text, and the active embedding model's vector space (its HNSW index).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection, sql

from novamem.domain.entries import LifecycleStatus, MemoryEntry
from novamem.domain.scope import WriteTarget
from novamem.storage.base import VectorSpace
from novamem.storage.postgres.database import Database
from novamem.storage.postgres.planner_stats import PlannerStatistics
from novamem.storage.postgres.scoping import memberships

__all__ = [
    "DEFAULT_DECAY_DAYS",
    "ENTRY_COLUMNS",
    "MemoryTable",
    "embedded_by",
    "entry_from_row",
    "vector_column",
    "vector_text",
]

# the decay base when none is given (NOVAMEM_DECAY_DAYS' default)
DEFAULT_DECAY_DAYS = 7.0

ENTRY_COLUMNS = sql.SQL(
    "e.id, e.tenant_id, e.user_id, e.project_id, e.namespace, e.content, e.source, e.agent_name,"
    " e.metadata, EXISTS (SELECT 1 FROM memory_cold c WHERE c.entry_id = e.id) AS cold, e.source_type,"
    " e.captured_from, e.confidence, e.created_at, e.updated_at,"
    " e.embedded_at, e.status, e.expires_at, e.content_hash, e.organization_id, e.occurred_at"
)


def vector_text(vec: Sequence[float]) -> str:
    """A vector as pgvector's text input."""
    return "[" + ",".join(f"{x:.7g}" for x in vec) + "]"


def vector_column(space: VectorSpace | None, alias: str | None) -> sql.Composable:
    """The `embedding` column (of row `alias`, or unqualified) at the space's dimension: the HNSW index's
    expression. Without a space the dimension is 0, which no stored vector has."""
    column = sql.Identifier(alias, "embedding") if alias else sql.Identifier("embedding")
    return sql.SQL("({c}::vector({d}))").format(c=column, d=sql.Literal(space.dim if space else 0))


def embedded_by(space: VectorSpace | None, alias: str | None) -> sql.Composable:
    """The row (`alias`, or unqualified) was embedded by the space's model: the HNSW index's predicate.
    Without a space no row matches."""
    column = sql.Identifier(alias, "embedding_model") if alias else sql.Identifier("embedding_model")
    return sql.SQL("{c} = {m}").format(c=column, m=sql.Literal(space.model if space else ""))


# an entry's status by its column value: a dict lookup costs a tenth of calling the enum, once per row read
_STATUS_BY_VALUE = {status.value: status for status in LifecycleStatus}


def entry_from_row(row: dict[str, Any]) -> MemoryEntry:
    """An entry from a row selected with `ENTRY_COLUMNS`."""
    return MemoryEntry(
        id=row["id"],
        tenant_id=row["tenant_id"],
        user_id=row["user_id"],
        project_id=row["project_id"],
        namespace=row["namespace"],
        content=row["content"],
        source=row["source"],
        agent_name=row["agent_name"],
        metadata=row["metadata"] or {},
        cold=row["cold"],
        source_type=row["source_type"],
        captured_from=row["captured_from"],
        confidence=row["confidence"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        embedded=row["embedded_at"] is not None,
        status=_STATUS_BY_VALUE[row["status"]],
        expires_at=row["expires_at"],
        organization_id=row["organization_id"],
        occurred_at=row.get("occurred_at"),
    )


Conn = AsyncConnection[dict[str, Any]]

# A shelf with fewer rows than this finds nearest rows exactly, by sorting them by distance (about 4 ms at
# this size); a larger one through the HNSW index (`MemoryTable._shelf_plan`).
EXACT_SHELF_ROWS = 1000


def shelf_namespace(alias: str, *, members: bool, indexed: bool = True) -> sql.Composed:
    """Rows of the shelf's namespace `%(ns)s`: its home rows, or with `members` every member of it: as a
    containment in the memberships the index serves (`indexed`, for a read that finds the shelf's rows), or
    home first for a read that tests the rows it reaches (the HNSW walk; see `read_filter`)."""
    a = sql.Identifier(alias)
    if members and indexed:
        return sql.SQL("{m} @> ARRAY[%(ns)s]::text[]").format(m=memberships(alias))
    if members:
        return sql.SQL("({a}.namespace = %(ns)s OR {a}.namespaces @> ARRAY[%(ns)s]::text[])").format(a=a)
    return sql.SQL("{a}.namespace = %(ns)s").format(a=a)


class MemoryTable:
    """The database and the active vector space (None without an embedder), and SQL for the vector column.

    The memory store's parts (writes, retrieval, listing) derive from this class.
    """

    def __init__(
        self,
        db: Database,
        space: VectorSpace | None,
        *,
        decay_days: float = DEFAULT_DECAY_DAYS,
        extract_facts: bool = False,
    ) -> None:
        self._db = db
        self._space = space
        # NOVAMEM_EXTRACTION_ENABLED: a write of a non-fact entry records its extraction debt in its statement
        self._extract_facts = extract_facts
        # the decay base a search hit's promotion is judged with (entries without their own base)
        self._decay_days = decay_days
        # rows written by this process, and the refresh of the table's statistics they call for
        self._planner_stats = PlannerStatistics(db)

    async def _shelf_plan(self, conn: Conn, target: WriteTarget, namespace: str) -> bool:
        """How the transaction's next nearest-row read in a shelf (one owner's namespace) is planned: exactly
        (True) when fewer than EXACT_SHELF_ROWS rows have it as their home, read through the scope indexes
        and sorted by distance; else through the HNSW index, the one plan that reads rows in distance
        order, so ruling out sorting makes the planner take it whatever its statistics say. Undone by
        `_shelf_plan_done`. Home rows are counted, through the scope index (under a millisecond at the cap):
        memberships of other namespaces are few, and counting them too made the planner read the wide rows
        of other namespaces in between (8-50 ms).

        Not left to the planner: its statistics lag a namespace that is filling up, and even when fresh it
        rates sorting a few thousand rows by distance as cheaper than the HNSW walk (each distance reads a
        row of 1.5 kB), while a walk filtered to a small or new namespace of a large owner visits up to
        `hnsw.max_scan_tuples` rows before it gives up (90 ms at 100,000 memories).
        """
        exact = await self._small_shelf(conn, target, namespace)
        if not exact:
            await conn.execute("SET LOCAL enable_sort = off")
        return exact

    async def _small_shelf(self, conn: Conn, target: WriteTarget, namespace: str) -> bool:
        """Whether fewer than EXACT_SHELF_ROWS rows have `namespace` of the target's shelf as their home.

        Counted on the columns of the scope index alone (a user's globals: user and no project; a project:
        the project), so the count reads the index and not the rows; rows of the same owner in another
        organization count too, which only matters to the choice of plan.
        """
        owner = (
            "s.user_id = %(c_owner)s AND s.project_id IS NULL"
            if target.project_id is None
            else "s.project_id = %(c_owner)s"
        )
        params = {
            "c_tenant": target.tenant_id,
            "c_owner": target.user_id if target.project_id is None else target.project_id,
            "ns": namespace,
            "cap": EXACT_SHELF_ROWS,
        }
        cur = await conn.execute(
            sql.SQL(
                "SELECT count(*) AS n FROM (SELECT 1 FROM memory_entries s WHERE s.tenant_id = %(c_tenant)s"
                " AND {o} AND s.namespace = %(ns)s LIMIT %(cap)s) c"
            ).format(o=sql.SQL(owner)),
            params,
        )
        row = await cur.fetchone()
        return row is not None and int(row["n"]) < EXACT_SHELF_ROWS

    async def _shelf_plan_done(self, conn: Conn, exact: bool) -> None:
        if not exact:
            await conn.execute("SET LOCAL enable_sort = on")

    async def settle(self) -> None:
        """Wait for a refresh of the planner's statistics that writes started (see `planner_stats`)."""
        await self._planner_stats.settled()

    def _vec(self, alias: str | None = "e") -> sql.Composable:
        assert self._space is not None
        return vector_column(self._space, alias)

    def _qvec(self, param: str = "qvec") -> sql.Composable:
        assert self._space is not None
        return sql.SQL("%({p})s::vector({d})").format(p=sql.SQL(param), d=sql.Literal(self._space.dim))

    def _model_match(self, alias: str | None = "e") -> sql.Composable:
        assert self._space is not None
        return embedded_by(self._space, alias)

    async def prepare_vector_space(self) -> int:
        """Ensure the HNSW index for the active model and queue re-embedding of other models' rows.

        Returns how many rows were queued because their vectors came from a different model.
        """
        if self._space is None:
            return 0
        digest = hashlib.sha1(f"{self._space.model}:{self._space.dim}".encode()).hexdigest()[:12]
        index = sql.Identifier(f"memory_entries_hnsw_{digest}")
        async with self._db.connection() as conn:
            await conn.execute(
                sql.SQL(
                    "CREATE INDEX IF NOT EXISTS {i} ON memory_entries USING hnsw ({v} vector_cosine_ops) WHERE {m}"
                ).format(i=index, v=self._vec(None), m=self._model_match(None))
            )
            cur = await conn.execute(
                sql.SQL(
                    "UPDATE memory_entries e SET embedded_at = NULL, embedding = NULL, embedding_model = NULL"
                    " WHERE e.embedding_model IS NOT NULL AND NOT ({m})"
                ).format(m=self._model_match())
            )
            return cur.rowcount or 0
