"""Backups of the deployment's database: write a dump with its manifest, verify one, restore one.

The command line (`novamem backup`, `backup --verify`, `restore`) and `novamem doctor` use this service.
A backup works while the server runs. Verifying restores the dump into a scratch database on the same
server and compares it with the manifest, then records the outcome in the manifest. Restoring is allowed
only into an empty database, and only once the dump's SHA-256 matches its manifest.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from novamem.errors import Conflict, InvalidInput, NovamemError
from novamem.storage.backups import (
    BackupSet,
    DatabaseDumps,
    compare_tables,
    dump_path_for,
    find_backups,
    manifest_path_for,
    new_dump_path,
    new_manifest,
    private_partial,
    read_manifest,
    record_verification,
    sha256_of,
    write_manifest,
)

__all__ = ["BackupService", "Verification", "load_backup", "restore_backup"]


@dataclass(frozen=True, slots=True)
class Verification:
    """The outcome of verifying one backup: what differed (nothing: it passed) and the manifest's record."""

    backup: BackupSet
    problems: list[str]
    record: dict[str, Any]

    @property
    def ok(self) -> bool:
        return not self.problems


def load_backup(path: Path) -> BackupSet:
    """The backup that `path` names: its `.dump` or its `.json` manifest; `InvalidInput` when unreadable."""
    dump = dump_path_for(path) if path.suffix == ".json" else path
    if not dump.is_file():
        raise InvalidInput(f"no dump file {dump}")
    try:
        manifest = read_manifest(manifest_path_for(dump))
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    return BackupSet(dump, manifest_path_for(dump), manifest)


def restore_backup(backup: BackupSet, target: DatabaseDumps) -> list[str]:
    """Restore `backup` into the empty `target`; returns how the copy differs from the manifest.

    Refused (`InvalidInput`) when the dump does not match its manifest's SHA-256, and (`Conflict`) when
    the target holds any table, view or sequence.
    """
    problem = _checksum_problem(backup)
    if problem:
        raise InvalidInput(f"{problem}; refusing to restore it")
    present = target.relation_count()
    if present:
        raise Conflict(
            f"the target database is not empty ({present} tables, views or sequences); restore only into a "
            "new, empty database (for example: createdb novamem_restored)"
        )
    target.restore(backup.dump)
    return compare_tables(backup.tables, target.snapshot())


class BackupService:
    """Backups of the configured database in one directory.

    `database` opens the configured database for one block (an embedded one is started for it when it
    is not running, and stopped after); it is opened only when a step needs it.
    """

    def __init__(
        self,
        directory: Path,
        *,
        database: Callable[[], AbstractContextManager[DatabaseDumps]],
        version: str,
    ) -> None:
        self.directory = directory
        self._database = database
        self._version = version

    def existing(self) -> list[BackupSet]:
        """Every readable backup in the directory, newest first."""
        return find_backups(self.directory)

    def newest(self) -> BackupSet:
        """The newest backup; `InvalidInput` when there is none."""
        found = self.existing()
        if not found:
            raise InvalidInput(f"no backups in {self.directory}; run `novamem backup` first")
        return found[0]

    def back_up(self, *, now: datetime) -> BackupSet:
        """Dump the configured database into a new, owner-only file and write its manifest beside it."""
        dump = new_dump_path(self.directory, now)
        with private_partial(dump) as partial, self._database() as database:
            info = database.dump(partial)
        manifest = new_manifest(dump, info, created_at=now, version=self._version)
        write_manifest(manifest_path_for(dump), manifest)
        return BackupSet(dump, manifest_path_for(dump), manifest)

    def verify(self, backup: BackupSet, *, now: datetime) -> Verification:
        """Check the dump's SHA-256, restore it into a scratch database, compare it with the manifest, and
        record the outcome in the manifest (where `novamem doctor` reads it)."""
        problem = _checksum_problem(backup)
        problems = [problem] if problem else []
        if not problems:
            with self._database() as database, database.scratch() as scratch:
                try:
                    scratch.restore(backup.dump)
                    problems = compare_tables(backup.tables, scratch.snapshot())
                except NovamemError as exc:
                    problems = [f"restore failed: {exc.message}"]
        record = record_verification(backup, ok=not problems, problems=problems, now=now)
        return Verification(backup, problems, record)


def _checksum_problem(backup: BackupSet) -> str | None:
    expected = str(backup.manifest["dump"].get("sha256", ""))
    actual = sha256_of(backup.dump)
    if actual == expected:
        return None
    return f"SHA-256 of {backup.dump.name} is {actual}, the manifest says {expected}: the dump was changed or damaged"
