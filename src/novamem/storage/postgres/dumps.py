"""PostgreSQL dumps for `novamem backup` and `restore`: pg_dump/pg_restore plus table fingerprints.

A backup runs pg_dump inside a snapshot exported by a repeatable-read transaction, and counts rows and
hashes samples in that same transaction, so the manifest describes exactly what the dump holds even while
the server keeps writing. Passwords go to the tools through `PGPASSWORD`, never on their command line.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from novamem.errors import ConfigError, Unavailable
from novamem.storage.backups import DumpInfo, TableSnapshot
from novamem.storage.postgres.database import map_errors

__all__ = ["SAMPLE_ROWS", "PostgresDumps", "pg_tool"]

SAMPLE_ROWS = 100
# Fixed output formats, so a row prints the same text in the original and in any restored copy.
_SESSION = (
    "SET TimeZone = 'UTC'",
    "SET DateStyle = 'ISO, YMD'",
    "SET IntervalStyle = 'postgres'",
    "SET extra_float_digits = 1",
    "SET bytea_output = 'hex'",
)
_USER_SCHEMAS = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'"


def pg_tool(name: str) -> Path:
    """`pg_dump`/`pg_restore`: the embedded server's own (PostgreSQL 18, which reads older servers too),
    else the one on PATH."""
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.origin:
        bundled = Path(spec.origin).parent / "pginstall" / "bin" / name
        if bundled.is_file():
            return bundled
    found = shutil.which(name)
    if found is None:
        raise ConfigError(
            f"{name} not found; install the PostgreSQL client tools (the server's major version or newer)"
        )
    return Path(found)


def _tool_target(url: str) -> tuple[str, dict[str, str]]:
    """A connection string without the password, and an environment carrying it."""
    params = psycopg.conninfo.conninfo_to_dict(url)
    password = params.pop("password", None)
    env = dict(os.environ)
    if password:
        env["PGPASSWORD"] = str(password)
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in params.items() if v is not None}), env


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise Unavailable(f"{Path(command[0]).name} failed: {tail or f'exit code {done.returncode}'}")


def _tables(conn: psycopg.Connection[TupleRow]) -> list[tuple[int, str, str]]:
    rows = conn.execute(
        "SELECT c.oid, n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        f" WHERE c.relkind = 'r' AND {_USER_SCHEMAS}"
        " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')"
        " ORDER BY n.nspname, c.relname"
    ).fetchall()
    return [(int(oid), str(schema), str(name)) for oid, schema, name in rows]


def _sample_order(conn: psycopg.Connection[TupleRow], oid: int) -> sql.Composable:
    """ORDER BY the primary key (text keys in byte order, so collations never matter), else the whole row."""
    keys = conn.execute(
        "SELECT a.attname, a.attcollation <> 0 FROM pg_index i"
        " CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)"
        " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
        " WHERE i.indrelid = %s AND i.indisprimary ORDER BY k.ord",
        (oid,),
    ).fetchall()
    if not keys:
        return sql.SQL('t::text COLLATE "C"')
    return sql.SQL(", ").join(
        sql.SQL('{} COLLATE "C"').format(sql.Identifier(name)) if collatable else sql.Identifier(name)
        for name, collatable in keys
    )


def _snapshot_table(conn: psycopg.Connection[TupleRow], oid: int, schema: str, name: str) -> TableSnapshot:
    table = sql.Identifier(schema, name)
    count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()
    sample = conn.execute(
        sql.SQL("SELECT s::text FROM (SELECT * FROM {} t ORDER BY {} LIMIT {}) s").format(
            table, _sample_order(conn, oid), sql.Literal(SAMPLE_ROWS)
        )
    ).fetchall()
    texts = sorted(str(row[0]) for row in sample)
    digest = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()
    return TableSnapshot(rows=int(count[0]) if count else 0, sample_rows=len(texts), sample_sha256=digest)


def _read_tables(conn: psycopg.Connection[TupleRow]) -> dict[str, TableSnapshot]:
    for statement in _SESSION:
        conn.execute(statement)
    return {f"{schema}.{name}": _snapshot_table(conn, oid, schema, name) for oid, schema, name in _tables(conn)}


def _latest_migration(conn: psycopg.Connection[TupleRow]) -> tuple[int | None, str | None]:
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return None, None
    row = conn.execute("SELECT version, name FROM schema_migrations ORDER BY version DESC LIMIT 1").fetchone()
    return (int(row[0]), str(row[1])) if row else (None, None)


class PostgresDumps:
    """`DatabaseDumps` for the PostgreSQL database at `url` (a superuser or owner role; scratch copies
    need CREATEDB)."""

    def __init__(self, url: str) -> None:
        self._url = url

    def snapshot(self) -> dict[str, TableSnapshot]:
        """Row counts and sample hashes of every table of the database (one consistent snapshot)."""
        with map_errors(), psycopg.connect(self._url) as conn:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            try:
                return _read_tables(conn)
            finally:
                conn.rollback()

    def dump(self, out: Path) -> DumpInfo:
        """pg_dump (custom format) the database into `out`, and describe what it holds."""
        target, env = _tool_target(self._url)
        with map_errors(), psycopg.connect(self._url) as conn:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            try:
                row = conn.execute("SELECT pg_export_snapshot(), current_setting('server_version')").fetchone()
                assert row is not None
                snapshot, server_version = str(row[0]), str(row[1])
                # the exporting transaction stays open while pg_dump reads through the same snapshot
                command = [str(pg_tool("pg_dump")), "--format=custom", f"--snapshot={snapshot}", f"--file={out}"]
                _run([*command, target], env)
                tables = _read_tables(conn)
                version, name = _latest_migration(conn)
            finally:
                conn.rollback()
        return DumpInfo(tables, version, name, server_version, SAMPLE_ROWS)

    def relation_count(self) -> int:
        """Tables, views and sequences outside the system schemas (0: an empty database)."""
        with map_errors(), psycopg.connect(self._url, autocommit=True, connect_timeout=10) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                f" WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND {_USER_SCHEMAS}"
            ).fetchone()
        return int(row[0]) if row else 0

    def restore(self, dump: Path) -> None:
        """pg_restore `dump` into the database in one transaction (all or nothing), owned by the
        connecting role (`--no-owner`, no grants)."""
        target, env = _tool_target(self._url)
        command = [str(pg_tool("pg_restore")), "--no-owner", "--no-acl", "--exit-on-error", "--single-transaction"]
        _run([*command, f"--dbname={target}", str(dump)], env)

    @contextmanager
    def scratch(self) -> Iterator[PostgresDumps]:
        """A new empty database on the same server, dropped afterwards."""
        name = f"novamem_verify_{secrets.token_hex(6)}"
        with map_errors(), psycopg.connect(self._url, autocommit=True, connect_timeout=10) as conn:
            try:
                conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
            except psycopg.errors.InsufficientPrivilege as exc:
                raise ConfigError(
                    "verifying needs a role that may create databases (CREATEDB) on the database's server; "
                    "grant it, or restore the dump elsewhere with `novamem restore`"
                ) from exc
        try:
            yield PostgresDumps(psycopg.conninfo.make_conninfo(self._url, dbname=name))
        finally:
            with map_errors(), psycopg.connect(self._url, autocommit=True, connect_timeout=10) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
