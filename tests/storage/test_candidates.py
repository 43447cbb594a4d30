"""Hybrid candidates on PostgreSQL: BM25 keyword scoring within the caller's scope, and score completion."""

from __future__ import annotations

import math

import pytest

from novamem.domain.scope import ReadScope
from novamem.storage.base import VectorHits, VectorSpace
from novamem.storage.postgres.database import Database
from novamem.storage.postgres.memories import PostgresMemoryStore
from tests.storage.drafts import user_draft

ALICE = ReadScope(tenant_id="acme", user_id="alice")
SPACE = VectorSpace("test:3d", 3)


@pytest.fixture
async def store(db: Database) -> PostgresMemoryStore:
    built = PostgresMemoryStore(db, SPACE)
    await built.prepare_vector_space()
    return built


async def put(
    store: PostgresMemoryStore, content: str, *, user: str = "alice", vector: list[float] | None = None
) -> str:
    draft = user_draft(content, user=user, embedding=vector)
    await store.insert(draft, fanout=0)
    return draft.id


async def keyword_ranking(store: PostgresMemoryStore, query: str, scope: ReadScope = ALICE) -> list[str]:
    _, kscores, _ = await store.candidates(scope, query=query, query_vector=None, limit=10, keyword=True)
    return sorted(kscores, key=lambda i: -kscores[i])


async def test_a_rare_term_outweighs_a_common_one(store: PostgresMemoryStore) -> None:
    for n in range(6):
        await put(store, f"Weekly meeting notes number {n} for the platform team")
    rare = await put(store, "The kubernetes upgrade is planned for spring")
    both = await put(store, "Meeting about the kubernetes upgrade with the platform team")
    ranking = await keyword_ranking(store, "kubernetes meeting")
    assert ranking[:2] == [both, rare]
    assert len(ranking) == 8  # every row matching any term is a candidate


async def test_document_frequencies_come_from_the_callers_scope_only(store: PostgresMemoryStore) -> None:
    alpha = await put(store, "alpha release checklist for the mobile app")
    betas = [await put(store, f"beta feedback round {n} from the testers") for n in range(3)]
    for n in range(30):  # another user of the same tenant writes "alpha" everywhere
        await put(store, f"alpha build {n} passed", user="bob")
    ranking = await keyword_ranking(store, "alpha beta")
    assert ranking[0] == alpha  # rare for alice, however common it is for bob
    assert set(ranking) == {alpha, *betas}


async def test_queries_of_stop_words_or_quoting_characters_are_harmless(store: PostgresMemoryStore) -> None:
    odd = await put(store, r"O'Brien's path is C:\Users\obrien and the key is 'x''y'")
    assert await keyword_ranking(store, "what is it and how") == []
    assert await keyword_ranking(store, r"O'Brien C:\Users\obrien 'x''y' & | ! ( )") == [odd]


async def test_each_tier_candidate_gets_the_other_tiers_score(store: PostgresMemoryStore) -> None:
    by_word = await put(store, "Invoices are archived in the finance bucket", vector=[0.0, 1.0, 0.0])
    by_vector = await put(store, "Receipts live in cold storage", vector=[1.0, 0.0, 0.0])
    entries, kscores, vscores = await store.candidates(
        ALICE, query="finance invoices", query_vector=[1.0, 0.1, 0.0], limit=1, keyword=True
    )
    assert {e.id for e in entries} == {by_word, by_vector}
    assert set(kscores) == {by_word}  # no term of the query in the vector hit: no keyword score
    assert set(vscores) == {by_word, by_vector}  # the keyword hit still carries its cosine
    assert vscores[by_vector] > vscores[by_word]


async def test_the_vector_reads_distances_are_reused_and_its_ids_still_scope_checked(
    store: PostgresMemoryStore,
) -> None:
    query = [1.0, 0.2, 0.1]
    near = await put(store, "Receipts live in cold storage", vector=[1.0, 0.3, 0.0])
    far = await put(store, "The office plants need water", vector=[0.0, 1.0, 1.0])
    bobs = await put(store, "Bob keeps his receipts here", user="bob", vector=[1.0, 0.2, 0.1])
    found = await store.vector_nearest(ALICE, query, 10)
    assert found.ids == [near, far]  # Bob's row is nearer still, but not Alice's
    assert found.distances is not None
    for entry_id, vector, distance in zip(found.ids, ([1.0, 0.3, 0.0], [0.0, 1.0, 1.0]), found.distances, strict=True):
        cosine = sum(a * b for a, b in zip(query, vector, strict=True)) / math.hypot(*query) / math.hypot(*vector)
        assert distance == pytest.approx(1 - cosine, abs=1e-6), entry_id
    # hydration reads the rows and scores them by the distances it is given (so the vector read measured
    # each row once), the same scores it measures itself from ids alone
    _, _, given = await store.hydrate(ALICE, keyword=None, query_vector=query, limit=10, vector_hits=found)
    _, _, measured = await store.hydrate(
        ALICE, keyword=None, query_vector=query, limit=10, vector_hits=VectorHits(ids=found.ids)
    )
    assert given == {i: 1 - d for i, d in zip(found.ids, found.distances, strict=True)}
    assert measured == pytest.approx(given, abs=1e-6)
    # distances handed in are taken as they are: a row of the caller's with a made-up distance gets
    # exactly that score, and an id of another user's row, distance or not, is never read
    entries, _, vscores = await store.hydrate(
        ALICE,
        keyword=None,
        query_vector=query,
        limit=10,
        vector_hits=VectorHits(ids=[bobs, far], distances=[0.0, 0.25]),
    )
    assert [e.id for e in entries] == [far]
    assert vscores == {far: 0.75}


async def test_length_does_not_lower_a_keyword_score(store: PostgresMemoryStore) -> None:
    short = await put(store, "Invoices go to finance")
    long = await put(store, "Every quarter the invoices from all regional offices go to finance after review by leads")
    for n in range(4):
        await put(store, f"Unrelated note {n} about the office plants")
    ranking = await keyword_ranking(store, "finance invoices")
    _, kscores, _ = await store.candidates(ALICE, query="finance invoices", query_vector=None, limit=10, keyword=True)
    assert set(ranking) == {short, long}
    assert kscores[long] == pytest.approx(kscores[short])


async def test_a_vector_hit_gets_the_keyword_score_the_keyword_phase_gives(store: PostgresMemoryStore) -> None:
    # both rows carry the same query terms at different lengths; the keyword phase keeps one (limit 1, ties
    # by id), the other is found by its vector and scored by the keyword phase's statistics
    first = await put(store, "Invoices go to finance", vector=[0.0, 1.0, 0.0])
    second = await put(
        store, "Every quarter the invoices of the regional offices go to finance", vector=[1.0, 0.0, 0.0]
    )
    await put(store, "Receipts live in cold storage", vector=[0.0, 0.0, 1.0])
    entries, kscores, _ = await store.candidates(
        ALICE, query="finance invoices", query_vector=[1.0, 0.0, 0.0], limit=1, keyword=True
    )
    assert {e.id for e in entries} == {first, second}
    assert kscores[second] == pytest.approx(kscores[first])


async def test_one_store_serves_scopes_of_every_shape_each_its_own_rows(store: PostgresMemoryStore) -> None:
    # the store keeps each statement per scope shape: alternating shapes must never mix their filters
    mine = await put(store, "the staging database password rotates monthly")
    bobs = await put(store, "the staging database password rotates weekly", user="bob")
    bob = ReadScope(tenant_id="acme", user_id="bob")
    nobody = ReadScope(tenant_id="acme", user_id="alice", include_user_global=False)
    elsewhere = ReadScope(tenant_id="acme", user_id="alice", namespaces=("elsewhere",))
    for _ in range(2):
        assert await keyword_ranking(store, "staging password") == [mine]
        assert await keyword_ranking(store, "staging password", bob) == [bobs]
        assert await keyword_ranking(store, "staging password", nobody) == []
        assert await keyword_ranking(store, "staging password", elsewhere) == []
