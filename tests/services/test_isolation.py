"""Tenant and user isolation enforced by the data layer, through every service call.

Identities arrive with the next release; here callers with different tenants and users are built
directly, the way authentication will build them, to show that storage filters by construction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from novamem.config import load_settings
from novamem.container import Container
from novamem.domain.scope import Caller
from novamem.services.memory.models import (
    ForgetRequest,
    MemoryCreate,
    MemoryUpdate,
    NeighborsRequest,
    RecentRequest,
    SearchRequest,
)

ALICE = Caller(tenant_id="acme", user_id="u1")
BOB = Caller(tenant_id="acme", user_id="u2")
MALLORY = Caller(tenant_id="globex", user_id="u1")  # same user id, other tenant
FACT = "The payroll export runs every Friday at 18:00 from the finance server"


@pytest.fixture
async def container(make_database: Callable[[], str]) -> AsyncIterator[Container]:
    settings = load_settings(database_url=make_database(), jobs_enabled=False, auth_mode="none")
    built = await Container.build(settings)
    yield built
    await built.close()


async def ids(container: Container, caller: Caller, query: str = "payroll export Friday") -> list[str]:
    outcome = await container.recall.search(caller, SearchRequest(query=query, max_sensitivity="sensitive"))
    return [r.id for r in outcome.results]


async def test_every_read_is_confined_to_tenant_and_user(container: Container) -> None:
    a = await container.memories.remember(ALICE, MemoryCreate(content=FACT, source_refs=["mail:1"]))
    second = await container.memories.remember(ALICE, MemoryCreate(content=FACT.replace("18:00", "17:00"), force=True))
    m = await container.memories.remember(MALLORY, MemoryCreate(content=FACT, source_refs=["mail:1"]))
    assert a.id and m.id and m.id != a.id and not m.deduplicated  # dedup never crosses tenants

    assert set(await ids(container, ALICE)) == {a.id, second.id}
    assert await ids(container, MALLORY) == [m.id]
    assert await ids(container, BOB) == []

    recent = await container.recall.recent(BOB, RecentRequest())
    assert recent.results == []
    assert [v.id for v in (await container.recall.recent(MALLORY, RecentRequest())).results] == [m.id]
    assert (await container.recall.stats(BOB)).total_warm == 0
    assert (await container.recall.stats(MALLORY)).total_warm == 1

    assert (await container.recall.neighbors(MALLORY, NeighborsRequest(id=a.id, depth=3))).results == []
    alice_near = await container.recall.neighbors(ALICE, NeighborsRequest(id=a.id, depth=3))
    assert {v.id for v in alice_near.results} == {second.id}


async def test_writes_cannot_reach_other_tenants_or_users(container: Container) -> None:
    from novamem.errors import NotFound

    a = await container.memories.remember(ALICE, MemoryCreate(content=FACT, source_refs=["mail:1"]))
    assert a.id
    with pytest.raises(NotFound):
        await container.memories.update(MALLORY, a.id, MemoryUpdate(content="Overwritten by another tenant"))
    with pytest.raises(NotFound):
        await container.memories.update(BOB, a.id, MemoryUpdate(namespace="stolen"))
    by_id = ForgetRequest(id=a.id)
    assert (await container.memories.forget(MALLORY, by_id)).to_wire() == {"deleted": False, "coldDeleteOk": True}
    # same tenant, other user: no existence oracle either
    assert (await container.memories.forget(BOB, by_id)).to_wire() == {"deleted": False, "coldDeleteOk": True}
    by_ref = ForgetRequest(source_ref="mail:1")
    assert (await container.memories.forget(MALLORY, by_ref)).count == 0
    assert (await container.memories.forget(BOB, by_ref)).count == 0
    captured = await container.memories.capture(MALLORY, MemoryCreate(content=FACT.replace("18:00", "19:00")))
    assert not captured.superseded  # the near-duplicate guard only looks inside the caller's scope
    assert await ids(container, ALICE) == [a.id]
