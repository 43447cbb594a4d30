"""A container with Qdrant as the vector index, in qdrant-client's local mode (no Qdrant server can be
installed here; the engine code is the same for a server, only the client is built from `path:`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import psycopg
import pytest

from novamem.config import load_settings
from novamem.container import Container


@pytest.fixture
async def qdrant_container(make_database: Callable[[], str], tmp_path: Path) -> AsyncIterator[Container]:
    settings = load_settings(
        database_url=make_database(),
        jobs_enabled=False,
        auth_mode="none",
        vector_store="qdrant",
        qdrant_url=f"path:{tmp_path / 'qdrant'}",
    )
    built = await Container.build(settings)
    yield built
    await built.close()


def sql(container: Container, query: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Run one statement on the container's database (what an operator would see with psql)."""
    assert container.settings.database_url is not None
    with psycopg.connect(container.settings.database_url.get_secret_value(), autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []
