"""`novamem backup`, `backup --verify` and `restore` against real PostgreSQL, with a server writing.

The round trip: memories, users and tokens written through a running user-mode server, a backup taken
while it runs, a restore into an empty database that a new server then serves with the same token, and
a verification in a scratch database. Tampering is caught by the SHA-256; a non-empty target is refused.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from unittest import mock

import psycopg
import pytest

from novamem.cli.main import main
from novamem.storage.backups import find_backups
from tests.conftest import RunningServer, wait_for
from tests.http.identity_helpers import COOKIE_SECRET, add_user, as_token, cli, mint, start_user_server

MEMORIES = ("the deploy key lives in vault", "standup moved to 9:30", "Berlin office wifi is guest-2024")


@pytest.fixture
def srv(make_database: Callable[[], str]) -> Iterator[RunningServer]:
    running = start_user_server(make_database())
    yield running
    running.stop()


def _fill(srv: RunningServer) -> str:
    add_user(srv, "alice@example.com")
    add_user(srv, "bob@example.com")
    token = mint(srv, "alice@example.com", "--label", "laptop")
    with as_token(srv, token) as api:
        for text in MEMORIES:
            assert api.post("/v1/remember", json={"content": text}).status_code in (200, 201)
    return token


def _backup(srv: RunningServer, out: Path) -> tuple[Path, dict[str, object]]:
    code, stdout, stderr = cli(srv, "backup", "--out", str(out), "--json")
    assert code == 0, stderr
    manifest = json.loads(stdout)
    return out / str(manifest["dump"]["file"]), manifest  # type: ignore[index]


def _rows(url: str, query: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()  # type: ignore[arg-type]


def _tables(url: str) -> int:
    return int(_rows(url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")[0][0])  # type: ignore[arg-type]


def test_backup_restore_verify_round_trip(srv: RunningServer, make_database: Callable[[], str], tmp_path: Path) -> None:
    token = _fill(srv)
    dump, manifest = _backup(srv, tmp_path / "backups")

    # the manifest describes the dump: size, checksum, schema version, row counts, the stores note
    assert dump.is_file() and manifest["dump"]["size"] == dump.stat().st_size  # type: ignore[index]
    assert len(manifest["dump"]["sha256"]) == 64  # type: ignore[index,arg-type]
    assert manifest["migration"]["version"] == srv.sql("SELECT max(version) FROM schema_migrations")[0][0]  # type: ignore[index]
    tables = manifest["tables"]
    assert tables["public.memory_entries"]["rows"] == 3  # type: ignore[index]
    assert tables["public.users"]["rows"] == srv.sql("SELECT count(*) FROM users")[0][0]  # type: ignore[index]
    assert tables["public.user_tokens"]["rows"] == 1  # type: ignore[index]
    assert tables["public.memory_entries"]["sampleRows"] == 3  # type: ignore[index]
    assert "no separate vector or graph store" in str(manifest["stores"])
    assert manifest["createdAt"].endswith("Z") and manifest["verification"] is None  # type: ignore[union-attr]
    # dumps hold password and token hashes: owner-only files
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600
    assert stat.S_IMODE(dump.with_suffix(".json").stat().st_mode) == 0o600

    target = make_database()
    code, out, err = cli(srv, "restore", str(dump), "--database-url", target)
    assert code == 0, err
    assert "match the manifest" in out
    restored = {str(r[0]) for r in _rows(target, "SELECT content FROM memory_entries")}
    assert restored == set(MEMORIES)
    assert {str(r[0]) for r in _rows(target, "SELECT email FROM users")} >= {"alice@example.com", "bob@example.com"}
    # vectors (pgvector columns) travel with the rows: nothing else to restore
    assert _rows(target, "SELECT count(*) FROM memory_relations") == srv.sql("SELECT count(*) FROM memory_relations")

    # a server on the restored database accepts the same token and finds the same memories
    copy = start_user_server(target)
    try:
        with as_token(copy, token) as api:
            listed = api.post("/v1/recent", json={"limit": 10}).json()
        assert {m["content"] for m in listed["results"]} == set(MEMORIES)
    finally:
        copy.stop()

    code, out, err = cli(srv, "backup", "--verify", "--out", str(tmp_path / "backups"))
    assert code == 0, err + out
    assert "match the manifest" in out
    record = json.loads(dump.with_suffix(".json").read_text())["verification"]
    assert record["ok"] is True and record["problems"] == [] and record["at"].endswith("Z")
    assert find_backups(tmp_path / "backups")[0].verified_at is not None


def test_a_backup_taken_while_the_server_writes_matches_its_manifest(srv: RunningServer, tmp_path: Path) -> None:
    token = _fill(srv)
    stop = threading.Event()
    written: list[int] = []

    def write() -> None:
        with as_token(srv, token) as api:
            while not stop.is_set():
                r = api.post("/v1/remember", json={"content": f"note number {len(written)} written during the backup"})
                written.append(r.status_code)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        assert wait_for(lambda: len(written) >= 3)
        dump, manifest = _backup(srv, tmp_path)
        after = len(written)
        assert wait_for(lambda: len(written) >= after + 2)  # writes go on after the snapshot too
    finally:
        stop.set()
        writer.join(timeout=30)
    assert set(written) <= {200, 201}
    # counts and samples come from the dump's own snapshot, so the copy matches although writes went on
    code, out, err = cli(srv, "backup", "--verify", str(dump), "--json")
    assert code == 0, err + out
    assert json.loads(out)["ok"] is True
    assert srv.sql("SELECT count(*) FROM memory_entries")[0][0] > manifest["tables"]["public.memory_entries"]["rows"]  # type: ignore[index]


def test_a_tampered_dump_fails_verification_and_is_not_restored(
    srv: RunningServer, make_database: Callable[[], str], tmp_path: Path
) -> None:
    _fill(srv)
    dump, manifest = _backup(srv, tmp_path)
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))

    code, out, _ = cli(srv, "backup", "--verify", str(dump))
    assert code == 1
    assert "SHA-256" in out and "changed or damaged" in out
    record = json.loads(dump.with_suffix(".json").read_text())["verification"]
    assert record["ok"] is False and "SHA-256" in record["problems"][0]

    target = make_database()
    code, _, err = cli(srv, "restore", str(dump), "--database-url", target)
    assert code == 2 and "refusing to restore" in err
    assert _tables(target) == 0


def test_verification_detects_rows_that_differ_from_the_manifest(srv: RunningServer, tmp_path: Path) -> None:
    _fill(srv)
    dump, manifest = _backup(srv, tmp_path)
    path = dump.with_suffix(".json")
    edited = json.loads(path.read_text())
    edited["tables"]["public.memory_entries"]["sampleSha256"] = "0" * 64
    edited["tables"]["public.users"]["rows"] += 1
    path.write_text(json.dumps(edited))

    code, out, _ = cli(srv, "backup", "--verify", str(dump))
    assert code == 1
    assert "public.memory_entries: the sample of 3 rows differs" in out
    assert "public.users:" in out and "rows restored" in out
    # the scratch database is gone again
    assert not srv.sql("SELECT datname FROM pg_database WHERE datname LIKE 'novamem_verify_%%'")


def test_restore_refuses_a_database_that_is_not_empty(
    srv: RunningServer, make_database: Callable[[], str], tmp_path: Path
) -> None:
    _fill(srv)
    dump, _ = _backup(srv, tmp_path)
    target = make_database()
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute("CREATE TABLE precious (id int)")
        conn.execute("INSERT INTO precious VALUES (1)")
    code, _, err = cli(srv, "restore", str(dump), "--database-url", target)
    assert code == 2 and "not empty" in err
    assert _rows(target, "SELECT id FROM precious") == [(1,)]
    assert _tables(target) == 1


def test_restore_needs_the_manifest_and_verify_needs_a_backup(
    srv: RunningServer, make_database: Callable[[], str], tmp_path: Path
) -> None:
    _fill(srv)
    dump, _ = _backup(srv, tmp_path / "b")
    os.remove(dump.with_suffix(".json"))
    code, _, err = cli(srv, "restore", str(dump), "--database-url", make_database())
    assert code == 2 and "no manifest" in err
    code, _, err = cli(srv, "backup", "--verify", "--out", str(tmp_path / "empty"))
    assert code == 2 and "no backups in" in err
    code, _, err = cli(srv, "restore", str(tmp_path / "missing.dump"), "--database-url", make_database())
    assert code == 2 and "no dump file" in err


def test_restore_into_an_unreachable_database_is_an_error_not_a_crash(srv: RunningServer, tmp_path: Path) -> None:
    _fill(srv)
    dump, _ = _backup(srv, tmp_path)
    code, _, err = cli(srv, "restore", str(dump), "--database-url", "postgresql://nobody@127.0.0.1:1/none")
    assert code == 2 and "database unavailable" in err


def test_verify_without_createdb_names_the_missing_privilege(srv: RunningServer, tmp_path: Path) -> None:
    _fill(srv)
    dump, _ = _backup(srv, tmp_path)
    role = f"nocreatedb_{secrets.token_hex(4)}"
    srv.sql(f'CREATE ROLE "{role}" LOGIN NOCREATEDB')
    try:
        weak = psycopg.conninfo.make_conninfo(srv.database_url, user=role)
        env = {"NOVAMEM_DATABASE_URL": weak, "NOVAMEM_COOKIE_SECRET": COOKIE_SECRET}
        err = io.StringIO()
        with (
            mock.patch.dict(os.environ, env),
            contextlib.redirect_stderr(err),
            contextlib.redirect_stdout(io.StringIO()),
        ):
            code = main(["backup", "--verify", str(dump)])
        assert code == 2 and "CREATEDB" in err.getvalue()
    finally:
        srv.sql(f'DROP ROLE "{role}"')
