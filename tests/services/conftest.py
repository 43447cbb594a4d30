"""Fixtures shared by the service tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from novamem.config import load_settings
from novamem.container import Container


@pytest.fixture
async def container(make_database: Callable[[], str]) -> AsyncIterator[Container]:
    """The whole service graph on a fresh database: no embedder, no background jobs, no sign-in."""
    settings = load_settings(
        database_url=make_database(), jobs_enabled=False, auth_mode="none", embeddings_provider="none"
    )
    built = await Container.build(settings)
    yield built
    await built.close()
