"""The PostgreSQL connection pool, driver-error mapping and the migration runner."""

from __future__ import annotations

import asyncio
import json
import logging
import struct
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from importlib import resources

import psycopg
from psycopg import AsyncCursor
from psycopg.adapt import AdaptersMap, Dumper
from psycopg.pq import Format
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import set_json_loads
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from novamem.error_messages import DATABASE_TIMEOUT, DATABASE_UNAVAILABLE, IDENTICAL_MEMORY, INVALID_REQUEST_BODY
from novamem.errors import Conflict, InvalidInput, NovamemError, Unavailable
from novamem.observability import tracing
from novamem.storage.postgres.traced import TracedCursor

__all__ = ["Database", "FloatArray", "TextArray", "VectorParam", "map_errors", "migrate"]

log = logging.getLogger("novamem.storage")

# Arbitrary constant key: every replica that migrates takes this lock first.
_MIGRATION_LOCK = 7_778_001


@contextmanager
def map_errors() -> Iterator[None]:
    """Translate driver exceptions into novamem errors; nothing above storage sees psycopg."""
    try:
        yield
    except NovamemError:
        raise
    except PoolTimeout as exc:
        raise Unavailable(DATABASE_UNAVAILABLE) from exc
    except psycopg.errors.UniqueViolation as exc:
        raise Conflict(IDENTICAL_MEMORY) from exc
    except psycopg.DataError as exc:
        # input that passed validation but that PostgreSQL still cannot store or compare
        raise InvalidInput(
            INVALID_REQUEST_BODY, issues=[{"path": [], "message": "a value cannot be stored", "code": "unstorable"}]
        ) from exc
    except psycopg.errors.QueryCanceled as exc:
        raise Unavailable(DATABASE_TIMEOUT) from exc
    except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
        raise Unavailable(DATABASE_UNAVAILABLE) from exc


# psycopg prepares a statement after this many runs unless told; None would forbid `prepare=True` too
PREPARE_ONLY_WHEN_ASKED = 2**31 - 1
# The statements prepared on pooled connections read by ids and arrays (hydration, the graph stage), so a
# plan made for the values of one run is no better than the generic one, and preparing them is meant to
# save planning. Left to itself (`plan_cache_mode = auto`) PostgreSQL compares the generic plan's estimate
# with those of the first five runs' plans and may plan every run afresh: at 100,000 memories it did so
# for every run of the graph stage's statement (1.2 ms of planning each; 1.99 -> 0.94 ms a run with the
# generic plan, the same rows in 400 of 400 runs).
PREPARED_PLANS = "plan_cache_mode=force_generic_plan"


class VectorParam:
    """A vector parameter sent in pgvector's binary format (no text to format here or to parse there).

    The statement casts it (`%(v)s::vector(384)`), which tells PostgreSQL its type.
    """

    __slots__ = ("values",)

    def __init__(self, values: Sequence[float]) -> None:
        self.values = values


class _VectorDumper(Dumper):
    format = Format.BINARY

    def dump(self, obj: VectorParam) -> bytes:
        # pgvector's `vector_recv`: dimension and an unused int16, then big-endian float4s
        count = len(obj.values)
        return struct.pack(f">HH{count}f", count, 0, *obj.values)


class TextArray:
    """A `text[]` parameter of plain strings, dumped in one pass.

    psycopg's own list dumper adapts element by element in Python (about 5 us a string); the search path
    sends several arrays of ids and terms per search, so these are written out whole.
    """

    __slots__ = ("values",)

    def __init__(self, values: Sequence[str]) -> None:
        self.values = values


class FloatArray:
    """A `float8[]` parameter, dumped in one pass (binary: no float formatted as text)."""

    __slots__ = ("values",)

    def __init__(self, values: Sequence[float]) -> None:
        self.values = values


class _TextArrayDumper(Dumper):
    format = Format.TEXT
    oid = psycopg.postgres.types["text"].array_oid

    def dump(self, obj: TextArray) -> bytes:
        # every element quoted: inside quotes only a quote and a backslash need escaping
        items = list(obj.values)
        joined = '","'.join(items)
        if '"' in joined or "\\" in joined:
            joined = '","'.join(i.replace("\\", "\\\\").replace('"', '\\"') for i in items)
        text = '{"' + joined + '"}' if items else "{}"
        return text.encode(self.connection.info.encoding if self.connection is not None else "utf-8")


