"""`QdrantVectorIndex`: one Qdrant collection per embedding model and dimension, kept in step from
PostgreSQL through the index outbox, searched with the scope filter of `filters.py`.

The same code runs against a Qdrant server (`http(s)://…`) and against qdrant-client's embedded local
mode (`path:<dir>`, used by the tests, where no server can be installed); only the client construction
differs. Every call is bounded by the configured timeout, and every driver failure becomes `Unavailable`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import uuid
import warnings
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from qdrant_client import AsyncQdrantClient
from qdrant_client.http import models as qm
from qdrant_client.http.exceptions import ApiException

from novamem.domain.scope import ReadScope
from novamem.errors import Unavailable
from novamem.storage.base import VectorSpace
from novamem.storage.index_outbox import OutboxItem, OutboxOp, OutboxTarget
from novamem.storage.qdrant.filters import PAYLOAD_INDEXES, scope_filter
from novamem.storage.vector_index import VectorRecord, VectorSource

__all__ = ["QDRANT_UNAVAILABLE", "QdrantVectorIndex", "collection_name", "open_client", "point_id"]

log = logging.getLogger("novamem.storage.qdrant")

QDRANT_UNAVAILABLE = "vector index unavailable"
_PATH_PREFIX = "path:"
# point ids are UUIDs derived from entry ids, so the same entry always lands on the same point
_POINT_NAMESPACE = uuid.UUID("6f1c2a4e-0b7d-5d3a-9c8e-2f4b6a1d9e70")
_SCROLL_PAGE = 1000
# what `collection_name` produces; a collection named otherwise is not ours and is never dropped
_OURS = re.compile(r"novamem_[a-z0-9_]{1,48}_[0-9a-f]{8}_[0-9]+")


def point_id(entry_id: str) -> str:
    """The Qdrant point id of an entry (UUID5 of its id)."""
    return str(uuid.uuid5(_POINT_NAMESPACE, entry_id))


def collection_name(space: VectorSpace) -> str:
    """`novamem_<model slug>_<dim>`: one collection per embedding model and dimension."""
    slug = re.sub(r"[^a-z0-9]+", "_", space.model.lower()).strip("_")[:48] or "model"
    digest = uuid.uuid5(_POINT_NAMESPACE, space.model).hex[:8]
    return f"novamem_{slug}_{digest}_{space.dim}"


def open_client(url: str, api_key: str | None, timeout_s: float) -> AsyncQdrantClient:
    """A client for `url`: a Qdrant server (`http(s)://`) or the embedded local mode (`path:<dir>`)."""
    if url.startswith(_PATH_PREFIX):
        return AsyncQdrantClient(path=url.removeprefix(_PATH_PREFIX).strip())
    return AsyncQdrantClient(url=url, api_key=api_key, timeout=max(1, math.ceil(timeout_s)), check_compatibility=False)


def _payload(record: VectorRecord) -> dict[str, Any]:
    return {
        "entry_id": record.entry_id,
        "tenant_id": record.tenant_id,
        "user_id": record.user_id,
        "project_id": record.project_id,
        "scope_key": record.scope_key,
        # every membership: a keyword payload holding a list matches `MatchAny` on any of its values
        "namespace": list(record.namespaces or (record.namespace,)),
        "organization_id": record.organization_id,
        "agent_name": record.agent_name,
        "sensitivity": record.sensitivity,
        "status": record.status,
        "expires_at": record.expires_at.timestamp() if record.expires_at else None,
    }


class QdrantVectorIndex:
    """The `vector` index sink and the vector phase of search, over one Qdrant collection."""

    target = OutboxTarget.VECTOR.value

    def __init__(
        self, client: AsyncQdrantClient, space: VectorSpace, source: VectorSource, *, timeout_s: float
    ) -> None:
        self._client = client
        self._space = space
        self._source = source
        self._timeout = timeout_s
        self._ready = False

    @property
    def name(self) -> str:
        return collection_name(self._space)

    @asynccontextmanager
    async def _call(self) -> AsyncIterator[None]:
        """Bound a Qdrant call by the timeout and turn driver failures into `Unavailable`."""
        try:
            async with asyncio.timeout(self._timeout):
                yield
        except TimeoutError as exc:
            raise Unavailable(QDRANT_UNAVAILABLE) from exc
        except (ApiException, httpx.HTTPError, OSError, RuntimeError, ValueError) as exc:
            # ApiException covers HTTP errors and unreadable answers; the local mode raises
            # ValueError/RuntimeError (missing collection, closed client)
            raise Unavailable(QDRANT_UNAVAILABLE) from exc

    async def _ensure(self) -> None:
        """Create the collection and its payload indexes on first use."""
        if self._ready:
            return
        async with self._call():
            if not await self._client.collection_exists(self.name):
                await self._create()
        self._ready = True

    async def _create(self) -> None:
        await self._client.create_collection(
            self.name, vectors_config=qm.VectorParams(size=self._space.dim, distance=qm.Distance.COSINE)
        )
        with warnings.catch_warnings():
            # the local mode has no payload indexes and says so; a server builds them
            warnings.filterwarnings("ignore", message="Payload indexes have no effect", category=UserWarning)
            for key, kind in PAYLOAD_INDEXES.items():
                await self._client.create_payload_index(self.name, key, field_schema=kind)

    async def healthy(self) -> bool:
        try:
            async with self._call():
                await self._client.get_collections()
            return True
        except Unavailable:
            return False

    async def apply(self, items: Sequence[OutboxItem]) -> None:
        """Upserts read the entries' current vectors from PostgreSQL; entries without one are removed."""
        await self._ensure()
        upserts = list(dict.fromkeys(i.entry_id for i in items if i.op == OutboxOp.UPSERT.value))
        deletes = {i.entry_id for i in items if i.op == OutboxOp.DELETE.value}
        records = await self._source.vector_records(upserts) if upserts else []
        present = {r.entry_id for r in records}
        gone = sorted(deletes | (set(upserts) - present))
        if records:
            await self.put(records)
        if gone:
            async with self._call():
                await self._client.delete(
                    self.name, points_selector=qm.PointIdsList(points=[point_id(e) for e in gone]), wait=True
                )

    async def put(self, records: Sequence[VectorRecord]) -> None:
        await self._ensure()
        points = [qm.PointStruct(id=point_id(r.entry_id), vector=r.vector, payload=_payload(r)) for r in records]
        async with self._call():
            await self._client.upsert(self.name, points=points, wait=True)

    async def nearest(self, scope: ReadScope, vector: list[float], limit: int) -> list[str]:
        where = scope_filter(scope, datetime.now(UTC))
        if where is None or limit <= 0:
            return []
        await self._ensure()
        async with self._call():
            found = await self._client.query_points(
                self.name, query=vector, query_filter=where, limit=limit, with_payload=["entry_id"]
            )
        return [str(p.payload["entry_id"]) for p in found.points if p.payload and "entry_id" in p.payload]

    async def reset(self) -> None:
        async with self._call():
            if await self._client.collection_exists(self.name):
                await self._client.delete_collection(self.name)
            await self._create()
        self._ready = True

    async def drop_others(self) -> list[str]:
        """Delete the collections our naming scheme gives other embedding models or dimensions; returns
        their names, sorted. Collections named otherwise (another application's) are left alone."""
        async with self._call():
            listed = await self._client.get_collections()
            stale = sorted(c.name for c in listed.collections if _OURS.fullmatch(c.name) and c.name != self.name)
            for name in stale:
                await self._client.delete_collection(name)
        return stale

    async def count(self) -> int:
        await self._ensure()
        async with self._call():
            counted = await self._client.count(self.name, exact=True)
        return counted.count

    async def entry_ids(self) -> list[str]:
        await self._ensure()
        ids: list[str] = []
        offset: Any = None
        while True:
            async with self._call():
                points, offset = await self._client.scroll(
                    self.name, limit=_SCROLL_PAGE, offset=offset, with_payload=["entry_id"], with_vectors=False
                )
            ids.extend(str(p.payload["entry_id"]) for p in points if p.payload)
            if offset is None:
                return ids

    async def close(self) -> None:
        try:
            await self._client.close()
        except (ApiException, httpx.HTTPError, OSError, RuntimeError) as exc:
            log.warning("closing the Qdrant client failed: %s", exc)
