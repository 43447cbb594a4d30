"""Decay and promotion against the real embedded PostgreSQL, with the decay clock injected: months of idleness
are a changed timestamp, so every boundary of the lifespan rule is checked to the minute."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from novamem.config import load_settings
from novamem.container import Container
from novamem.domain.scope import Caller
from novamem.errors import ConfigError, Forbidden
from novamem.services.memory.models import (
    ContextRequest,
    MemoryCreate,
    NeighborsRequest,
    RecentRequest,
    SearchRequest,
    TodayRequest,
)
from novamem.services.operations.operator import OperatorService
from novamem.storage.postgres.lifecycle import PostgresDecayLog

ALICE = Caller(tenant_id="acme", user_id="alice")
BOB = Caller(tenant_id="acme", user_id="bob")
MALLORY = Caller(tenant_id="globex", user_id="alice")  # same user id, other tenant
OPERATOR = Caller(tenant_id="default", user_id="ops", is_operator=True)
# the memories' write time: now, so that a search made during the test finds them idle only seconds
T0 = datetime.now(UTC).replace(microsecond=0)
MINUTE = timedelta(minutes=1)


class Clock:
    """The decay pass's clock, set by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def operator(container: Container, clock: Clock) -> OperatorService:
    return OperatorService(container.store, PostgresDecayLog(container.database), decay_days=7, clock=clock)


