"""The graph stage's statement runs while the search tokenizes its likely results: the results are those
of the links read, and a search cancelled meanwhile cancels the read too (real embedded PostgreSQL)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from novamem.container import Container
from novamem.domain.scope import Caller, ReadScope
from novamem.services.memory.models import MemoryCreate, SearchRequest
from novamem.services.memory.recall import RecallService
from novamem.storage.graph_index import LinkQuery, LinkReads

ALICE = Caller(tenant_id="acme", user_id="alice")


class HeldLinks:
    """Links read from PostgreSQL, held until released; records whether a read was cancelled."""

    def __init__(self, container: Container) -> None:
        self._real = container.recall._expansion._links if container.recall._expansion else None
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.cancelled = False

    async def links(self, scope: ReadScope, query: LinkQuery) -> LinkReads:
        self.started.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        assert self._real is not None
        return await self._real.links(scope, query)


def held_recall(container: Container) -> tuple[RecallService, HeldLinks]:
    held = HeldLinks(container)
    recall = RecallService(container.store, container.embedder, container.access, min_vector_score=0.0, links=held)
    return recall, held


async def remember_all(container: Container, texts: list[str]) -> None:
    for text in texts:
        assert (await container.memories.remember(ALICE, MemoryCreate(content=text))).id


TEXTS = [
    "Caroline's greyhound Biscuit loves the beach at Brighton",
    "Biscuit the greyhound was adopted by Caroline in March",
    "Melanie painted a sunrise over the lake last summer",
]


async def test_results_wait_for_the_links_and_match_the_search_without_a_hold(container: Container) -> None:
    await remember_all(container, TEXTS)
    expected: Any = await container.recall.search(ALICE, SearchRequest(query="greyhound Biscuit"))
    recall, held = held_recall(container)
    search = asyncio.create_task(recall.search(ALICE, SearchRequest(query="greyhound Biscuit")))
    await asyncio.wait_for(held.started.wait(), timeout=30)
    await asyncio.sleep(0.05)
    assert not search.done()  # the search waits for the graph stage's links
    held.release.set()
    answer = await asyncio.wait_for(search, timeout=30)
    assert [r.id for r in answer.results] == [r.id for r in expected.results]
    assert [r.score for r in answer.results] == pytest.approx([r.score for r in expected.results])
    await recall.close()


async def test_a_search_cancelled_during_the_graph_stage_cancels_its_links_read(container: Container) -> None:
    await remember_all(container, TEXTS)
    recall, held = held_recall(container)
    search = asyncio.create_task(recall.search(ALICE, SearchRequest(query="greyhound Biscuit")))
    await asyncio.wait_for(held.started.wait(), timeout=30)
    search.cancel()
    with pytest.raises(asyncio.CancelledError):
        await search
    await asyncio.sleep(0)
    assert held.cancelled
    await recall.close()
