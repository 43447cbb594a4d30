"""Search hits written in batches (`HitBuffer`) against the real embedded PostgreSQL: one write per tenant per
window, a count per id, nothing lost or counted twice, pending hits written at close, failures only logged."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from novamem.config import load_settings
from novamem.container import Container
from novamem.domain.scope import Caller
from novamem.services.memory.hits import HitBuffer
from novamem.services.memory.models import MemoryCreate, SearchRequest
from novamem.services.memory.recall import RecallService
from novamem.storage.postgres.database import Database
from novamem.storage.postgres.memories import PostgresMemoryStore

ALICE = Caller(tenant_id="acme", user_id="alice")
MALLORY = Caller(tenant_id="globex", user_id="alice")  # same user id, other tenant
PET = "Caroline's greyhound Biscuit loves the beach"
T0 = datetime.now(UTC).replace(microsecond=0)


def settings_for(url: str) -> Any:
    return load_settings(database_url=url, jobs_enabled=False, auth_mode="none", embeddings_provider="none")


@pytest.fixture
async def container(make_database: Callable[[], str]) -> AsyncIterator[Container]:
    built = await Container.build(settings_for(make_database()))
    yield built
    await built.close()


def recall_for(container: Container, window: float) -> RecallService:
    """A recall service over the container's store whose hits wait `window` seconds."""
    return RecallService(container.store, container.embedder, container.access, min_vector_score=0.0, hit_window=window)


async def remember(container: Container, caller: Caller, content: str) -> str:
    created = await container.memories.remember(caller, MemoryCreate(content=content))
    assert created.id
    return created.id


async def search(recall: RecallService, caller: Caller, query: str = "greyhound Biscuit") -> list[str]:
    return [r.id for r in (await recall.search(caller, SearchRequest(query=query))).results]


async def hits(container: Container) -> dict[str, int]:
    async with container.database.connection() as conn:
        cur = await conn.execute("SELECT entry_id, hits FROM memory_access")
        return {row["entry_id"]: row["hits"] for row in await cur.fetchall()}


async def flushed(recall: RecallService) -> None:
    """Wait for the recall service's hit flusher to finish."""
    await asyncio.wait_for(asyncio.gather(*list(recall._background)), timeout=30)
    assert not recall._background


async def batch_taken(buffer: HitBuffer) -> None:
    """Wait for the window to end: the pending batch is taken and its write starts."""
    while buffer.pending:
        await asyncio.sleep(0.001)


async def test_three_searches_in_one_window_count_three_hits_in_one_write(container: Container) -> None:
    pet = await remember(container, ALICE, PET)
    recall = recall_for(container, window=2.0)
    for _ in range(3):
        assert await search(recall, ALICE) == [pet]
    assert len(recall._background) == 1  # one flusher for the window, not one task per search
    assert await hits(container) == {}  # still waiting for the window
    before = container.database.checkouts
    await flushed(recall)
    assert container.database.checkouts - before == 1  # one write for the three searches
    assert await hits(container) == {pet: 3}


async def test_each_tenant_s_hits_are_written_separately(container: Container) -> None:
    acme = await remember(container, ALICE, PET)
    globex = await remember(container, MALLORY, PET)
    recall = recall_for(container, window=60)
    assert await search(recall, ALICE) == [acme]
    assert await search(recall, MALLORY) == [globex]
    assert await search(recall, MALLORY) == [globex]
    before = container.database.checkouts
    await recall.close()
    assert container.database.checkouts - before == 2
    assert await hits(container) == {acme: 1, globex: 2}


async def test_close_writes_pending_hits_at_once(container: Container) -> None:
    pet = await remember(container, ALICE, PET)
    recall = recall_for(container, window=60)
    assert await search(recall, ALICE) == [pet]
    started = time.monotonic()
    await recall.close()
    assert time.monotonic() - started < 10  # the 60 s window was cut short
    assert await hits(container) == {pet: 1}
    assert not recall._background


async def test_closing_the_container_writes_the_hits_still_waiting(make_database: Callable[[], str]) -> None:
    url = make_database()
    built = await Container.build(settings_for(url))
    try:
        pet = await remember(built, ALICE, PET)
        built.recall._hits = HitBuffer(built.store, window=60)
        assert await search(built.recall, ALICE) == [pet]
    finally:
        await built.close()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT entry_id, hits FROM memory_access").fetchall() == [(pet, 1)]


