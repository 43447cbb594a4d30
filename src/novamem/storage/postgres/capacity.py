"""How many connections a PostgreSQL server accepts from ordinary roles (for pool sizing checks)."""

from __future__ import annotations

import psycopg

from novamem.storage.postgres.database import map_errors

__all__ = ["read_connection_limits"]


def read_connection_limits(url: str, *, timeout_s: int = 5) -> tuple[int, int]:
    """`(max_connections, reserved)`: reserved counts the superuser slots and (PostgreSQL 16+) the
    slots kept for `pg_use_reserved_connections` roles; ordinary roles get the difference."""
    with map_errors(), psycopg.connect(url, autocommit=True, connect_timeout=timeout_s) as conn:
        rows = conn.execute(
            "SELECT name, setting FROM pg_settings"
            " WHERE name IN ('max_connections', 'superuser_reserved_connections', 'reserved_connections')"
        ).fetchall()
    settings = {str(name): int(value) for name, value in rows}
    reserved = settings.get("superuser_reserved_connections", 0) + settings.get("reserved_connections", 0)
    return settings["max_connections"], reserved
