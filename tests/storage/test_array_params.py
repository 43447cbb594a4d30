"""The search path's array parameters arrive in PostgreSQL exactly as given."""

from __future__ import annotations

import math

from novamem.storage.postgres.database import Database, FloatArray, TextArray

AWKWARD = [
    "01JABCDEF",
    "",
    "NULL",
    'say "hi"',
    "back\\slash",
    '\\"',
    "a,b",
    "{braces}",
    "  spaced  ",
    "tab\there\nline",
    "naïve ümlaut 東京",
    "it's",
]


async def test_text_arrays_keep_every_string_as_it_is(db: Database) -> None:
    async with db.connection() as conn:
        for values in (AWKWARD, ["plain", "ids", "only"], [], ["NULL"], ['"']):
            cur = await conn.execute(
                "SELECT %(a)s::text[] AS a, cardinality(%(a)s::text[]) AS n", {"a": TextArray(values)}
            )
            row = await cur.fetchone()
            assert row is not None
            assert (row["a"], row["n"]) == (values, len(values))


async def test_float_arrays_keep_every_value_to_the_last_bit(db: Database) -> None:
    values = [0.0, -0.0, 1.0, 0.1, 1 / 3, -2.5e-300, 1.7976931348623157e308, 5e-324, 0.30000000000000004]
    async with db.connection() as conn:
        cur = await conn.execute("SELECT %(a)s::float8[] AS a", {"a": FloatArray(values)})
        row = await cur.fetchone()
        assert row is not None and row["a"] == values
        assert math.copysign(1.0, row["a"][1]) == -1.0
        cur = await conn.execute(
            "SELECT %(a)s::float8[] AS a, cardinality(%(a)s::float8[]) AS n", {"a": FloatArray([])}
        )
        row = await cur.fetchone()
        assert row is not None and (row["a"], row["n"]) == ([], 0)
        # prepared, as the search statements are: the same statement takes arrays of other lengths
        for size in (3, 50, 1):
            floats = [i / 7 for i in range(size)]
            cur = await conn.execute(
                "SELECT %(a)s::float8[] AS a, %(t)s::text[] AS t",
                {"a": FloatArray(floats), "t": TextArray([str(f) for f in floats])},
                prepare=True,
            )
            row = await cur.fetchone()
            assert row is not None and row["a"] == floats and row["t"] == [str(f) for f in floats]
