"""How many rows a read scope holds, and how many the table holds: counted now and then and kept a while,
because a search's plans depend on them.

BM25 needs the scope's size (N in IDF). And a scope that is a small share of a large table is searched
differently from a broad one: pgvector's HNSW walk and a read of an entity's postings both visit rows of
the whole table and filter them to the scope afterwards, so in a narrow scope they read many rows for each
one they keep, while reading the scope's own rows costs only as many rows as it holds. `narrow` tells the
two apart. `owner_share` tells whether matching a scope's owners in the terms index pays (`owner_filter`).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from psycopg import AsyncConnection, sql

from novamem.domain.scope import ReadScope
from novamem.storage.postgres.scoping import owner_keys, read_filter

__all__ = ["SCOPE_COUNT_CAP", "ScopeSizes"]

# a scope is counted up to this many rows (an index read; larger scopes are "at least this")
SCOPE_COUNT_CAP = 10000
# IDF barely moves when a scope grows by a few rows, and neither does the choice of plan
SCOPE_SIZE_TTL_S = 30.0
SCOPE_SIZE_CACHE_ENTRIES = 4096
TABLE_SIZE_TTL_S = 60.0
# each owner's share of the table, as the last full analysis of the terms index found it (migration 0026:
# its first column is each row's owner, whose most common elements the statistics list with frequencies)
_OWNER_SHARES = (
    "SELECT s.most_common_elems::text::text[] AS owners, s.most_common_elem_freqs AS shares"
    " FROM pg_stats s JOIN pg_attribute a ON a.attrelid = 'memory_entries_terms'::regclass AND a.attnum = 1"
    " WHERE s.schemaname = current_schema() AND s.tablename = 'memory_entries_terms' AND s.attname = a.attname"
)

Conn = AsyncConnection[dict[str, Any]]


def scope_key(scope: ReadScope) -> str:
    """The key of a scope's count: the values of its read filter (the rows it counts)."""
    return repr(read_filter(scope)[1])


class ScopeSizes:
    """Row counts of read scopes (capped at SCOPE_COUNT_CAP) and the table's row estimate, each kept for a
    while; one per process, shared by the statements that plan with them."""

    def __init__(self) -> None:
        self._scopes: dict[str, tuple[int, float]] = {}
        self._table: tuple[int, float] | None = None
        self._owners: tuple[dict[str, float], float] | None = None

    def known(self, scope: ReadScope) -> int | None:
        """The scope's recent count, if there is one."""
        found = self._scopes.get(scope_key(scope))
        return found[0] if found is not None and found[1] > time.monotonic() else None

    def remember(self, scope: ReadScope, rows: int) -> None:
        """Keep a count made elsewhere (the keyword statement counts N as it runs)."""
        if len(self._scopes) > SCOPE_SIZE_CACHE_ENTRIES:
            self._scopes.clear()
        self._scopes[scope_key(scope)] = (rows, time.monotonic() + SCOPE_SIZE_TTL_S)

    async def scope_rows(self, conn: Conn, scope: ReadScope) -> int:
        """The rows the scope may read whatever their lifecycle state, up to SCOPE_COUNT_CAP."""
        known = self.known(scope)
        if known is not None:
            return known
        where, params = read_filter(scope)
        params["ncap"] = SCOPE_COUNT_CAP
        cur = await conn.execute(
            sql.SQL("SELECT count(*) AS n FROM (SELECT 1 FROM memory_entries e WHERE {w} LIMIT %(ncap)s) c").format(
                w=where
            ),
            params,
        )
        row = await cur.fetchone()
        rows = int(row["n"]) if row is not None else 0
        self.remember(scope, rows)
        return rows

    async def table_rows(self, conn: Conn) -> int:
        """The planner's estimate of the rows in `memory_entries` (0 before the table was first analysed)."""
        if self._table is not None and self._table[1] > time.monotonic():
            return self._table[0]
        cur = await conn.execute("SELECT reltuples::bigint AS n FROM pg_class WHERE oid = 'memory_entries'::regclass")
        row = await cur.fetchone()
        rows = max(int(row["n"]), 0) if row is not None else 0
        self._table = (rows, time.monotonic() + TABLE_SIZE_TTL_S)
        return rows

    async def narrow(self, conn: Conn, scope: ReadScope, factor: float, *, within_owners: bool = False) -> bool:
        """Whether the scope is narrow for a read that costs about `factor` scope rows for each share of
        the rows it filters away: n rows of t cost such a read about factor * t / n, and reading the
        scope's rows about n, so the scope is narrow when n * n < factor * t. t is the table's rows, or with
        `within_owners` the rows of the scope's owners whatever their namespace (for a read that only ever
        reads those owners' rows; the table's when they reach the count's cap). A scope at the cap never is.
        """
        rows = await self.scope_rows(conn, scope)
        if rows >= SCOPE_COUNT_CAP:
            return False
        total = 0
        if within_owners:
            total = rows if scope.namespaces is None else await self.scope_rows(conn, replace(scope, namespaces=None))
        if not within_owners or total >= SCOPE_COUNT_CAP:
            total = await self.table_rows(conn)
        return rows * rows < factor * total

    async def owner_share(self, conn: Conn, scope: ReadScope) -> float:
        """The share of the table that the scope's owners hold, from the planner's statistics (kept
        TABLE_SIZE_TTL_S): an owner the statistics do not list is rarer than any they do and counts 0, as
        does every owner before the first analysis."""
        if self._owners is None or self._owners[1] <= time.monotonic():
            cur = await conn.execute(_OWNER_SHARES)
            row = await cur.fetchone()
            shares: dict[str, float] = {}
            if row is not None and row["owners"] is not None and row["shares"] is not None:
                # the frequencies list one per element, then the lowest, the highest and the null share
                shares = dict(zip(row["owners"], (float(f) for f in row["shares"]), strict=False))
            self._owners = (shares, time.monotonic() + TABLE_SIZE_TTL_S)
        shares = self._owners[0]
        return sum(shares.get(key, 0.0) for key in owner_keys(scope))
