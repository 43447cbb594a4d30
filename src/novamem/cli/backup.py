"""`novamem backup [--out DIR] [--verify [FILE]]` and `novamem restore FILE --database-url URL`.

A backup is a pg_dump (custom format) of the whole database plus a JSON manifest; it works while the
server runs (a running embedded database is shared, not stopped). `--verify` restores a dump into a
scratch database on the same server, compares it with the manifest and records the result in it.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from novamem import __version__
from novamem.config import EmbeddingsProvider, Settings, load_settings
from novamem.container import resolve_database_url
from novamem.errors import ConfigError, Conflict, InvalidInput, NovamemError
from novamem.storage.backups import (
    MANIFEST_FORMAT,
    STORES_NOTE,
    BackupSet,
    compare_tables,
    dump_path_for,
    find_backups,
    manifest_path_for,
    new_backup_name,
    read_manifest,
    record_verification,
    sha256_of,
    write_manifest,
)
from novamem.storage.embedded import EmbeddedPostgres
from novamem.storage.postgres.dumps import (
    SAMPLE_ROWS,
    dump_database,
    restore_dump,
    scratch_database,
    snapshot_tables,
    user_relations,
)

__all__ = ["add_parsers", "database_for", "run_backup", "run_restore"]

_NEWEST = ""


def add_parsers(sub: Any) -> None:
    """Register `backup` and `restore` on the top-level subparsers."""
    backup = sub.add_parser(
        "backup",
        help="dump the database with a manifest, or verify a dump (--verify)",
        description="Write a consistent PostgreSQL dump (pg_dump custom format) and a JSON manifest "
        "(time, size, SHA-256, schema version, row counts, sample hashes). Safe while the server runs. "
        "With --verify, restore a dump into a scratch database, compare it with its manifest and record "
        "the result (exit code 1 on a mismatch).",
    )
    backup.add_argument("--out", type=Path, help="directory for backups (default: NOVAMEM_BACKUP_DIR)")
    backup.add_argument(
        "--verify",
        nargs="?",
        const=_NEWEST,
        metavar="FILE",
        help="verify FILE (a .dump or its .json manifest; default: the newest backup in the directory)",
    )
    backup.add_argument("--json", action="store_true", help="print the manifest or the verification as JSON")
    restore = sub.add_parser(
        "restore",
        help="restore a dump into an empty database",
        description="Restore a dump made by `novamem backup` into an EMPTY database (refused otherwise), "
        "after checking the dump's SHA-256 against its manifest; row counts are compared afterwards.",
    )
    restore.add_argument("file", type=Path, help="the .dump file (its .json manifest must sit beside it)")
    restore.add_argument("--database-url", required=True, help="the empty target database (postgresql://...)")


def _say(text: str) -> None:
    print(text, flush=True)  # noqa: T201


@contextmanager
def database_for(settings: Settings, *, start: bool = True) -> Iterator[str | None]:
    """The URL of the configured database. An embedded one that is running is shared, never stopped;
    one that is not is started for the command (`start`) and stopped after it, or skipped (None)."""
    if settings.database_url is not None:
        yield settings.database_url.get_secret_value()
        return
    pgdata = settings.data_dir / "pg"
    if not pgdata.is_dir():
        raise ConfigError(
            f"no embedded database in {settings.data_dir}; set NOVAMEM_DATA_DIR to the server's data "
            "directory, or NOVAMEM_DATABASE_URL"
        )
    if not start and not EmbeddedPostgres(settings.data_dir).is_running():
        yield None
        return
    url, embedded = resolve_database_url(settings)
    try:
        yield url
    finally:
        if embedded is not None:
            embedded.stop()


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _settings() -> Settings:
    # no embedder: backups never embed, and loading a model would only slow the command down
    return load_settings(embeddings_provider=EmbeddingsProvider.NONE, jobs_enabled=False)


def run_backup(args: argparse.Namespace) -> int:
    """`novamem backup` or, with --verify, `novamem backup --verify`."""
    settings = _settings()
    directory: Path = args.out or settings.effective_backup_dir
    if args.verify is not None:
        return _verify(settings, directory, args)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    started = _now()
    dump = _free_name(directory, new_backup_name(started))
    partial = dump.with_name(dump.name + ".partial")
    # created private before pg_dump writes into it: the dump holds password and token hashes
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    try:
        with database_for(settings) as url:
            assert url is not None
            info = dump_database(url, partial)
        os.replace(partial, dump)
    finally:
        partial.unlink(missing_ok=True)
    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "createdAt": _iso(started),
        "novamemVersion": __version__,
        "postgresVersion": info.server_version,
        "migration": {"version": info.migration_version, "name": info.migration_name},
        "dump": {"file": dump.name, "format": "pg_dump custom", "size": dump.stat().st_size, "sha256": sha256_of(dump)},
        "sampleRowsPerTable": SAMPLE_ROWS,
        "tables": {name: table.to_json() for name, table in info.tables.items()},
        "stores": STORES_NOTE,
        "verification": None,
    }
    write_manifest(manifest_path_for(dump), manifest)
    if args.json:
        _say(json.dumps(manifest, indent=2, sort_keys=True))
    else:
        rows = sum(t.rows for t in info.tables.values())
        _say(
            f"backup written: {dump} ({manifest['dump']['size']} bytes, {len(info.tables)} tables, {rows} rows, "
            f"migration {info.migration_version}); manifest {manifest_path_for(dump)}"
        )
    return 0


def _free_name(directory: Path, stem: str) -> Path:
    candidate, n = directory / f"{stem}.dump", 1
    while candidate.exists() or manifest_path_for(candidate).exists():
        n += 1
        candidate = directory / f"{stem}-{n}.dump"
    return candidate


def _load(path: Path) -> BackupSet:
    dump = dump_path_for(path) if path.suffix == ".json" else path
    if not dump.is_file():
        raise InvalidInput(f"no dump file {dump}")
    try:
        manifest = read_manifest(manifest_path_for(dump))
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    return BackupSet(dump, manifest_path_for(dump), manifest)


def _checksum_problem(backup: BackupSet) -> str | None:
    expected = str(backup.manifest["dump"].get("sha256", ""))
    actual = sha256_of(backup.dump)
    if actual == expected:
        return None
    return f"SHA-256 of {backup.dump.name} is {actual}, the manifest says {expected}: the dump was changed or damaged"


def _verify(settings: Settings, directory: Path, args: argparse.Namespace) -> int:
    if args.verify == _NEWEST:
        found = find_backups(directory)
        if not found:
            raise InvalidInput(f"no backups in {directory}; run `novamem backup` first")
        backup = found[0]
    else:
        backup = _load(Path(args.verify))
    problem = _checksum_problem(backup)
    problems = [problem] if problem else []
    if not problems:
        with database_for(settings) as url:
            assert url is not None
            with scratch_database(url) as scratch:
                try:
                    restore_dump(scratch, backup.dump)
                    problems = compare_tables(backup.tables, snapshot_tables(scratch))
                except NovamemError as exc:
                    problems = [f"restore failed: {exc.message}"]
    record = record_verification(backup, ok=not problems, problems=problems, now=_now())
    if args.json:
        _say(json.dumps({"dump": str(backup.dump), **record}, indent=2))
    elif problems:
        _say(f"verification FAILED for {backup.dump}:\n  " + "\n  ".join(problems))
    else:
        tables = backup.tables
        _say(
            f"verified {backup.dump}: restored into a scratch database; {len(tables)} tables and "
            f"{sum(t.rows for t in tables.values())} rows match the manifest, samples identical"
        )
    return 0 if not problems else 1


def run_restore(args: argparse.Namespace) -> int:
    """`novamem restore FILE --database-url URL`."""
    backup = _load(args.file)
    problem = _checksum_problem(backup)
    if problem:
        raise InvalidInput(f"{problem}; refusing to restore it")
    url = str(args.database_url)
    present = user_relations(url)
    if present:
        raise Conflict(
            f"the target database is not empty ({present} tables, views or sequences); restore only into a "
            "new, empty database (for example: createdb novamem_restored)"
        )
    restore_dump(url, backup.dump)
    problems = compare_tables(backup.tables, snapshot_tables(url))
    if problems:
        _say("restored, but the copy differs from the manifest:\n  " + "\n  ".join(problems))
        return 1
    migration = backup.manifest.get("migration", {}).get("version")
    _say(
        f"restored {backup.dump.name} (backed up {backup.manifest['createdAt']}, migration {migration}); "
        f"{len(backup.tables)} tables match the manifest. Point NOVAMEM_DATABASE_URL at it and start the server."
    )
    return 0
