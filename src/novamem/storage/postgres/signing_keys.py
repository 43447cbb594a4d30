"""Session-JWT signing keys in `session_jwks`.

Creating the first key and rotating take a transaction-scoped advisory lock, so two replicas starting
together (or a rotation racing a first token) end with exactly one current key.
"""

from __future__ import annotations

from typing import Any

from novamem.storage.postgres.database import Database, map_errors
from novamem.storage.signing_keys import SigningKeyRecord

__all__ = ["PostgresSigningKeyStore"]

_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('novamem:session-jwks', 0))"
_COLUMNS = "id, public_x, sealed_private, created_at, retired_at"
_CURRENT = f"SELECT {_COLUMNS} FROM session_jwks WHERE retired_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 1"
_INSERT = "INSERT INTO session_jwks (id, public_x, sealed_private) VALUES (%(id)s, %(x)s, %(sealed)s)"
_RETIRE = "UPDATE session_jwks SET retired_at = clock_timestamp() WHERE retired_at IS NULL"
_PRUNE = "DELETE FROM session_jwks WHERE retired_at < clock_timestamp() - make_interval(secs => %(keep)s)"
_PUBLISHED = f"""
SELECT {_COLUMNS} FROM session_jwks
 WHERE retired_at IS NULL OR retired_at >= clock_timestamp() - make_interval(secs => %(keep)s)
 ORDER BY created_at DESC, id DESC
"""


def _record(row: dict[str, Any]) -> SigningKeyRecord:
    return SigningKeyRecord(
        id=str(row["id"]),
        public_x=str(row["public_x"]),
        sealed_private=str(row["sealed_private"]),
        created_at=row["created_at"],
        retired_at=row["retired_at"],
    )


def _params(key: SigningKeyRecord) -> dict[str, str]:
    return {"id": key.id, "x": key.public_x, "sealed": key.sealed_private}


class PostgresSigningKeyStore:
    """`SigningKeyStore` on PostgreSQL."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def current(self) -> SigningKeyRecord | None:
        with map_errors():
            async with self._db.connection() as conn:
                row = await (await conn.execute(_CURRENT)).fetchone()
        return _record(row) if row is not None else None

    async def current_or_insert(self, candidate: SigningKeyRecord) -> SigningKeyRecord:
        with map_errors():
            async with self._db.connection() as conn:
                row = await (await conn.execute(_CURRENT)).fetchone()
                if row is not None:
                    return _record(row)
                async with conn.transaction():
                    await conn.execute(_LOCK)
                    row = await (await conn.execute(_CURRENT)).fetchone()
                    if row is None:
                        await conn.execute(_INSERT, _params(candidate))
                        row = await (await conn.execute(_CURRENT)).fetchone()
        assert row is not None
        return _record(row)

    async def rotate(self, new: SigningKeyRecord, *, keep_seconds: int) -> None:
        with map_errors():
            async with self._db.connection() as conn, conn.transaction():
                await conn.execute(_LOCK)
                await conn.execute(_PRUNE, {"keep": keep_seconds})
                await conn.execute(_RETIRE)
                await conn.execute(_INSERT, _params(new))

    async def published(self, *, keep_seconds: int) -> list[SigningKeyRecord]:
        with map_errors():
            async with self._db.connection() as conn:
                rows = await (await conn.execute(_PUBLISHED, {"keep": keep_seconds})).fetchall()
        return [_record(r) for r in rows]
