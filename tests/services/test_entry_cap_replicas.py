"""The per-user entry cap holds across replicas: two services on one database, as two replicas.

The race is made deterministic: a test transaction locks the change feed, so every write passes its quota
check and inserts its row, then waits before committing; only the cap check inside the writing
transaction can then keep the user at the cap.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from typing import Any

import psycopg
import pytest

from novamem.config import load_settings
from novamem.container import Container
from novamem.domain.scope import Caller, Credential
from novamem.error_messages import ENTRY_QUOTA_EXCEEDED
from novamem.errors import NovamemError, RateLimited
from novamem.services.memory.models import CaptureResult, MemoryCreate

CAP = 3
SHARED = Caller.public()


@pytest.fixture
async def replicas(make_database: Callable[[], str]) -> AsyncIterator[tuple[Container, Container, str]]:
    url = make_database()
    settings = load_settings(
        database_url=url, jobs_enabled=False, auth_mode="none", embeddings_provider="none", quota_max_entries=CAP
    )
    one = await Container.build(settings)
    two = await Container.build(settings)
    yield one, two, url
    await two.close()
    await one.close()


def stored(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM memory_entries").fetchone()
    return int(row[0]) if row else -1


async def held_commits(url: str, writes: Sequence[asyncio.Future[Any]], waiting: int) -> None:
    """Keep the writes from committing until `waiting` of them are blocked on the held lock, then let go."""
    async with await psycopg.AsyncConnection.connect(url) as conn, conn.transaction():
        await conn.execute("LOCK TABLE memory_changes IN EXCLUSIVE MODE")
        async with asyncio.timeout(30):
            while True:
                cur = await conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                )
                row = await cur.fetchone()
                if (row is not None and row[0] >= waiting) or any(w.done() for w in writes):
                    return
                await asyncio.sleep(0.02)


async def test_two_replicas_racing_for_the_last_slot_store_only_one(replicas: tuple[Container, Container, str]) -> None:
    one, two, url = replicas
    for i in range(CAP - 1):
        assert (await one.memories.remember(SHARED, MemoryCreate(content=f"Fact {i} stored before the race"))).id
    writes = [
        asyncio.ensure_future(svc.memories.remember(SHARED, MemoryCreate(content=f"Racing fact from replica {n}")))
        for n, svc in enumerate((one, two))
    ]
    await held_commits(url, writes, waiting=2)
    outcomes = await asyncio.gather(*writes, return_exceptions=True)
    assert sorted(type(o).__name__ for o in outcomes) == ["CaptureResult", "RateLimited"]
    refused = next(o for o in outcomes if isinstance(o, RateLimited))
    assert refused.message == ENTRY_QUOTA_EXCEEDED.format(limit=CAP)
    assert stored(url) == CAP


async def test_racing_imports_never_overfill_and_fail_the_refused_items_alone(
    replicas: tuple[Container, Container, str],
) -> None:
    one, two, url = replicas
    assert (await one.memories.remember(SHARED, MemoryCreate(content="The one fact stored before the imports"))).id
    # both batches fit the room left (CAP - 1) on their own, not together; the second repeats its item, and
    # that twin must share the item's fate
    batches = [
        [MemoryCreate(content=f"Imported fact {i} of the first batch", force=True) for i in range(CAP - 1)],
        [MemoryCreate(content="The imported fact of the second batch", force=True)] * 2,
    ]
    writes = [
        asyncio.ensure_future(svc.memories.remember_many(SHARED, b)) for svc, b in zip((one, two), batches, strict=True)
    ]
    await held_commits(url, writes, waiting=2)
    won, lost = sorted(await asyncio.gather(*writes), key=lambda r: isinstance(r[0], NovamemError))
    assert all(isinstance(r, CaptureResult) and r.id for r in won)
    assert lost and all(
        isinstance(r, RateLimited) and r.message == ENTRY_QUOTA_EXCEEDED.format(limit=CAP) for r in lost
    )
    assert stored(url) == 1 + len({r.id for r in won if isinstance(r, CaptureResult)}) <= CAP


async def test_an_import_checks_the_quota_once_per_batch(replicas: tuple[Container, Container, str]) -> None:
    one, _, url = replicas

    async def checkouts(n: int, tag: str) -> tuple[int, list[CaptureResult | NovamemError]]:
        before = one.database.checkouts
        results = await one.memories.remember_many(
            SHARED, [MemoryCreate(content=f"Batch {tag} fact number {i}", force=True) for i in range(n)]
        )
        return one.database.checkouts - before, results

    single, _ = await checkouts(1, "a")
    many, results = await checkouts(40, "b")
    # a capped batch past the cap: what fits is stored, the rest refused, with the same database work as one item
    assert many - single <= 1, (single, many)
    assert [isinstance(r, CaptureResult) for r in results] == [True] * (CAP - 1) + [False] * (40 - CAP + 1)
    assert stored(url) == CAP


async def test_a_users_override_is_read_once_per_auth_epoch(replicas: tuple[Container, Container, str]) -> None:
    one, _, _ = replicas
    user = Caller(tenant_id="default", user_id="u-epoch", credential=Credential.TOKEN, auth_epoch=7)

    async def cost(caller: Caller, content: str) -> int:
        before = one.database.checkouts
        assert (await one.memories.remember(caller, MemoryCreate(content=content))).id
        return one.database.checkouts - before

    await cost(user, "The first fact reads the user's override")
    same = await cost(user, "The second fact reuses it under the same epoch")
    moved = await cost(replace(user, auth_epoch=8), "The third fact reads it again: the epoch moved")
    assert moved == same + 1
