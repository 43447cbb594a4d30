"""The embedded PostgreSQL keeps pgserver's multi-line command dumps in its own file, not in the server's log."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from novamem.storage.embedded import PGSERVER_LOG, EmbeddedPostgres, route_pgserver_logs


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_pgserver_command_dumps_go_to_a_file_in_the_data_directory(tmp_path: Path) -> None:
    # a handler on the root logger sees what the process's log would (pytest's own capture handlers can sit on
    # the `pgserver` logger itself when another test started a database first, so caplog cannot tell)
    root = logging.getLogger()
    seen = _Collect()
    root.addHandler(seen)
    level = root.level
    root.setLevel(logging.DEBUG)
    embedded = EmbeddedPostgres(tmp_path)
    try:
        embedded.start()
    finally:
        embedded.stop()
        root.removeHandler(seen)
        root.setLevel(level)
    pgserver_lines = [r for r in seen.records if r.name.startswith("pgserver")]
    assert pgserver_lines == [], "pgserver's records never reach the process's log"
    ours = [r.getMessage() for r in seen.records if r.name == "novamem.storage"]
    assert any("starting embedded PostgreSQL" in line and PGSERVER_LOG in line for line in ours)
    assert all("\n" not in line for line in ours)
    text = (tmp_path / PGSERVER_LOG).read_text()
    assert "Running commandline" in text and "initdb" in text


def test_pgserver_warnings_still_reach_the_log_as_one_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = route_pgserver_logs(tmp_path)
    with caplog.at_level(logging.INFO):
        logging.getLogger("pgserver").error("Failed to start server.\nShowing contents of the log:\n...")
        logging.getLogger("pgserver").info("Running commandline:\nsomething\nlong")
    forwarded = [r for r in caplog.records if r.name == "novamem.storage"]
    assert [r.getMessage() for r in forwarded] == [f"embedded PostgreSQL: Failed to start server. (details in {path})"]
    assert forwarded[0].levelno == logging.ERROR
    logging.getLogger("pgserver").handlers[0].flush()
    assert "Showing contents of the log" in path.read_text() and "Running commandline" in path.read_text()
