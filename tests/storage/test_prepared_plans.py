"""Statements prepared on pooled connections (hydration, the graph stage) keep their generic plan.

They are prepared to save planning on every search; PostgreSQL's default choice (`plan_cache_mode =
auto`) plans the first five runs afresh and may go on doing so for good, which at 100,000 memories it did
for every run of the graph stage's statement.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import pytest

from novamem.domain.scope import ReadScope
from novamem.storage.base import KeywordHits, VectorHits, VectorSpace
from novamem.storage.graph_index import LinkQuery
from novamem.storage.postgres.database import Database, migrate
from novamem.storage.postgres.graph import PostgresGraph
from novamem.storage.postgres.memories import PostgresMemoryStore
from tests.storage.drafts import user_draft

ALICE = ReadScope(tenant_id="acme", user_id="alice")
RUNS = 8


@pytest.fixture
async def one_connection(make_database: Callable[[], str]) -> AsyncIterator[Database]:
    """A pool of one connection, so every statement runs (and is prepared) on the same session."""
    url = make_database()
    migrate(url)
    database = Database(url, max_size=1, min_size=1)
    await database.open()
    yield database
    await database.close()


async def prepared_runs(db: Database, starts_with: str) -> tuple[int, int]:
    """Generic and custom plans used so far by the session's prepared statement that starts so."""
    async with db.connection() as conn:
        cur = await conn.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE %s",
            (starts_with.replace("%", r"\%") + "%",),
        )
        rows = await cur.fetchall()
    assert len(rows) == 1, rows
    return int(rows[0]["generic_plans"]), int(rows[0]["custom_plans"])


async def test_pooled_connections_keep_the_generic_plans_of_prepared_statements(one_connection: Database) -> None:
    db = one_connection
    async with db.connection() as conn:
        cur = await conn.execute("SELECT current_setting('plan_cache_mode') AS mode")
        assert (await cur.fetchone() or {}).get("mode") == "force_generic_plan"
    store = PostgresMemoryStore(db, VectorSpace("test:3d", 3))
    await store.prepare_vector_space()
    drafts = [
        replace(user_draft(f"Kestrel report {n} from the harbour", embedding=[1.0, n / 10, 0.0]), source_refs=["log"])
        for n in range(12)
    ]
    await store.insert_many(drafts, fanout=0)
    ids = [d.id for d in drafts]
    graph = PostgresGraph(db, store, store.scope_sizes)
    query = LinkQuery(
        seeds=ids[:2], candidates=ids[:6], relation_fanout=6, source_reach=2, entities=["kestrel"], entity_cap=12
    )
    keyword = KeywordHits(scores={ids[0]: 1.0}, term_queries=["'kestrel'"], term_weights=[0.5])
    for _ in range(RUNS):
        reads = await graph.links(ALICE, query)
        entries, _, vscores = await store.hydrate(
            ALICE, keyword=keyword, query_vector=[1.0, 0.0, 0.0], limit=4, vector_hits=VectorHits(ids=ids[4:8])
        )
    # the statements still answer (neighbours in the source, the shared entity; rows of both tiers)
    assert reads.sources and sorted(reads.postings["kestrel"]) == sorted(ids)
    assert {e.id for e in entries} == {ids[0], *ids[4:8]} and set(vscores) == {ids[0], *ids[4:8]}
    # every run used the generic plan, the first five included (PostgreSQL's own choice plans those afresh)
    assert await prepared_runs(db, "(SELECT 'r' AS kind") == (RUNS, 0)
    assert await prepared_runs(db, "WITH tt AS MATERIALIZED") == (RUNS, 0)