class _FloatArrayDumper(Dumper):
    format = Format.BINARY
    oid = psycopg.postgres.types["float8"].array_oid

    def dump(self, obj: FloatArray) -> bytes:
        # array_recv: dimensions, has-nulls, element type, then each dimension's size and lower bound, then
        # each element's length and big-endian float8
        count = len(obj.values)
        if count == 0:
            return struct.pack(">iiI", 0, 0, _FLOAT8_OID)
        cells = [v for value in obj.values for v in (8, value)]
        return struct.pack(f">iiIii{'id' * count}", 1, 0, _FLOAT8_OID, count, 1, *cells)


# Small JSON values read again are answered from a copy of the first parse. An entry's metadata is
# mostly one of a few small objects (`{"sensitivity": "private"}`), and a search reads about a hundred
# entries: parsing each costs about 5 us, copying a parsed one under 1 us. Only flat objects (every
# value a string, number, boolean or null) are kept, and every read gets a copy of its own, so a caller
# that changes what it was given changes nothing another caller reads.
JSON_MEMO_MAX_BYTES = 256
JSON_MEMO_ENTRIES = 1024
_json_memo: dict[bytes, dict[str, object]] = {}
_SCALARS = (str, int, float, bool)


def _load_json(data: str | bytes) -> object:
    """`json.loads`, answered from `_json_memo` for small flat objects read before."""
    key = data if isinstance(data, bytes) else None
    if key is not None and len(key) <= JSON_MEMO_MAX_BYTES:
        kept = _json_memo.get(key)
        if kept is not None:
            return kept.copy()
    value = json.loads(data)
    if (
        key is not None
        and len(key) <= JSON_MEMO_MAX_BYTES
        and type(value) is dict
        and all(v is None or type(v) in _SCALARS for v in value.values())
    ):
        if len(_json_memo) >= JSON_MEMO_ENTRIES:
            _json_memo.clear()
        _json_memo[key] = value.copy()
    return value


_FLOAT8_OID = psycopg.postgres.types["float8"].oid
_ADAPTERS = AdaptersMap(psycopg.adapters)
_ADAPTERS.register_dumper(VectorParam, _VectorDumper)
_ADAPTERS.register_dumper(TextArray, _TextArrayDumper)
_ADAPTERS.register_dumper(FloatArray, _FloatArrayDumper)
set_json_loads(_load_json, _ADAPTERS)


# How many candidates each step of an HNSW walk keeps. At 100,000 memories, a whole-store search read its 50
# nearest rows in 2.4 ms with 64 against 3.2 ms with 100, finding 0.940 of the exact 50 against 0.966, and
# LoCoMo's questions over that store found as much evidence either way (recall@10 0.561 / 0.560). A walk filtered to a
# namespace of 10,000 took the same time with both (its iterative scan sets the pace), finding 0.970 and
# 0.971 of the exact 50. Narrow scopes are sorted exactly and never walk.
HNSW_EF_SEARCH = 64

# A connection handed back less than this long ago is not pinged before its next use: it just worked,
# and a connection that broke since fails its query once (a 503) and is then dropped by the pool.
CHECK_AFTER_IDLE_S = 1.0
MAX_TRACKED = 256


