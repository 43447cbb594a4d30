"""PostgreSQL memory store: entries, keyword and vector candidates, source refs and graph edges.

`PostgresMemoryStore` is one class over `memory_entries` and its satellite tables, assembled from one
module per concern: `memory_table` (columns, rows, the vector space), `memory_writes` (writes and the
reconciler's work), `memory_retrieval` (keyword, vector and graph reads) and `memory_listing` (by id,
browse and listings).
"""

from __future__ import annotations

from novamem.storage.postgres.memory_listing import MemoryListing
from novamem.storage.postgres.memory_retrieval import MemoryRetrieval
from novamem.storage.postgres.memory_writes import MemoryWrites

__all__ = ["PostgresMemoryStore"]


class PostgresMemoryStore(MemoryWrites, MemoryRetrieval, MemoryListing):
    """Memory rows in PostgreSQL; every method filters by the caller's scope via `scoping`."""
