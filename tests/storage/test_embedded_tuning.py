"""The embedded PostgreSQL's memory settings follow the machine's RAM, within bounds."""

from __future__ import annotations

import pytest

from novamem.storage.embedded import tuning


@pytest.mark.parametrize(
    ("ram_mb", "shared", "cache"),
    [
        (None, "512MB", "2GB"),  # unknown RAM: the old fixed figure
        (2048, "512MB", "1GB"),  # small machine: never below 512 MB
        (8192, "1GB", "4GB"),
        (24105, "2944MB", "11GB"),  # this kind of CI machine
        (262144, "4GB", "128GB"),  # big machine: shared buffers stop at 4 GB
    ],
)
def test_shared_buffers_are_an_eighth_of_ram_between_bounds(ram_mb: int | None, shared: str, cache: str) -> None:
    settings = tuning(ram_mb)
    assert settings["shared_buffers"] == shared
    assert settings["effective_cache_size"] == cache
    assert settings["work_mem"] == "16MB"


def test_sizes_are_spelled_as_postgresql_shows_them() -> None:
    """A setting already in force must compare equal, or every start would restart the server."""
    for ram in range(1024, 70000, 517):
        value = tuning(ram)["shared_buffers"]
        number, unit = int(value[:-2]), value[-2:]
        assert unit in ("MB", "GB")
        assert not (unit == "MB" and number % 1024 == 0)
