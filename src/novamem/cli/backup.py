"""`novamem backup [--out DIR] [--verify [FILE]]` and `novamem restore FILE --database-url URL`.

A backup is a pg_dump (custom format) of the whole database plus a JSON manifest; it works while the
server runs (a running embedded database is shared, not stopped). `--verify` restores a dump into a
scratch database on the same server, compares it with the manifest and records the result in it.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from novamem.config import EmbeddingsProvider, Settings, load_settings
from novamem.container import build_backups, database_at
from novamem.services.operations.backups import BackupService, load_backup, restore_backup

__all__ = ["add_parsers", "run_backup", "run_restore"]

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


def _now() -> datetime:
    return datetime.now(UTC)


def _settings() -> Settings:
    # no embedder: backups never embed, and loading a model would only slow the command down
    return load_settings(embeddings_provider=EmbeddingsProvider.NONE, jobs_enabled=False)


def run_backup(args: argparse.Namespace) -> int:
    """`novamem backup` or, with --verify, `novamem backup --verify`."""
    backups = build_backups(_settings(), args.out)
    if args.verify is not None:
        return _verify(backups, args)
    backup = backups.back_up(now=_now())
    if args.json:
        _say(json.dumps(backup.manifest, indent=2, sort_keys=True))
    else:
        _say(
            f"backup written: {backup.dump} ({backup.manifest['dump']['size']} bytes, {len(backup.tables)} tables, "
            f"{backup.row_count} rows, migration {backup.migration_version}); manifest {backup.manifest_path}"
        )
    return 0


def _verify(backups: BackupService, args: argparse.Namespace) -> int:
    backup = backups.newest() if args.verify == _NEWEST else load_backup(Path(args.verify))
    verification = backups.verify(backup, now=_now())
    if args.json:
        _say(json.dumps({"dump": str(backup.dump), **verification.record}, indent=2))
    elif not verification.ok:
        _say(f"verification FAILED for {backup.dump}:\n  " + "\n  ".join(verification.problems))
    else:
        _say(
            f"verified {backup.dump}: restored into a scratch database; {len(backup.tables)} tables and "
            f"{backup.row_count} rows match the manifest, samples identical"
        )
    return 0 if verification.ok else 1


def run_restore(args: argparse.Namespace) -> int:
    """`novamem restore FILE --database-url URL`."""
    backup = load_backup(args.file)
    problems = restore_backup(backup, database_at(str(args.database_url)))
    if problems:
        _say("restored, but the copy differs from the manifest:\n  " + "\n  ".join(problems))
        return 1
    _say(
        f"restored {backup.dump.name} (backed up {backup.manifest['createdAt']}, migration "
        f"{backup.migration_version}); {len(backup.tables)} tables match the manifest. Point NOVAMEM_DATABASE_URL "
        "at it and start the server."
    )
    return 0
