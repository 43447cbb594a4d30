"""Qdrant holds every namespace an entry is a member of: a duplicate stored under another namespace is a
vector candidate there too, and stops being one when it leaves that namespace."""

from __future__ import annotations

from novamem.container import Container
from novamem.domain.scope import Caller, ReadScope
from novamem.services.memory.index_sync import IndexSync
from novamem.services.memory.models import ForgetRequest, MemoryCreate
from novamem.storage.qdrant.vector_index import QdrantVectorIndex

ALICE = Caller(tenant_id="acme", user_id="u1")
FACT = "The payroll export runs every Friday at 18:00 from the finance server"


async def nearest_in(c: Container, namespace: str) -> list[str]:
    assert isinstance(c.vector_index, QdrantVectorIndex)
    vector = await c.embedder.query(FACT)
    assert vector is not None
    scope = ReadScope(tenant_id=ALICE.tenant_id, user_id=ALICE.user_id, namespaces=(namespace,))
    return await c.vector_index.nearest(scope, vector, 10)


async def test_a_duplicate_joins_the_namespace_in_qdrant_and_leaves_it(qdrant_container: Container) -> None:
    c = qdrant_container
    sync = c.index_sync
    assert isinstance(sync, IndexSync)
    first = await c.memories.remember(ALICE, MemoryCreate(content=FACT, namespace="conv-a"))
    await sync.drain()
    assert first.id and await nearest_in(c, "conv-b") == []
    again = await c.memories.remember(ALICE, MemoryCreate(content=FACT, namespace="conv-b"))
    assert again.id == first.id and again.deduplicated
    assert await sync.drain() == 1  # the membership change is queued like any other indexed change
    assert await nearest_in(c, "conv-a") == [first.id]
    assert await nearest_in(c, "conv-b") == [first.id]
    left = await c.memories.forget(ALICE, ForgetRequest(id=first.id, namespace="conv-a"))
    assert left.deleted
    await sync.drain()
    assert await nearest_in(c, "conv-a") == []
    assert await nearest_in(c, "conv-b") == [first.id]
