"""Backup files on disk: a PostgreSQL dump and the JSON manifest written beside it, and the contract of
the engine that makes and restores dumps.

`novamem backup` writes `novamem-<UTC time>.dump` (pg_dump custom format) and `novamem-<UTC time>.json`
(the manifest: when, how big, its SHA-256, the schema version, per-table row counts and a hash of a
deterministic sample of each table). `backup --verify` adds its result to the manifest, where
`novamem doctor` reads it. Nothing here talks to a database: `DatabaseDumps` is implemented by
`storage/postgres/dumps.py`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

__all__ = [
    "MANIFEST_FORMAT",
    "STORES_NOTE",
    "BackupSet",
    "DatabaseDumps",
    "DumpInfo",
    "TableSnapshot",
    "compare_tables",
    "dump_path_for",
    "find_backups",
    "manifest_path_for",
    "new_dump_path",
    "new_manifest",
    "private_partial",
    "read_manifest",
    "record_verification",
    "sha256_of",
    "write_manifest",
]

MANIFEST_FORMAT = "novamem-backup/1"
STORES_NOTE = (
    "Everything is in this PostgreSQL dump: memories, vectors (pgvector columns), graph edges "
    "(memory_relations rows), accounts, tokens and the audit log. There is no separate vector or graph "
    "store to back up."
)
_PREFIX = "novamem-"


@dataclass(frozen=True, slots=True)
class TableSnapshot:
    """One table as seen in one snapshot: its row count and the SHA-256 of its first rows in key order."""

    rows: int
    sample_rows: int
    sample_sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "sampleRows": self.sample_rows, "sampleSha256": self.sample_sha256}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> TableSnapshot:
        return cls(int(raw["rows"]), int(raw["sampleRows"]), str(raw["sampleSha256"]))


@dataclass(frozen=True, slots=True)
class DumpInfo:
    """What a dump holds, read in the dump's own snapshot."""

    tables: dict[str, TableSnapshot]
    migration_version: int | None
    migration_name: str | None
    server_version: str
    sample_rows_per_table: int


class DatabaseDumps(Protocol):
    """Whole-database dumps of one database: write and restore dump files, and fingerprint its tables."""

    def dump(self, out: Path) -> DumpInfo:
        """Dump the whole database into `out`, and describe what the dump holds (same snapshot)."""
        ...

    def restore(self, dump: Path) -> None:
        """Restore `dump` into this database, all or nothing."""
        ...

    def snapshot(self) -> dict[str, TableSnapshot]:
        """Row counts and sample hashes of every table (one consistent snapshot)."""
        ...

    def relation_count(self) -> int:
        """Tables, views and sequences outside the system schemas (0: an empty database)."""
        ...

    def scratch(self) -> AbstractContextManager[DatabaseDumps]:
        """A new empty database on the same server for the `with` block, dropped afterwards."""
        ...


@dataclass(frozen=True, slots=True)
class BackupSet:
    """A dump and its manifest, as found in a backup directory."""

    dump: Path
    manifest_path: Path
    manifest: dict[str, Any]

    @property
    def created_at(self) -> datetime:
        return _parse_time(self.manifest["createdAt"])

    @property
    def verification(self) -> dict[str, Any] | None:
        found = self.manifest.get("verification")
        return found if isinstance(found, dict) else None

    @property
    def verified_at(self) -> datetime | None:
        found = self.verification
        return _parse_time(found["at"]) if found and found.get("at") else None

    @property
    def tables(self) -> dict[str, TableSnapshot]:
        return {name: TableSnapshot.from_json(raw) for name, raw in self.manifest.get("tables", {}).items()}

    @property
    def row_count(self) -> int:
        """Rows over all tables, as the manifest records them."""
        return sum(table.rows for table in self.tables.values())

    @property
    def migration_version(self) -> int | None:
        found = self.manifest.get("migration", {}).get("version")
        return int(found) if found is not None else None