async def sql(container: Container, query: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    async with container.database.connection() as conn:
        cur = await conn.execute(query, params or {})
        return list(await cur.fetchall()) if cur.description else []


async def remember(container: Container, caller: Caller, content: str, *, hits: int = 1) -> str:
    """A memory written at T0 and last used then, with `hits` hits counting its write (the reference's seed)."""
    created = await container.memories.remember(caller, MemoryCreate(content=content))
    assert created.id
    await sql(container, "UPDATE memory_entries SET created_at = %(t)s WHERE id = %(id)s", {"t": T0, "id": created.id})
    if hits > 1:
        await sql(
            container,
            "INSERT INTO memory_access (entry_id, tenant_id, hits, last_accessed)"
            " VALUES (%(id)s, %(tenant)s, %(h)s, %(t)s)",
            {"id": created.id, "tenant": caller.tenant_id, "h": hits - 1, "t": T0},
        )
    return created.id


async def cold_ids(container: Container) -> set[str]:
    return {r["id"] for r in await sql(container, "SELECT entry_id AS id FROM memory_cold")}


async def set_metadata(container: Container, entry_id: str, metadata: str) -> None:
    await sql(
        container,
        "UPDATE memory_entries SET metadata = %(m)s::jsonb WHERE id = %(id)s",
        {"m": metadata, "id": entry_id},
    )


async def background_done(container: Container) -> None:
    """Wait for the search's background hit count (and promotion) to finish."""
    for _ in range(200):
        if not container.recall._background:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("hit bump still running")


async def test_the_lifespan_table_for_base_seven(container: Container, operator: OperatorService, clock: Clock) -> None:
    # hits (the write counts as one) → days a memory stays warm after its last use: 7 × log2(hits + 1)
    table = [(1, 7), (3, 14), (7, 21), (15, 28)]
    ids = {
        hits: await remember(container, ALICE, f"Fact number {hits} about the build farm", hits=hits)
        for hits, _ in table
    }
    cold: set[str] = set()
    for hits, days in table:
        clock.now = T0 + timedelta(days=days) - MINUTE
        assert (await operator.decay(OPERATOR, None)).demoted == 0
        assert await cold_ids(container) == cold, f"{hits} hits went cold before {days} days"
        clock.now = T0 + timedelta(days=days) + MINUTE
        assert (await operator.decay(OPERATOR, None)).demoted == 1
        cold.add(ids[hits])
        assert await cold_ids(container) == cold, f"{hits} hits stayed warm past {days} days"


async def test_a_memory_s_own_base_wins_and_bad_ones_fall_back(
    container: Container, operator: OperatorService, clock: Clock
) -> None:
    short = await remember(container, ALICE, "Short-lived note about a coffee order")
    long = await remember(container, ALICE, "Long-lived note about the production database")
    await set_metadata(container, short, json.dumps({"retention": {"baseEffectiveDays": 2}}))
    await set_metadata(container, long, json.dumps({"retention": {"baseEffectiveDays": 30.5}}))
    malformed = [
        '{"retention": {"baseEffectiveDays": "abc"}}',
        '{"retention": {"baseEffectiveDays": "30"}}',
        '{"retention": {"baseEffectiveDays": -5}}',
        '{"retention": {"baseEffectiveDays": 0}}',
        '{"retention": {"baseEffectiveDays": null}}',
        '{"retention": {"baseEffectiveDays": [30]}}',
        '{"retention": {"baseEffectiveDays": {"days": 30}}}',
        '{"retention": "forever"}',
        '{"retention": [1, 2]}',
        '{"retention": {"policy": "durable"}}',
    ]
    bad = []
    for n, metadata in enumerate(malformed):
        entry = await remember(container, ALICE, f"Malformed retention case {n} for the decay pass")
        await set_metadata(container, entry, metadata)
        bad.append(entry)
    # out-of-range numbers are bounded (3650 days at most), never an overflow that fails the pass
    huge = await remember(container, ALICE, "A memory that asked for a practically endless life")
    await set_metadata(container, huge, '{"retention": {"baseEffectiveDays": 1e400}}')
    tiny = await remember(container, ALICE, "A memory that asked for a practically instant death")
    await set_metadata(container, tiny, '{"retention": {"baseEffectiveDays": 1e-400}}')

    clock.now = T0 + timedelta(days=2) + MINUTE
    assert (await operator.decay(OPERATOR, None)).demoted == 2
    assert await cold_ids(container) == {short, tiny}
    clock.now = T0 + timedelta(days=7) + MINUTE  # malformed bases fall back to the configured 7 days
    assert (await operator.decay(OPERATOR, None)).demoted == len(bad)
    assert await cold_ids(container) == {short, tiny, *bad}
    clock.now = T0 + timedelta(days=30.5) - MINUTE
    assert (await operator.decay(OPERATOR, None)).demoted == 0
    clock.now = T0 + timedelta(days=30.5) + MINUTE
    assert (await operator.decay(OPERATOR, None)).demoted == 1
    assert long in await cold_ids(container) and huge not in await cold_ids(container)


async def test_the_request_s_effective_days_replace_the_configured_base(
    container: Container, operator: OperatorService, clock: Clock
) -> None:
    plain = await remember(container, ALICE, "Plain memory judged by the pass's base")
    own = await remember(container, ALICE, "Memory with a base of its own")
    await set_metadata(container, own, json.dumps({"retention": {"baseEffectiveDays": 1}}))
    clock.now = T0 + timedelta(days=8)
    assert (await operator.decay(OPERATOR, 30)).demoted == 1  # the request's 30 days keep `plain` warm
    assert await cold_ids(container) == {own}  # its own base still wins over the request's
    assert (await operator.decay(OPERATOR, 7.5)).demoted == 1
    assert await cold_ids(container) == {own, plain}
    runs = await sql(container, "SELECT demoted, effective_days FROM decay_runs ORDER BY id")
    assert [(r["demoted"], r["effective_days"]) for r in runs] == [(1, 30.0), (1, 7.5)]


async def test_only_warm_active_entries_are_demoted(
    container: Container, operator: OperatorService, clock: Clock
) -> None:
    kept = await remember(container, ALICE, "A superseded memory is left as it is")
    await sql(container, "UPDATE memory_entries SET status = 'superseded' WHERE id = %(id)s", {"id": kept})
    idle = await remember(container, ALICE, "An active memory nobody uses")
    other = await remember(container, MALLORY, "Another tenant's memory nobody uses")
    clock.now = T0 + timedelta(days=8)
    assert (await operator.decay(OPERATOR, None)).demoted == 2  # deployment work: every tenant's idle memories
    assert await cold_ids(container) == {idle, other}
    assert (await operator.decay(OPERATOR, None)).demoted == 0  # already cold: not counted again


async def test_demotion_and_promotion_never_rewrite_the_memory_row(
    container: Container, operator: OperatorService, clock: Clock
) -> None:
    # the tier lives in its own narrow table: the memory row (and its HNSW and GIN entries) stay as written
    entry = await remember(container, ALICE, "The build cache lives on the shared volume")
    row = "SELECT xmin::text AS version, updated_at FROM memory_entries WHERE id = %(id)s"
    before = await sql(container, row, {"id": entry})
    clock.now = T0 + timedelta(days=8)
    assert (await operator.decay(OPERATOR, None)).demoted == 1
    assert await cold_ids(container) == {entry}
    assert await container.store.touch("acme", [entry], now=clock.now) == 1
    assert await cold_ids(container) == set()
    assert await sql(container, row, {"id": entry}) == before


async def test_decay_is_for_operators_only(container: Container, operator: OperatorService) -> None:
    with pytest.raises(Forbidden):
        await operator.decay(ALICE, None)
    assert await sql(container, "SELECT id FROM decay_runs") == []


async def _cold_entry(container: Container, operator: OperatorService, clock: Clock, caller: Caller, text: str) -> str:
    entry = await remember(container, caller, text)
    clock.now = T0 + timedelta(days=8)
    await operator.decay(OPERATOR, None)
    assert entry in await cold_ids(container)
    return entry


async def test_cold_memories_are_found_with_their_tier_and_a_search_hit_promotes(
    container: Container, operator: OperatorService, clock: Clock
) -> None:
    entry = await _cold_entry(container, operator, clock, ALICE, "The staging cluster runs on spot instances")
    found = await container.recall.search(ALICE, SearchRequest(query="staging cluster spot instances"))
    assert [(r.id, r.tier) for r in found.results] == [(entry, "cold")]
    stats = await container.recall.stats(ALICE)
    assert (stats.total_warm, stats.total_cold) == (0, 1)  # counted before the hit lands
    await background_done(container)
    assert entry not in await cold_ids(container)  # idle 0 days before the hit: well within 7 × log2(3)
    assert (await container.recall.stats(ALICE)).total_cold == 0
    found = await container.recall.search(ALICE, SearchRequest(query="staging cluster spot instances"))
    assert [(r.id, r.tier) for r in found.results] == [(entry, "warm")]

    # the next pass reports the promotion (once) and records it in its run
    clock.now = datetime.now(UTC)
    assert (await operator.decay(OPERATOR, None)).promoted == 1
    assert (await operator.decay(OPERATOR, None)).promoted == 0
    runs = await sql(container, "SELECT promoted FROM decay_runs ORDER BY id")
    assert [r["promoted"] for r in runs][-2:] == [1, 0]


async def test_a_context_hit_promotes(container: Container, operator: OperatorService, clock: Clock) -> None:
    entry = await _cold_entry(container, operator, clock, ALICE, "Deploys go out every Tuesday afternoon")
    answer = await container.recall.context(ALICE, ContextRequest(message="when do deploys go out Tuesday"))
    assert [(r.id, r.tier) for r in answer.relevant.results] == [(entry, "cold")]
    await background_done(container)
    assert entry not in await cold_ids(container)


async def test_recent_today_neighbors_and_rewrites_never_promote(
    container: Container, operator: OperatorService, clock: Clock
) -> None:
    seed = await remember(container, ALICE, "The office wifi network name changes monthly")
    entry = await _cold_entry(container, operator, clock, ALICE, "The printer on floor two jams on thick paper")
    await sql(
        container,
        "INSERT INTO memory_relations (tenant_id, from_id, to_id, relation, strength)"
        " VALUES ('acme', %(a)s, %(b)s, 'co_occurs', 0.9)",
        {"a": seed, "b": entry},
    )
    recent = await container.recall.recent(ALICE, RecentRequest())
    assert {(r.id, r.tier) for r in recent.results} == {(seed, "cold"), (entry, "cold")}
    assert entry in {r.id for r in (await container.recall.today(ALICE, TodayRequest())).results}
    near = await container.recall.neighbors(ALICE, NeighborsRequest(id=seed))
    assert [(r.id, r.tier) for r in near.results] == [(entry, "cold")]
    # an exact re-remember counts a hit but is not a retrieval: no promotion either
    again = await container.memories.remember(
        ALICE, MemoryCreate(content="The printer on floor two jams on thick paper")
    )
    assert again.id == entry and again.deduplicated
    await background_done(container)
    await asyncio.sleep(0.2)
    assert await cold_ids(container) == {seed, entry}
    hits = await sql(container, "SELECT entry_id, hits FROM memory_access")
    assert [(r["entry_id"], r["hits"]) for r in hits] == [(entry, 1)]  # the re-remember's hit only


async def test_promotion_uses_the_stats_before_the_hit(container: Container, operator: OperatorService) -> None:
    entry = await remember(container, ALICE, "Quarterly planning happens in the big room")
    await sql(container, "INSERT INTO memory_cold (entry_id, tenant_id) VALUES (%(id)s, 'acme')", {"id": entry})
    store = container.store
    # one hit on a memory idle for 12 days: its lifespan with that hit is 7 × log2(3) ≈ 11.09 days, too short
    assert await store.touch("acme", [entry], now=T0 + timedelta(days=12)) == 0
    assert entry in await cold_ids(container)
    # the next hit finds it idle a minute, with 2 hits: 7 × log2(4) = 14 days, so it comes back
    assert await store.touch("acme", [entry], now=T0 + timedelta(days=12) + MINUTE) == 1
    assert entry not in await cold_ids(container)
    assert (await operator.decay(OPERATOR, None)).promoted == 1

    # the boundary: 11.09 days idle with one prior hit promotes just under, not just over
    under = await remember(container, ALICE, "Boundary case just under the promotion lifespan")
    over = await remember(container, ALICE, "Boundary case just over the promotion lifespan")
    await sql(
        container,
        "INSERT INTO memory_cold (entry_id, tenant_id)"
        " SELECT id, tenant_id FROM memory_entries WHERE id = ANY(%(ids)s)",
        {"ids": [under, over]},
    )
    life = timedelta(days=7 * 1.584962500721156)
    assert await store.touch("acme", [under], now=T0 + life - MINUTE) == 1
    assert await store.touch("acme", [over], now=T0 + life + MINUTE) == 0
    assert await store.touch("acme", [over], now=T0 + life + 2 * MINUTE, promote=False) == 0
    assert over in await cold_ids(container)


async def test_a_search_promotes_only_the_searcher_s_memories(
    container: Container, operator: OperatorService, clock: Clock
) -> None:
    text = "The quarterly report is due on the first Monday"
    mine = await remember(container, ALICE, text)
    bobs = await remember(container, BOB, text)
    foreign = await remember(container, MALLORY, text)
    clock.now = T0 + timedelta(days=8)
    assert (await operator.decay(OPERATOR, None)).demoted == 3
    found = await container.recall.search(ALICE, SearchRequest(query="quarterly report first Monday"))
    assert [r.id for r in found.results] == [mine]
    await background_done(container)
    assert await cold_ids(container) == {bobs, foreign}
    hits = await sql(container, "SELECT entry_id FROM memory_access")
    assert [r["entry_id"] for r in hits] == [mine]
    # the store confines a hit to the tenant named, whatever ids it is handed
    assert await container.store.touch("acme", [foreign]) == 0
    assert foreign in await cold_ids(container)
    assert (await sql(container, "SELECT count(*) AS n FROM memory_access"))[0]["n"] == 1


@pytest.mark.parametrize(
    ("name", "value"),
    [("decay_days", 0), ("decay_days", -1), ("decay_days", 3651), ("decay_interval_ms", -1)],
)
def test_bad_decay_settings_refuse_to_start(name: str, value: float) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(**{name: value})
    assert f"NOVAMEM_{name.upper()}" in refused.value.message


def test_decay_settings_defaults() -> None:
    settings = load_settings()
    assert settings.decay_days == 7 and settings.decay_interval_ms == 6 * 3600 * 1000
