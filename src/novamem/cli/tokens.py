"""`novamem token create|list|revoke`: API tokens from the command line, through the same services as
the HTTP API (no server needs to run; a running server's embedded database is shared, not stopped)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from novamem.config import EmbeddingsProvider, load_settings
from novamem.container import Container
from novamem.domain.scope import PUBLIC_TENANT
from novamem.errors import ConfigError

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register the `token` command group on the top-level subparsers."""
    token = sub.add_parser(
        "token",
        help="mint, list and revoke API tokens",
        description="Mint, list and revoke users' API tokens (nm_...). Needs NOVAMEM_AUTH_MODE user or tenant.",
    )
    actions = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)

    create = actions.add_parser(
        "create", help="mint a token for a user and print it once", description="Mint an API token for a user."
    )
    create.add_argument("--email", required=True, help="the user's exact email address")
    create.add_argument("--label", default="", help="what the token is for (at most 128 characters)")
    create.add_argument("--scope", choices=("full", "read_only"), default="full", help="read_only tokens cannot write")
    create.add_argument("--project", help="confine the token to this project (id or name; the user must be a member)")
    create.add_argument("--expires-in-days", type=int, help="days until the token stops working (1-3650)")
    create.add_argument("--tenant", default=PUBLIC_TENANT, help="the user's tenant (tenant mode only)")
    create.add_argument("--json", action="store_true", help="print the whole answer as JSON")

    listing = actions.add_parser("list", help="list a user's tokens (hashes, never plaintexts)")
    listing.add_argument("--email", required=True, help="the user's exact email address")
    listing.add_argument("--tenant", default=PUBLIC_TENANT, help="the user's tenant (tenant mode only)")

    revoke = actions.add_parser("revoke", help="revoke a token by its plaintext")
    revoke.add_argument("--token", required=True, help="the token to revoke (nm_...)")
    revoke.add_argument("--tenant", default=PUBLIC_TENANT, help="the token owner's tenant (tenant mode only)")


def run(args: argparse.Namespace) -> int:
    """Run one `token` action; errors surface as NovamemError (mapped to exit codes by main)."""
    action: Callable[[Container], Awaitable[int]] = {
        "create": lambda c: _create(c, args),
        "list": lambda c: _list(c, args),
        "revoke": lambda c: _revoke(c, args),
    }[args.token_command]
    return asyncio.run(_with_container(action))


async def _with_container(action: Callable[[Container], Awaitable[int]]) -> int:
    # no embedder: token work never embeds, and loading the model would only slow the command down
    settings = load_settings(embeddings_provider=EmbeddingsProvider.NONE, jobs_enabled=False)
    if not settings.auth_mode.has_accounts:
        raise ConfigError(f"API tokens need NOVAMEM_AUTH_MODE=user or tenant (it is {settings.auth_mode.value})")
    container = await Container.build(settings)
    try:
        return await action(container)
    finally:
        await container.close()


async def _create(c: Container, args: argparse.Namespace) -> int:
    minted = await c.tokens.mint_for_email(
        args.tenant,
        args.email,
        label=args.label,
        scope=args.scope,
        project=args.project,
        expires_in_days=args.expires_in_days,
    )
    if args.json:
        print(json.dumps(minted.to_wire(), indent=2))  # noqa: T201
    else:
        # the token alone on stdout, so `TOKEN=$(novamem token create ...)` captures just the token
        print(minted.token, flush=True)  # noqa: T201
        print(minted.warning, file=sys.stderr)  # noqa: T201
    return 0


async def _list(c: Container, args: argparse.Namespace) -> int:
    listed = await c.tokens.list_for_email(args.tenant, args.email)
    for t in listed.tokens:
        state = "revoked" if t.revoked else "live"
        extras = [f"project={t.project_id}"] if t.project_id else []
        extras += [f"expires={t.expires_at}"] if t.expires_at else []
        fields = [t.token_hash, state, t.scope, t.created_at, f"last-used={t.last_used_at or '-'}", *extras]
        print("\t".join([*fields, t.label]))  # noqa: T201
    return 0


async def _revoke(c: Container, args: argparse.Namespace) -> int:
    revoked = await c.tokens.revoke_plaintext(args.tenant, args.token)
    print("revoked" if revoked else "no live token matches")  # noqa: T201
    return 0 if revoked else 1