async def test_a_tenant_past_the_cap_is_written_before_the_window_ends(container: Container) -> None:
    ids = [await remember(container, ALICE, f"Fact number {n} about the build farm") for n in range(3)]
    buffer = HitBuffer(container.store, window=60, cap=3)
    task = buffer.add(ALICE.tenant_id, ids[:2])
    assert task is not None
    assert buffer.add(ALICE.tenant_id, ids[2:]) is None  # the same flusher, now told to write early
    await asyncio.wait_for(task, timeout=10)
    assert await hits(container) == dict.fromkeys(ids, 1)
    assert buffer.pending == 0


async def test_hits_added_while_a_write_runs_go_into_the_next_window(container: Container) -> None:
    a = await remember(container, ALICE, PET)
    b = await remember(container, ALICE, "Melanie paints landscapes in watercolor")
    buffer = HitBuffer(container.store, window=0.05)
    first = buffer.add(ALICE.tenant_id, [a, a])
    assert first is not None
    await batch_taken(buffer)
    assert not first.done()
    assert buffer.add(ALICE.tenant_id, [a, b]) is None  # the running flusher writes it after its next window
    assert buffer.pending == 2
    await asyncio.wait_for(first, timeout=30)
    assert await hits(container) == {a: 3, b: 1}
    second = buffer.add(ALICE.tenant_id, [b])  # after a quiet moment, a new flusher
    assert second is not None
    await asyncio.wait_for(second, timeout=30)
    assert await hits(container) == {a: 3, b: 2}


async def test_many_interleaved_hits_are_each_counted_once(container: Container) -> None:
    a = await remember(container, ALICE, PET)
    b = await remember(container, ALICE, "Melanie paints landscapes in watercolor")
    buffer = HitBuffer(container.store, window=0.005)
    tasks = []
    for n in range(40):
        task = buffer.add(ALICE.tenant_id, [a, b] if n % 2 else [a, a])
        if task is not None:
            tasks.append(task)
        await asyncio.sleep(0.002 * (n % 3))
    await buffer.close()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
    assert await hits(container) == {a: 60, b: 20}


async def test_a_failing_write_is_logged_and_not_raised(
    make_database: Callable[[], str], caplog: pytest.LogCaptureFixture
) -> None:
    database = Database(make_database(), max_size=2)
    await database.open()
    await database.close()  # every write now fails: the database is unavailable
    buffer = HitBuffer(PostgresMemoryStore(database, None), window=0)
    task = buffer.add(ALICE.tenant_id, ["01M8YFT44CF4TKBDTXCND31TBS"])
    assert task is not None
    with caplog.at_level(logging.WARNING, logger="novamem.recall"):
        await asyncio.wait_for(task, timeout=10)
    assert task.exception() is None
    assert [r.levelno for r in caplog.records if r.getMessage().startswith("hit bump failed")] == [logging.WARNING]
    assert buffer.pending == 0  # given up, not retried forever
    again = buffer.add(ALICE.tenant_id, ["01M8YFT44CF4TKBDTXCND31TBS"])  # and the next hit still starts a flusher
    assert again is not None
    await asyncio.wait_for(again, timeout=10)


async def test_touch_counts_and_promotes_by_the_batch_s_hits(container: Container) -> None:
    once = await remember(container, ALICE, "Fact number one about the build farm")
    thrice = await remember(container, ALICE, "Fact number three about the build farm")
    async with container.database.connection() as conn:
        await conn.execute("UPDATE memory_entries SET created_at = %(t)s", {"t": T0})
        await conn.execute("INSERT INTO memory_cold (entry_id, tenant_id) SELECT id, tenant_id FROM memory_entries")
    # idle 14 days, base 7: one hit gives 7 × log2(3) ≈ 11.1 days (stays cold), three give 7 × log2(5) ≈ 16.3
    later = T0 + timedelta(days=14)
    assert await container.store.touch(ALICE.tenant_id, [once], counts=[1], now=later) == 0
    assert await container.store.touch(ALICE.tenant_id, [thrice], counts=[3], now=later) == 1
    assert await hits(container) == {once: 1, thrice: 3}
    # an id listed twice counts both; existing rows add the counts
    assert await container.store.touch(ALICE.tenant_id, [once, thrice, once], counts=[2, 4, 1], promote=False) == 0
    assert await hits(container) == {once: 4, thrice: 7}
    # another tenant's ids are not counted
    assert await container.store.touch(MALLORY.tenant_id, [once], counts=[5]) == 0
    assert await hits(container) == {once: 4, thrice: 7}
