"""How many rows the keyword phase scores: every match in a scope under SCOPE_COUNT_CAP rows (up to
KEYWORD_POOL), a bounded pool in a larger one (LARGE_SCOPE_POOL rows matching all terms, and that many
shared out among the terms, at least LARGE_SCOPE_TERM_ROWS each)."""

from __future__ import annotations

import random

from novamem.domain.scope import ReadScope
from novamem.storage.postgres.database import Database
from novamem.storage.postgres.memories import PostgresMemoryStore
from novamem.storage.postgres.memory_retrieval import LARGE_SCOPE_POOL, LARGE_SCOPE_TERM_ROWS
from novamem.storage.postgres.scope_sizes import SCOPE_COUNT_CAP
from tests.storage.test_owner_terms import fill, notes

ALICE = ReadScope(tenant_id="acme", user_id="alice")


async def test_a_large_scope_scores_a_bounded_pool_shared_among_the_terms(db: Database) -> None:
    assert (LARGE_SCOPE_POOL, LARGE_SCOPE_TERM_ROWS) == (500, 50)
    store = PostgresMemoryStore(db, None)
    rng = random.Random(3)
    harbours, cranes = notes(rng, 400, text="harbour"), notes(rng, 400, text="crane")
    await fill(store, harbours + cranes)
    harbour_ids, crane_ids = {d.id for d in harbours}, {d.id for d in cranes}
    # a scope under the cap: every match is scored (800 rows, below the pool of 1,000)
    small = await store.keyword_hits(ALICE, query="harbour crane", limit=1000)
    assert set(small.scores) == harbour_ids | crane_ids
    # the same scope counted at the cap: no row holds both terms, so each term's read keeps half the pool
    store.scope_sizes.remember(ALICE, SCOPE_COUNT_CAP)
    large = await store.keyword_hits(ALICE, query="harbour crane", limit=1000)
    assert len(set(large.scores) & harbour_ids) == LARGE_SCOPE_POOL // 2
    assert len(set(large.scores) & crane_ids) == LARGE_SCOPE_POOL // 2
    # one term alone reads the whole pool
    single = await store.keyword_hits(ALICE, query="harbour", limit=1000)
    assert len(single.scores) == 400
    more = notes(rng, 300, text="harbour")
    await fill(store, more)
    single = await store.keyword_hits(ALICE, query="harbour", limit=1000)
    assert len(single.scores) == LARGE_SCOPE_POOL and set(single.scores) <= harbour_ids | {d.id for d in more}


async def test_a_large_scope_reads_at_least_the_floor_of_each_term(db: Database) -> None:
    store = PostgresMemoryStore(db, None)
    rng = random.Random(4)
    words = [f"word{chr(ord('a') + i)}" for i in range(12)]
    drafts = [d for w in words for d in notes(rng, 60, text=w)]
    await fill(store, drafts)
    store.scope_sizes.remember(ALICE, SCOPE_COUNT_CAP)
    hits = await store.keyword_hits(ALICE, query=" ".join(words), limit=1000)
    # twelve terms share 500 rows (41 each), but each still reads its floor of 50
    assert len(hits.scores) == 12 * LARGE_SCOPE_TERM_ROWS