def new_backup_name(now: datetime) -> str:
    """`novamem-20250102T030405Z`: sorts by time, safe in every file system."""
    return _PREFIX + now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def new_dump_path(directory: Path, now: datetime) -> Path:
    """A free `<directory>/novamem-<time>.dump` (`-2`, `-3`... when taken); the directory is made private."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    stem = new_backup_name(now)
    candidate, n = directory / f"{stem}.dump", 1
    while candidate.exists() or manifest_path_for(candidate).exists():
        n += 1
        candidate = directory / f"{stem}-{n}.dump"
    return candidate


@contextmanager
def private_partial(path: Path) -> Iterator[Path]:
    """An owner-only `<path>.partial` to write into, renamed to `path` when the block succeeds and removed
    when it fails (a dump holds password and token hashes, so it is private before a byte is written)."""
    partial = path.with_name(path.name + ".partial")
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def manifest_path_for(dump: Path) -> Path:
    return dump.with_suffix(".json")


def dump_path_for(manifest: Path) -> Path:
    return manifest.with_suffix(".dump")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _write_private(path: Path, text: str) -> None:
    """Write `text` to `path` atomically, readable by the owner only (dumps hold password hashes)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def new_manifest(dump: Path, info: DumpInfo, *, created_at: datetime, version: str) -> dict[str, Any]:
    """The manifest of a dump just written: the file's size and SHA-256 plus what `info` says it holds."""
    return {
        "format": MANIFEST_FORMAT,
        "createdAt": _iso(created_at),
        "novamemVersion": version,
        "postgresVersion": info.server_version,
        "migration": {"version": info.migration_version, "name": info.migration_name},
        "dump": {"file": dump.name, "format": "pg_dump custom", "size": dump.stat().st_size, "sha256": sha256_of(dump)},
        "sampleRowsPerTable": info.sample_rows_per_table,
        "tables": {name: table.to_json() for name, table in info.tables.items()},
        "stores": STORES_NOTE,
        "verification": None,
    }


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    _write_private(path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest at `path`; ValueError when it is missing, not JSON or not ours."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"no manifest {path.name} beside the dump") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"manifest {path.name} cannot be read: {exc}") from None
    if not isinstance(raw, dict) or raw.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"{path.name} is not a novamem backup manifest")
    for key in ("createdAt", "dump", "tables"):
        if key not in raw:
            raise ValueError(f"manifest {path.name} has no {key!r}")
    return raw


def find_backups(directory: Path) -> list[BackupSet]:
    """Every readable backup (manifest plus dump) in `directory`, newest first."""
    found: list[BackupSet] = []
    if not directory.is_dir():
        return found
    for manifest_path in directory.glob(_PREFIX + "*.json"):
        try:
            manifest = read_manifest(manifest_path)
            _parse_time(manifest["createdAt"])
        except (ValueError, TypeError, KeyError):
            continue
        dump = dump_path_for(manifest_path)
        if dump.is_file():
            found.append(BackupSet(dump, manifest_path, manifest))
    return sorted(found, key=lambda b: b.created_at, reverse=True)


def compare_tables(expected: dict[str, TableSnapshot], actual: dict[str, TableSnapshot]) -> list[str]:
    """What differs between the manifest's tables and a restored copy (empty: identical)."""
    problems = []
    for name in sorted(expected.keys() | actual.keys()):
        want, got = expected.get(name), actual.get(name)
        if want is None:
            problems.append(f"{name}: in the restored copy but not in the manifest")
        elif got is None:
            problems.append(f"{name}: missing from the restored copy")
        elif want.rows != got.rows:
            problems.append(f"{name}: {got.rows} rows restored, {want.rows} backed up")
        elif want.sample_sha256 != got.sample_sha256:
            problems.append(f"{name}: the sample of {want.sample_rows} rows differs")
    return problems


def record_verification(backup: BackupSet, *, ok: bool, problems: list[str], now: datetime) -> dict[str, Any]:
    """Store the outcome of `backup --verify` in the manifest (doctor reads it); returns the record."""
    record = {"at": _iso(now), "ok": ok, "problems": problems}
    manifest = dict(backup.manifest, verification=record)
    write_manifest(backup.manifest_path, manifest)
    return record
