"""The `novamem` command line."""

from __future__ import annotations

import argparse
import logging
import sys

from novamem import __version__
from novamem.cli import accounts, backup, connect, doctor, jwks, mcp_stdio, reindex, tokens
from novamem.errors import NovamemError

__all__ = ["main"]

EPILOG = """\
Configuration comes from NOVAMEM_* environment variables (and a .env file in the current
directory). With no NOVAMEM_DATABASE_URL an embedded PostgreSQL is started in NOVAMEM_DATA_DIR.
See docs/generated/configuration.md for every variable.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="novamem",
        description="novamem: a self-hosted long-term memory server for AI agents.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"novamem {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = sub.add_parser(
        "serve",
        help="run the HTTP server (migrates the database first)",
        description="Run the HTTP server. Pending migrations are applied first.",
    )
    serve.add_argument("--host", help="bind address (overrides NOVAMEM_HOST; default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="TCP port (overrides NOVAMEM_PORT; default 7778)")
    sub.add_parser(
        "migrate",
        help="apply pending database migrations and exit",
        description="Apply pending forward-only migrations, then exit. Safe to run while "
        "other replicas start: migrations take a database lock.",
    )
    sub.add_parser("version", help="print the version and exit")
    tokens.add_parser(sub)
    jwks.add_parser(sub)
    accounts.add_parsers(sub)
    mcp_stdio.add_parser(sub)
    connect.add_parser(sub)
    doctor.add_parser(sub)
    backup.add_parsers(sub)
    reindex.add_parser(sub)
    return parser


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from novamem.app import create_app
    from novamem.config import load_settings
    from novamem.http.middleware.limits import UVICORN_MAX_HEAD_BYTES
    from novamem.observability.logs import configure_logging
    from novamem.observability.tracing import configure_tracing

    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = load_settings(**overrides)
    configure_logging(settings)  # JSON lines on stdout, uvicorn's own records included (log_config=None below)
    tracing = configure_tracing(settings)  # None, with nothing set up, unless an OTLP endpoint is configured
    app = create_app(settings)
    try:
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            log_level=settings.log_level.value,
            server_header=False,
            access_log=False,
            # open `GET /mcp` keep-alive streams never end on their own; give them a moment, then stop
            timeout_graceful_shutdown=5,
            # request heads up to this size reach the limits middleware (431/414 with the contract's envelope)
            h11_max_incomplete_event_size=UVICORN_MAX_HEAD_BYTES,
            # X-Forwarded-* are read by the app, from NOVAMEM_TRUSTED_PROXIES only; uvicorn's own handling
            # would believe any local peer (FORWARDED_ALLOW_IPS defaults to 127.0.0.1)
            proxy_headers=False,
        )
    finally:
        if tracing is not None:
            tracing.shutdown()  # export the spans still queued
    return 0


def _migrate() -> int:
    from novamem.config import load_settings
    from novamem.container import migrate_database

    settings = load_settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    applied = migrate_database(settings)
    print(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))  # noqa: T201
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "migrate":
            return _migrate()
        if args.command == "token":
            return tokens.run(args)
        if args.command == "jwks":
            return jwks.run(args)
        if args.command == "user":
            return accounts.run_user(args)
        if args.command == "tenant":
            return accounts.run_tenant(args)
        if args.command == "connect":
            return connect.run(args)
        if args.command == "doctor":
            return doctor.run(args)
        if args.command == "backup":
            return backup.run_backup(args)
        if args.command == "restore":
            return backup.run_restore(args)
        if args.command == "reindex":
            return reindex.run(args)
        if args.command == "mcp-stdio":
            return mcp_stdio.run(args)
        if args.command == "version":
            print(f"novamem {__version__}")  # noqa: T201
            return 0
    except NovamemError as exc:
        print(f"novamem: {exc.message}", file=sys.stderr)  # noqa: T201
        return 2
    parser.print_help()
    return 1
