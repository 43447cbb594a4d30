"""After a change of embedding model every stored row is owed a vector: one reconciler tick keeps embedding
full batches back to back (within its time budget) instead of one batch per interval.

Real embedded PostgreSQL and the local OpenAI-compatible embedding server (tests/fake_embedder.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from novamem.config import load_settings
from novamem.container import Container
from novamem.domain.scope import Caller
from novamem.services.memory.models import MemoryCreate
from tests.fake_embedder import FakeEmbeddingServer

BATCH = 2
STORED = 7


@pytest.fixture
async def container(make_database: Callable[[], str], fake_embedder: FakeEmbeddingServer) -> AsyncIterator[Container]:
    settings = load_settings(
        database_url=make_database(),
        jobs_enabled=False,
        auth_mode="none",
        **fake_embedder.settings(),
        embeddings_reconcile_batch=BATCH,
    )
    built = await Container.build(settings)
    yield built
    await built.close()


async def owed(container: Container) -> int:
    async with container.database.connection() as conn:
        cur = await conn.execute("SELECT count(*) AS n FROM memory_entries WHERE embedded_at IS NULL")
        row = await cur.fetchone()
    assert row is not None
    return int(row["n"])


async def forget_every_vector(container: Container) -> None:
    """What start-up does to rows of another model (`prepare_vector_space`)."""
    async with container.database.connection() as conn:
        await conn.execute(
            "UPDATE memory_entries SET embedded_at = NULL, embedding = NULL, embedding_model = NULL"
            " WHERE embedding_model IS NOT NULL"
        )


async def test_one_tick_embeds_every_full_batch_owed(container: Container) -> None:
    caller = Caller.public()
    for i in range(STORED):
        await container.memories.remember(caller, MemoryCreate(content=f"setup fact number {i} about host db-{i}"))
    assert await owed(container) == 0
    await forget_every_vector(container)
    assert await owed(container) == STORED
    # a single pass embeds one batch; a tick goes on while passes find full batches
    assert await container.reconciler.run_once() == BATCH
    assert await container.reconciler.catch_up() == STORED - BATCH
    assert await owed(container) == 0
    assert await container.reconciler.catch_up() == 0  # nothing owed: a tick does nothing


async def test_a_tick_stops_at_its_time_budget(container: Container) -> None:
    caller = Caller.public()
    for i in range(STORED):
        await container.memories.remember(caller, MemoryCreate(content=f"preference number {i}: tabs over spaces"))
    await forget_every_vector(container)
    # with no time left after the first pass, the rest waits for the next tick
    assert await container.reconciler.catch_up(budget_s=0) == BATCH
    assert await owed(container) == STORED - BATCH