class Database:
    """An async pool over one PostgreSQL; idle connections are checked before use so outages heal.

    Rows come back as psycopg's `DictRow` (column name to driver value). Each store turns them into its
    typed records at once, so untyped column values never leave `storage/postgres`.
    """

    def __init__(self, url: str, *, max_size: int, min_size: int = 1, timeout: float = 5.0) -> None:
        self._timeout = timeout
        # id(connection) -> when it was last handed back
        self._returned: dict[int, float] = {}
        self._url = url
        # one extra connection, outside the pool, for the tiny query every request makes (`quick_one`)
        self._quick: psycopg.AsyncConnection[DictRow] | None = None
        self._quick_lock = asyncio.Lock()
        # a span per statement only when tracing is on; otherwise psycopg's own cursor, at no cost
        self._cursor_factory: type[AsyncCursor[DictRow]] | None = TracedCursor if tracing.enabled() else None
        self._pool = AsyncConnectionPool(
            url,
            min_size=min(min_size, max_size),
            max_size=max_size,
            timeout=timeout,
            open=False,
            check=self._check,
            kwargs={
                "autocommit": True,
                "row_factory": dict_row,
                # statements are prepared only where a caller asks (`execute(..., prepare=True)`): most plans
                # here depend on the values they are given (a scope's size, a term's rarity), which a
                # prepared statement's generic plan would not see
                "prepare_threshold": PREPARE_ONLY_WHEN_ASKED,
                "context": _ADAPTERS,
                # filtered HNSW scans keep walking the graph until LIMIT rows pass the filter; and a statement
                # prepared here keeps its generic plan (PREPARED_PLANS). HNSW_EF_SEARCH: see its comment
                "options": (
                    f"-c hnsw.iterative_scan=relaxed_order -c hnsw.ef_search={HNSW_EF_SEARCH} -c {PREPARED_PLANS}"
                ),
                "cursor_factory": self._cursor_factory,
            },
            name="novamem",
        )
        #: connections handed out so far; a cheap, always-on count of round-trip groups
        self.checkouts = 0

    async def _check(self, conn: psycopg.AsyncConnection[DictRow]) -> None:
        if time.monotonic() - self._returned.get(id(conn), 0.0) < CHECK_AFTER_IDLE_S:
            return
        await AsyncConnectionPool.check_connection(conn)

    async def open(self) -> None:
        await self._pool.open(wait=False)

    async def close(self) -> None:
        async with self._quick_lock:
            if self._quick is not None:
                await self._quick.close()
                self._quick = None
        await self._pool.close()

    async def quick_one(self, query: str, params: dict[str, object] | None = None) -> DictRow | None:
        """Run a tiny statement (an index lookup, or a one-row counter upsert) on the dedicated connection and
        return its first row.

        Skips the pool (checkout and liveness check), which matters for a query every request
        makes; queries take turns on the one connection, each lasting a fraction of a millisecond.
        The connection commits asynchronously (`synchronous_commit=off`): a write here may be lost if
        PostgreSQL crashes in the next fraction of a second, so use it only for data that may be (request
        counters), never for the memories or identities. A broken connection is replaced on the next call.
        """
        with map_errors():
            async with self._quick_lock:
                if self._quick is None or self._quick.closed or self._quick.broken:
                    self._quick = await psycopg.AsyncConnection.connect(
                        self._url,
                        autocommit=True,
                        row_factory=dict_row,
                        connect_timeout=max(1, int(self._timeout)),
                        options="-c synchronous_commit=off",
                        cursor_factory=self._cursor_factory,
                    )
                try:
                    cur = await self._quick.execute(query, params, prepare=True)
                    return await cur.fetchone()
                except psycopg.OperationalError:
                    await self._quick.close()
                    self._quick = None
                    raise

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[DictRow]]:
        """A pooled connection in autocommit mode; use `conn.transaction()` for atomic work."""
        with map_errors():
            async with self._pool.connection() as conn:
                self.checkouts += 1
                try:
                    yield conn
                finally:
                    if len(self._returned) > 4 * MAX_TRACKED:
                        self._returned.clear()
                    self._returned[id(conn)] = time.monotonic()

    async def ping(self) -> bool:
        try:
            async with self.connection() as conn:
                await conn.execute("SELECT 1")
            return True
        except Unavailable:
            return False


def _migration_files() -> list[tuple[int, str, str]]:
    folder = resources.files("novamem.storage.postgres") / "migrations"
    found = []
    for item in folder.iterdir():
        if item.name.endswith(".sql"):
            version = int(item.name.split("_", 1)[0])
            found.append((version, item.name, item.read_text(encoding="utf-8")))
    return sorted(found)


def migrate(url: str) -> list[str]:
    """Apply pending forward-only migrations under an advisory lock; returns the names applied.

    Two replicas starting together serialise on the lock; the second finds nothing left to do.
    """
    applied: list[str] = []
    with map_errors(), psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations").fetchall()}
            for version, name, body in _migration_files():
                if version in done:
                    continue
                with conn.transaction():
                    conn.execute(body)
                    conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name))
                log.info("applied migration %s", name)
                applied.append(name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))
    return applied
