"""`novamem jwks rotate`: rotate the signing key of the session JWTs (`GET /api/auth/token`).

The new key signs from the next token on, on every replica; the previous key stays in `GET /api/auth/jwks`
while tokens it signed may still be alive (15 minutes and a minute of clock skew), then is deleted. No server
needs to run; a running server's embedded database is shared, not stopped.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from novamem.config import EmbeddingsProvider, load_settings
from novamem.container import Container
from novamem.errors import ConfigError

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register the `jwks` command group on the top-level subparsers."""
    jwks = sub.add_parser(
        "jwks",
        help="manage the signing key of the session JWTs",
        description="Manage the Ed25519 key that signs session JWTs (/api/auth/token). Needs "
        "NOVAMEM_AUTH_MODE user or tenant and the server's NOVAMEM_COOKIE_SECRET.",
    )
    actions = jwks.add_subparsers(dest="jwks_command", metavar="ACTION", required=True)
    actions.add_parser(
        "rotate",
        help="make a new signing key current and print its key id",
        description="Make a new signing key current. The previous key stays published in the JWKS "
        "until the tokens it signed have expired.",
    )


def run(args: argparse.Namespace) -> int:
    """Run one `jwks` action; errors surface as NovamemError (mapped to exit codes by main)."""
    return asyncio.run(_rotate())


async def _rotate() -> int:
    settings = load_settings(embeddings_provider=EmbeddingsProvider.NONE, jobs_enabled=False)
    container = await Container.build(settings)
    try:
        if container.session_jwt is None:
            raise ConfigError(f"session JWTs need NOVAMEM_AUTH_MODE=user or tenant (it is {settings.auth_mode.value})")
        print(await container.session_jwt.rotate())  # noqa: T201
        return 0
    finally:
        await container.close()
