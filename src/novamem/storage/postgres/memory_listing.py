"""The memory store's unranked reads: one entry, export pages, browse and recent listings, hit counts
and per-namespace counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from psycopg import sql

from novamem.domain.entries import MemoryEntry
from novamem.domain.scope import ReadScope
from novamem.storage.base import AccessCount, BrowseFilter, NamespaceCounts
from novamem.storage.postgres.memory_table import ENTRY_COLUMNS, MemoryTable, entry_from_row
from novamem.storage.postgres.scoping import MEMBERSHIPS, read_filter, visible_filter

__all__ = ["MemoryListing"]


class MemoryListing(MemoryTable):
    """Entries by id, and listings of the scope's entries in id, creation or update order."""

    async def get(self, scope: ReadScope, entry_id: str) -> MemoryEntry | None:
        """One entry the scope may read (whatever its lifecycle state), or None."""
        where, params = read_filter(scope, with_namespaces=False)
        async with self._db.connection() as conn:
            cur = await conn.execute(
                sql.SQL("SELECT {c} FROM memory_entries e WHERE e.id = %(id)s AND {w}").format(
                    c=ENTRY_COLUMNS, w=where
                ),
                {**params, "id": entry_id},
            )
            row = await cur.fetchone()
        return entry_from_row(row) if row else None

    async def get_any(self, tenant_id: str, entry_id: str) -> MemoryEntry | None:
        """An entry of the tenant regardless of owner; used to tell 'absent' from 'not yours'."""
        async with self._db.connection() as conn:
            cur = await conn.execute(
                sql.SQL("SELECT {c} FROM memory_entries e WHERE e.id = %s AND e.tenant_id = %s").format(
                    c=ENTRY_COLUMNS
                ),
                (entry_id, tenant_id),
            )
            row = await cur.fetchone()
        return entry_from_row(row) if row else None

    async def export_page(self, scope: ReadScope, after_id: str | None, limit: int) -> list[MemoryEntry]:
        """Up to `limit` entries of the scope (any lifecycle state) with ids after `after_id`, oldest first.

        ULIDs sort by creation time, so the id is both the keyset and the age order.
        """
        where, params = read_filter(scope, with_namespaces=False)
        params.update(after=after_id, lim=limit)
        async with self._db.connection() as conn:
            cur = await conn.execute(
                sql.SQL(
                    "SELECT {c} FROM memory_entries e WHERE {w} AND (%(after)s::text IS NULL OR e.id > %(after)s)"
                    " ORDER BY e.id LIMIT %(lim)s"
                ).format(c=ENTRY_COLUMNS, w=where),
                params,
            )
            return [entry_from_row(r) for r in await cur.fetchall()]

    async def browse(self, scope: ReadScope, page: BrowseFilter, limit: int) -> list[MemoryEntry]:
        """Up to `limit` live entries of the scope matching the filter, newest first (by id: ULIDs sort by age).

        With `page.after`, the `limit` entries just newer than that id (still returned newest first).
        """
        where, params = read_filter(scope)
        vis, vparams = visible_filter(scope)
        params.update(
            vparams,
            source=page.source,
            cold=page.cold,
            sens=page.sensitivity,
            before=page.before,
            after=page.after,
            lim=limit,
        )
        order = sql.SQL("ASC" if page.after is not None else "DESC")
        async with self._db.connection() as conn:
            cur = await conn.execute(
                sql.SQL(
                    "SELECT {c} FROM memory_entries e WHERE {w} AND {v}"
                    " AND (%(source)s::text IS NULL OR e.source = %(source)s)"
                    " AND (%(cold)s::boolean IS NULL"
                    "  OR EXISTS (SELECT 1 FROM memory_cold c WHERE c.entry_id = e.id) = %(cold)s)"
                    " AND (%(sens)s::smallint IS NULL OR e.sensitivity = %(sens)s)"
                    " AND (%(before)s::text IS NULL OR e.id < %(before)s)"
                    " AND (%(after)s::text IS NULL OR e.id > %(after)s)"
                    " ORDER BY e.id {o} LIMIT %(lim)s"
                ).format(c=ENTRY_COLUMNS, w=where, v=vis, o=order),
                params,
            )
            rows = [entry_from_row(r) for r in await cur.fetchall()]
        return rows[::-1] if page.after is not None else rows

    async def access_counts(self, tenant_id: str, ids: Sequence[str]) -> dict[str, AccessCount]:
        """Hit counts of the given entries of one tenant; an entry never retrieved has no row (0 hits)."""
        if not ids:
            return {}
        async with self._db.connection() as conn:
            cur = await conn.execute(
                "SELECT a.entry_id, a.hits, a.last_accessed FROM memory_access a"
                " WHERE a.tenant_id = %(tenant)s AND a.entry_id = ANY(%(ids)s)",
                {"tenant": tenant_id, "ids": list(ids)},
            )
            rows = await cur.fetchall()
        return {r["entry_id"]: AccessCount(int(r["hits"]), r["last_accessed"]) for r in rows}

    async def recent(self, scope: ReadScope, k: int, since: datetime | None) -> list[MemoryEntry]:
        where, params = read_filter(scope)
        vis, vparams = visible_filter(scope)
        params.update(vparams, k=k, since=since)
        async with self._db.connection() as conn:
            cur = await conn.execute(
                sql.SQL(
                    "SELECT {c} FROM memory_entries e WHERE {w} AND {v}"
                    " AND (%(since)s::timestamptz IS NULL OR e.created_at >= %(since)s)"
                    " ORDER BY e.created_at DESC, e.id DESC LIMIT %(k)s"
                ).format(c=ENTRY_COLUMNS, w=where, v=vis),
                params,
            )
            return [entry_from_row(r) for r in await cur.fetchall()]

    async def namespace_counts(self, scope: ReadScope) -> NamespaceCounts:
        """Warm and cold counts per namespace over the scope's live (unexpired, active) entries; an entry
        counts in every namespace it is a member of, and once in the totals."""
        where, params = read_filter(scope)
        asked = sql.SQL("m.namespace = ANY(%(s_namespaces)s)" if scope.namespaces is not None else "true")
        async with self._db.connection() as conn:
            # one pass: the grouping set () is the totals row (namespace NULL), counted over distinct entries
            cur = await conn.execute(
                sql.SQL(
                    "SELECT m.namespace, count(DISTINCT e.id) FILTER (WHERE c.entry_id IS NULL) AS warm,"
                    " count(DISTINCT c.entry_id) AS cold"
                    " FROM memory_entries e LEFT JOIN memory_cold c ON c.entry_id = e.id"
                    " CROSS JOIN LATERAL unnest({members}) AS m(namespace) WHERE {w}"
                    " AND {asked} AND e.status = 'active' AND (e.expires_at IS NULL OR e.expires_at > now())"
                    " GROUP BY GROUPING SETS ((m.namespace), ()) ORDER BY m.namespace"
                ).format(w=where, asked=asked, members=MEMBERSHIPS),
                params,
            )
            rows = await cur.fetchall()
            last = await (await conn.execute("SELECT max(finished_at) AS at FROM decay_runs")).fetchone()
        totals = next(((int(r["warm"]), int(r["cold"])) for r in rows if r["namespace"] is None), (0, 0))
        return NamespaceCounts(
            by_namespace={r["namespace"]: (int(r["warm"]), int(r["cold"])) for r in rows if r["namespace"] is not None},
            total=totals,
            last_decay_at=last["at"] if last else None,
        )

    async def recently_updated(self, scope: ReadScope, limit: int) -> list[MemoryEntry]:
        """The scope's live (active, unexpired, visible) entries, most recently updated first."""
        where, params = read_filter(scope)
        vis, vparams = visible_filter(scope)
        params.update(vparams, lim=limit)
        async with self._db.connection() as conn:
            cur = await conn.execute(
                sql.SQL(
                    "SELECT {c} FROM memory_entries e WHERE {w} AND {v} ORDER BY e.updated_at DESC, e.id DESC"
                    " LIMIT %(lim)s"
                ).format(c=ENTRY_COLUMNS, w=where, v=vis),
                params,
            )
            return [entry_from_row(r) for r in await cur.fetchall()]
