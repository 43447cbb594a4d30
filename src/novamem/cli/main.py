"""The `novamem` command line."""

from __future__ import annotations

import argparse
import logging
import sys

from novamem import __version__
from novamem.cli import accounts, connect, mcp_stdio, tokens
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
    accounts.add_parsers(sub)
    mcp_stdio.add_parser(sub)
    connect.add_parser(sub)
    return parser


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from novamem.app import create_app
    from novamem.config import load_settings

    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = load_settings(**overrides)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.value,
        server_header=False,
        access_log=False,
        # open `GET /mcp` keep-alive streams never end on their own; give them a moment, then stop
        timeout_graceful_shutdown=5,
    )
    return 0


def _migrate() -> int:
    from novamem.config import load_settings
    from novamem.container import resolve_database_url
    from novamem.storage.postgres.database import migrate

    settings = load_settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    url, embedded = resolve_database_url(settings)
    try:
        applied = migrate(url)
    finally:
        if embedded is not None:
            embedded.stop()
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
        if args.command == "user":
            return accounts.run_user(args)
        if args.command == "tenant":
            return accounts.run_tenant(args)
        if args.command == "connect":
            return connect.run(args)
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
