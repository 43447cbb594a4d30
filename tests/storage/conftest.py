"""Fixtures of the storage tests: an open pool on a fresh, migrated database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from novamem.storage.postgres.database import Database, migrate


@pytest.fixture
async def db(make_database: Callable[[], str]) -> AsyncIterator[Database]:
    url = make_database()
    migrate(url)
    database = Database(url, max_size=2)
    await database.open()
    yield database
    await database.close()
