"""JSON read from PostgreSQL: small flat objects are parsed once, and every read still gets its own copy."""

from __future__ import annotations

import json

from novamem.storage.postgres import database
from novamem.storage.postgres.database import Database

VALUES = [
    {"sensitivity": "private"},
    {},
    {"n": 1, "x": 2.5, "ok": True, "none": None, "word": "naïve 東京"},
    {"nested": {"tags": ["a", "b"]}},
    {"list": [1, 2, 3]},
    ["a", 1, None],
    "just a string",
    42,
    None,
    {"long": "x" * 400},
]


async def _read(db: Database, value: object, kind: str) -> object:
    async with db.connection() as conn:
        cur = await conn.execute(f"SELECT %(v)s::{kind} AS v", {"v": json.dumps(value)})
        row = await cur.fetchone()
        assert row is not None
        return row["v"]


async def test_every_json_value_reads_back_as_it_was_written(db: Database) -> None:
    for kind in ("jsonb", "json"):
        for value in VALUES:
            for _ in range(3):  # the first read parses; later reads of a small flat object are copies
                assert await _read(db, value, kind) == value


async def test_a_caller_changing_what_it_read_changes_nothing_later_reads_see(db: Database) -> None:
    flat = {"sensitivity": "private", "rank": 3}
    first = await _read(db, flat, "jsonb")
    assert isinstance(first, dict)
    first["sensitivity"] = "changed"
    first["added"] = True
    second = await _read(db, flat, "jsonb")
    assert second == flat and second is not first
    # the flat object was kept: a read of it is answered without parsing
    assert any(v == flat for v in database._json_memo.values())

    nested = {"tags": ["a"], "inner": {"k": "v"}}
    one = await _read(db, nested, "jsonb")
    assert isinstance(one, dict)
    one["tags"].append("b")
    one["inner"]["k"] = "changed"
    assert await _read(db, nested, "jsonb") == nested
    # objects holding lists or objects are never kept (a copy of them would share those)
    assert all(not isinstance(v, dict | list) for kept in database._json_memo.values() for v in kept.values())


async def test_the_memo_stays_bounded(db: Database) -> None:
    for i in range(database.JSON_MEMO_ENTRIES + 50):
        database._load_json(json.dumps({"i": i}).encode())
    assert len(database._json_memo) <= database.JSON_MEMO_ENTRIES
    assert await _read(db, {"i": 7}, "jsonb") == {"i": 7}
