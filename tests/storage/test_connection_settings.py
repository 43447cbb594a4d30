"""The settings every pooled connection starts with."""

from __future__ import annotations

from novamem.storage.postgres.database import HNSW_EF_SEARCH, Database


async def test_pooled_connections_walk_hnsw_iteratively_with_the_chosen_breadth(db: Database) -> None:
    async with db.connection() as conn:
        cur = await conn.execute(
            "SELECT current_setting('hnsw.iterative_scan') AS scan, current_setting('hnsw.ef_search') AS ef"
        )
        row = await cur.fetchone()
    assert row is not None
    assert row["scan"] == "relaxed_order"
    assert int(row["ef"]) == HNSW_EF_SEARCH == 64
