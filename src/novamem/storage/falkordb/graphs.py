"""The connection to FalkorDB: one graph per tenant, driver errors and slowness as `Unavailable`, and the
caller's read scope as a Cypher filter.

Every query is a constant string; user data travels only as query parameters.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Collection, Sequence
from typing import Any

from falkordb.asyncio import FalkorDB
from redis.exceptions import RedisError, ResponseError

from novamem.domain.scope import ReadScope
from novamem.errors import Unavailable

__all__ = ["GRAPH_UNAVAILABLE", "FalkorGraphs", "graph_name", "scope_clause"]

GRAPH_UNAVAILABLE = "graph store unavailable"
_EMPTY_KEY = "empty key"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
# what `graph_name` produces; a graph named otherwise is not ours and is never dropped
_OURS = re.compile(r"novamem_[A-Za-z0-9_-]{0,64}_[0-9a-f]{12}")
_INDEXES = (
    "CREATE INDEX FOR (m:Memory) ON (m.id)",
    "CREATE INDEX FOR (e:Entity) ON (e.name)",
)


def graph_name(tenant_id: str) -> str:
    """The tenant's graph: `novamem_<tenant, sanitised>_<hash>` (the hash keeps sanitised names apart)."""
    digest = hashlib.sha256(tenant_id.encode()).hexdigest()[:12]
    return f"novamem_{_UNSAFE.sub('_', tenant_id)[:64]}_{digest}"


def scope_clause(var: str, scope: ReadScope) -> tuple[str, dict[str, Any]]:
    """The Cypher condition on Memory node `var` matching `storage/postgres/scoping.read_filter` (the tenant
    is the graph): the organization, then user-global nodes of the user and/or the scope's projects.
    Namespaces are not filtered: a neighbour walk reads every namespace, as the contract says."""
    params: dict[str, Any] = {"s_user": scope.user_id}
    owners: list[str] = []
    if scope.include_user_global:
        owners.append(f"({var}.project_id IS NULL AND {var}.user_id = $s_user)")
    if scope.project_ids:
        owners.append(f"{var}.project_id IN $s_projects")
        params["s_projects"] = list(scope.project_ids)
    parts = [f"({' OR '.join(owners) or 'false'})"]
    if scope.organization_id is None:
        parts.append(f"{var}.organization_id IS NULL")
    else:
        parts.append(f"{var}.organization_id = $s_org")
        params["s_org"] = scope.organization_id
    return " AND ".join(parts), params


class FalkorGraphs:
    """A FalkorDB server holding one graph per tenant; every call bounded by `timeout_s`."""

    def __init__(self, url: str, *, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._db = FalkorDB.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        self._indexed: set[str] = set()

    async def _ensure_indexes(self, name: str) -> None:
        if name in self._indexed:
            return
        graph = self._db.select_graph(name)
        for statement in _INDEXES:
            try:
                await graph.query(statement)
            except ResponseError as exc:
                if "already indexed" not in str(exc):
                    raise
        self._indexed.add(name)

    async def run(
        self, tenant_id: str, query: str, params: dict[str, Any] | None = None, *, read_only: bool = False
    ) -> list[list[Any]]:
        """Run one query on the tenant's graph; raises `Unavailable` when FalkorDB is down or too slow."""
        name = graph_name(tenant_id)
        graph = self._db.select_graph(name)
        try:
            async with asyncio.timeout(self._timeout_s):
                if read_only:
                    result = await graph.ro_query(query, params)
                else:
                    await self._ensure_indexes(name)
                    result = await graph.query(query, params)
        except ResponseError as exc:
            if read_only and _EMPTY_KEY in str(exc):
                return []  # nothing was ever written for this tenant
            raise Unavailable(GRAPH_UNAVAILABLE, detail=f"FalkorDB: {exc}") from exc
        except (RedisError, OSError, TimeoutError) as exc:
            raise Unavailable(GRAPH_UNAVAILABLE, detail=f"FalkorDB: {type(exc).__name__}: {exc}") from exc
        return result.result_set

    async def run_many(self, tenant_id: str, steps: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Run write queries in order on the tenant's graph (each one idempotent)."""
        for query, params in steps:
            await self.run(tenant_id, query, params)

    async def drop(self, tenant_id: str) -> None:
        """Delete the tenant's graph (absent: nothing to do)."""
        name = graph_name(tenant_id)
        try:
            async with asyncio.timeout(self._timeout_s):
                if name in await self._db.list_graphs():
                    await self._db.select_graph(name).delete()
        except (RedisError, OSError, TimeoutError) as exc:
            raise Unavailable(GRAPH_UNAVAILABLE, detail=f"FalkorDB: {type(exc).__name__}: {exc}") from exc
        self._indexed.discard(name)

    async def drop_others(self, tenant_ids: Collection[str]) -> list[str]:
        """Delete every tenant graph named by our scheme except those of `tenant_ids`; returns the names
        dropped, sorted. Graphs named otherwise (another application's) are left alone."""
        keep = {graph_name(t) for t in tenant_ids}
        try:
            async with asyncio.timeout(self._timeout_s):
                stale = sorted(n for n in await self._db.list_graphs() if _OURS.fullmatch(n) and n not in keep)
                for name in stale:
                    await self._db.select_graph(name).delete()
        except (RedisError, OSError, TimeoutError) as exc:
            raise Unavailable(GRAPH_UNAVAILABLE, detail=f"FalkorDB: {type(exc).__name__}: {exc}") from exc
        self._indexed.difference_update(stale)
        return stale

    async def healthy(self) -> bool:
        """Whether FalkorDB answers now."""
        try:
            async with asyncio.timeout(self._timeout_s):
                await self._db.list_graphs()
        except (RedisError, OSError, TimeoutError):
            return False
        return True

    async def close(self) -> None:
        """Close the connection pool."""
        await self._db.aclose()
