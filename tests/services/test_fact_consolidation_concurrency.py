"""Fact consolidation's model calls in flight at once, against the real embedded PostgreSQL and the local
OpenAI-compatible chat server (tests/fake_models.py): the bound holds, every usable answer applies, a garbage
answer changes only its own clusters, and a fact in two clusters judged at once is retired exactly once.

`chat_hold` keeps every answer waiting until the test has seen how many calls came in, so the calls are
really in flight together.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from novamem.container import Container
from novamem.embedding.chat import ChatModel
from novamem.services.operations.dream import DreamService
from novamem.services.operations.fact_consolidation import FactConsolidator
from novamem.storage.base import VectorSpace
from novamem.storage.postgres.dream import PostgresDreamStore
from novamem.storage.postgres.fact_consolidation import PostgresFactConsolidationStore
from tests.fake_embedder import DIM, FakeEmbeddingServer
from tests.fake_models import FakeModelServer
from tests.services.test_dream_cycle import MODEL, Rows, axis
from tests.services.test_fact_consolidation import VERDICT, _build, fact

TIMEOUT_S = 10.0  # far above the hold: a held answer must not time out


@pytest.fixture(scope="module")
def models() -> Iterator[FakeModelServer]:
    fake = FakeModelServer()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
async def built(
    make_database: Callable[[], str], fake_embedder: FakeEmbeddingServer, models: FakeModelServer
) -> AsyncIterator[Container]:
    container = await _build(make_database, fake_embedder, models)
    yield container
    models.reset()
    await container.close()


@pytest.fixture
def rows(built: Container) -> Rows:
    url = built.settings.database_url
    assert url is not None
    return Rows(url.get_secret_value())


def dream(built: Container, models: FakeModelServer, concurrency: int) -> DreamService:
    """A dream service whose consolidator judges one cluster a call, `concurrency` calls at a time."""
    chat = ChatModel(endpoint=models.chat_url, model="judge-test", api_key=None, timeout_s=TIMEOUT_S)
    space = VectorSpace(MODEL, DIM)
    consolidator = FactConsolidator(
        PostgresFactConsolidationStore(built.database, space),
        chat,
        timeout_s=TIMEOUT_S,
        per_call=1,
        concurrency=concurrency,
    )
    return DreamService(PostgresDreamStore(built.database, space), facts=consolidator)


def pairs(rows: Rows, count: int) -> list[tuple[str, str]]:
    """`count` clusters of two facts each: an old and a new version of one attribute."""
    return [
        (
            fact(rows, f"[fact] Service {i} listens on port {7000 + i}", axis(40 + 3 * i)),
            fact(rows, f"[fact] Service {i} listens on port {8000 + i}", axis(40 + 3 * i, 0.4)),
        )
        for i in range(count)
    ]


def in_plane(degrees: float) -> list[float]:
    """A unit vector in the plane of the first two axes, `degrees` from the first."""
    vec = [0.0] * DIM
    vec[0], vec[1] = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return vec


async def arrivals(models: FakeModelServer, count: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(models.chat_requests) >= count:
            return True
        await asyncio.sleep(0.02)
    return False


@pytest.mark.parametrize("concurrency", [1, 3])
async def test_calls_are_in_flight_together_up_to_the_bound_and_every_verdict_applies(
    built: Container, rows: Rows, models: FakeModelServer, concurrency: int
) -> None:
    ids = pairs(rows, 6)
    models.chat_reply = VERDICT  # in each one-cluster call: fact 1 is outdated by fact 2
    models.chat_hold = threading.Event()

    running = asyncio.create_task(dream(built, models, concurrency).run_pass())
    assert await arrivals(models, concurrency)
    await asyncio.sleep(0.3)
    assert len(models.chat_requests) == concurrency  # the bound holds while the answers wait
    models.chat_hold.set()
    result = await running

    assert (result.facts_walked, result.fact_clusters_judged, result.facts_superseded) == (12, 6, 6)
    assert len(models.chat_requests) == 6
    statuses = dict(rows.sql("SELECT id, status FROM memory_entries"))
    assert all(statuses[old] == "superseded" and statuses[new] == "active" for old, new in ids)
    edges = set(rows.sql("SELECT from_id, to_id FROM memory_relations WHERE relation = 'supersedes'"))
    assert edges == {(new, old) for old, new in ids}


async def test_a_garbage_answer_changes_only_its_own_clusters(
    built: Container, rows: Rows, models: FakeModelServer
) -> None:
    ids = pairs(rows, 4)
    models.chat_script = ["Those facts all look fine to me.", VERDICT, VERDICT, VERDICT]
    models.chat_reply = VERDICT

    result = await dream(built, models, 4).run_pass()

    assert (result.fact_clusters_judged, result.facts_superseded) == (3, 3)
    statuses = dict(rows.sql("SELECT id, status FROM memory_entries"))
    untouched = [(old, new) for old, new in ids if statuses[old] == "active"]
    assert len(untouched) == 1 and statuses[untouched[0][1]] == "active"  # the garbage call's cluster
    assert [statuses[new] for _, new in ids] == ["active"] * 4


async def test_a_fact_in_two_clusters_judged_at_once_is_retired_exactly_once(
    built: Container, rows: Rows, models: FakeModelServer
) -> None:
    # y and z are apart (cosine 0.5); x is near both (0.87): clusters {y, x} and {x, y, z}, one call each
    y = fact(rows, "[fact] Dana lives in Oslo", in_plane(0))
    x = fact(rows, "[fact] Dana lives in Bergen", in_plane(30))
    z = fact(rows, "[fact] Dana lives in Tromso", in_plane(60))
    # each call retires x, in favour of y in the first cluster (z is not in it) and of z in the second
    models.chat_reply = json.dumps([{"group": 1, "superseded": x, "by": z}, {"group": 1, "superseded": x, "by": y}])
    models.chat_hold = threading.Event()

    running = asyncio.create_task(dream(built, models, 2).run_pass())
    assert await arrivals(models, 2)  # both verdicts are on their way before either is applied
    models.chat_hold.set()
    result = await running

    assert (result.fact_clusters_judged, result.facts_superseded) == (2, 1)
    status: dict[str, Any] = {r[0]: r[1:] for r in rows.sql("SELECT id, status, metadata FROM memory_entries")}
    assert status[x][0] == "superseded" and status[y][0] == status[z][0] == "active"
    by = status[x][1]["superseded_by"]
    assert by in (y, z)
    assert rows.sql("SELECT from_id, to_id FROM memory_relations WHERE relation = 'supersedes'") == [(by, x)]
    assert rows.sql("SELECT detail FROM memory_changes WHERE change = 'superseded'") == [
        ({"supersededBy": by, "reason": "dream_cycle_consolidation"},)
    ]
