"""Backup files on disk (`storage/backups.py`): free names, private partial files, the manifest's shape."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from novamem.storage.backups import (
    MANIFEST_FORMAT,
    BackupSet,
    DumpInfo,
    TableSnapshot,
    new_dump_path,
    new_manifest,
    private_partial,
    read_manifest,
    write_manifest,
)

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_dump_path_is_free_and_its_directory_private(tmp_path: Path) -> None:
    directory = tmp_path / "backups"
    first = new_dump_path(directory, NOW)
    assert first == directory / "novamem-20250102T030405Z.dump"
    assert _mode(directory) == 0o700
    first.write_bytes(b"taken")
    assert new_dump_path(directory, NOW).name == "novamem-20250102T030405Z-2.dump"
    # a manifest alone also takes the name
    (directory / "novamem-20250102T030405Z-2.json").write_text("{}")
    assert new_dump_path(directory, NOW).name == "novamem-20250102T030405Z-3.dump"


def test_a_partial_file_is_private_from_the_start_and_renamed_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "x.dump"
    with private_partial(target) as partial:
        assert partial == tmp_path / "x.dump.partial"
        assert _mode(partial) == 0o600
        partial.write_bytes(b"dump")
    assert target.read_bytes() == b"dump" and not partial.exists()

    failed = tmp_path / "y.dump"
    with pytest.raises(RuntimeError), private_partial(failed) as partial:
        partial.write_bytes(b"half")
        raise RuntimeError("pg_dump failed")
    assert not failed.exists() and not partial.exists()


def test_a_new_manifest_describes_the_dump_and_reads_back(tmp_path: Path) -> None:
    dump = tmp_path / "novamem-20250102T030405Z.dump"
    dump.write_bytes(b"0123456789")
    info = DumpInfo({"public.users": TableSnapshot(3, 3, "ab" * 32)}, 7, "007_x.sql", "18.0", 100)
    manifest = new_manifest(dump, info, created_at=NOW, version="9.9.9")
    assert manifest["format"] == MANIFEST_FORMAT and manifest["createdAt"] == "2025-01-02T03:04:05Z"
    assert manifest["dump"]["size"] == 10 and len(manifest["dump"]["sha256"]) == 64
    assert manifest["migration"] == {"version": 7, "name": "007_x.sql"} and manifest["sampleRowsPerTable"] == 100
    path = dump.with_suffix(".json")
    write_manifest(path, manifest)
    assert _mode(path) == 0o600
    backup = BackupSet(dump, path, read_manifest(path))
    assert backup.tables == info.tables and backup.row_count == 3 and backup.migration_version == 7
    assert backup.created_at == NOW and backup.verification is None
