"""`novamem user ...` and `novamem tenant ...`: accounts from the command line, through the same
services as the admin API (no server needs to run). Commands act as the deployment's operator and are
recorded in the audit log as such."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from novamem.config import AuthMode, EmbeddingsProvider, load_settings
from novamem.container import Container
from novamem.domain.scope import PUBLIC_TENANT, Caller
from novamem.errors import ConfigError
from novamem.services.identity.passwords import generate_password

__all__ = ["add_parsers", "run_tenant", "run_user"]

_TENANT_HELP = "the tenant (tenant mode only; default: the default tenant)"


def add_parsers(sub: Any) -> None:
    """Register the `user` and `tenant` command groups on the top-level subparsers."""
    user = sub.add_parser(
        "user",
        help="create, list, delete and manage user accounts",
        description="Manage user accounts (NOVAMEM_AUTH_MODE user or tenant). Users are created only by "
        "admins, here or through the admin API; there is no public sign-up.",
    )
    actions = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)

    create = actions.add_parser(
        "create",
        help="create a user (who must change the password at first sign-in)",
        description="Create a user. Without --password you are prompted on a terminal; otherwise a random "
        "password is generated and printed once. The user must change it at first sign-in.",
    )
    create.add_argument("--email", required=True, help="sign-in email (unique on the server)")
    create.add_argument("--name", help="display name (default: provisioned-user)")
    create.add_argument("--role", choices=("admin", "user"), default="user", help="role (default: user)")
    create.add_argument("--password", help="initial password, 8-256 characters (visible in shell history)")
    create.add_argument("--tenant", default=PUBLIC_TENANT, help=_TENANT_HELP)

    listing = actions.add_parser("list", help="list users with their entry and token counts")
    listing.add_argument("--tenant", default=PUBLIC_TENANT, help=_TENANT_HELP)
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")

    delete = actions.add_parser(
        "delete",
        help="erase a user and all their data",
        description="Erase a user: owned projects (with everything in them), entries, tokens, memberships "
        "and sessions. The last admin cannot be deleted.",
    )
    delete.add_argument("id", help="user id")
    delete.add_argument("--dry-run", action="store_true", help="only report what would be deleted")
    delete.add_argument("--tenant", default=PUBLIC_TENANT, help=_TENANT_HELP)

    role = actions.add_parser("set-role", help="make a user an admin or a plain user")
    role.add_argument("id", help="user id")
    role.add_argument("role", choices=("admin", "user"), help="the new role (the last admin cannot be demoted)")
    role.add_argument("--tenant", default=PUBLIC_TENANT, help=_TENANT_HELP)

    ban = actions.add_parser("ban", help="ban a user (sessions end, tokens stop working)")
    ban.add_argument("id", help="user id")
    ban.add_argument("--reason", help="why (kept with the account)")
    ban.add_argument("--days", type=int, help="lift the ban after this many days (default: never)")
    ban.add_argument("--tenant", default=PUBLIC_TENANT, help=_TENANT_HELP)

    unban = actions.add_parser("unban", help="lift a ban")
    unban.add_argument("id", help="user id")
    unban.add_argument("--tenant", default=PUBLIC_TENANT, help=_TENANT_HELP)

    password = actions.add_parser(
        "set-password",
        help="set a user's password (they must change it at next sign-in)",
        description="Set a user's password and end their sessions. Without --password you are prompted on a "
        "terminal; otherwise a random one is generated and printed once.",
    )
    password.add_argument("id", help="user id")
    password.add_argument("--password", help="the new password, 8-256 characters")
    password.add_argument("--tenant", default=PUBLIC_TENANT, help=_TENANT_HELP)

    tenant = sub.add_parser(
        "tenant",
        help="create and list tenants (tenant mode)",
        description="Manage tenants (NOVAMEM_AUTH_MODE=tenant). Each tenant has its own users, admins, "
        "projects and tokens; nothing is shared across tenants.",
    )
    tactions = tenant.add_subparsers(dest="tenant_command", metavar="ACTION", required=True)
    tcreate = tactions.add_parser(
        "create",
        help="create a tenant and its first admin",
        description="Create a tenant and its first admin. Without --admin-password a random password is "
        "generated and printed once; the admin must change it at first sign-in.",
    )
    tcreate.add_argument("--name", required=True, help="tenant name (1-128 characters)")
    tcreate.add_argument("--admin-email", required=True, help="email of the tenant's first admin")
    tcreate.add_argument("--admin-password", help="initial password of that admin, 8-256 characters")
    tactions.add_parser("list", help="list tenants")


def _operator(tenant_id: str) -> Caller:
    """The command line acts as the deployment's operator (audit label `operator`)."""
    return Caller(
        tenant_id=tenant_id, user_id="cli", is_operator=True, is_admin=True, is_server_admin=tenant_id == PUBLIC_TENANT
    )


def _password(given: str | None) -> tuple[str, bool]:
    """The password to use, and whether it was generated (and so must be printed once)."""
    if given is not None:
        return given, False
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if first != getpass.getpass("again: "):
            raise ConfigError("the passwords differ")
        return first, False
    return generate_password(), True


def run_user(args: argparse.Namespace) -> int:
    actions: dict[str, Callable[[Container], Awaitable[int]]] = {
        "create": lambda c: _create(c, args),
        "list": lambda c: _list(c, args),
        "delete": lambda c: _delete(c, args),
        "set-role": lambda c: _set_role(c, args),
        "ban": lambda c: _ban(c, args),
        "unban": lambda c: _unban(c, args),
        "set-password": lambda c: _set_password(c, args),
    }
    return asyncio.run(_with_container(actions[args.user_command]))


def run_tenant(args: argparse.Namespace) -> int:
    actions: dict[str, Callable[[Container], Awaitable[int]]] = {
        "create": lambda c: _tenant_create(c, args),
        "list": lambda c: _tenant_list(c),
    }
    return asyncio.run(_with_container(actions[args.tenant_command], tenant=True))


async def _with_container(action: Callable[[Container], Awaitable[int]], *, tenant: bool = False) -> int:
    # account work never embeds; loading the model would only slow the command down
    settings = load_settings(embeddings_provider=EmbeddingsProvider.NONE, jobs_enabled=False)
    if not settings.auth_mode.has_accounts:
        raise ConfigError(f"accounts need NOVAMEM_AUTH_MODE=user or tenant (it is {settings.auth_mode.value})")
    if tenant and settings.auth_mode is not AuthMode.TENANT:
        raise ConfigError("tenants need NOVAMEM_AUTH_MODE=tenant")
    container = await Container.build(settings)
    try:
        return await action(container)
    finally:
        await container.close()


def _print(text: str) -> None:
    print(text, flush=True)  # noqa: T201


async def _create(c: Container, args: argparse.Namespace) -> int:
    password, generated = _password(args.password)
    user = await c.users.create(
        _operator(args.tenant),
        email=args.email,
        password=password,
        name=args.name,
        role=args.role,
        tenant_id=args.tenant,
    )
    _print(f"created {user.role} {user.email} (id {user.id}); the password must be changed at first sign-in")
    if generated:
        _print(f"one-time password (shown only now): {password}")
    return 0


async def _list(c: Container, args: argparse.Namespace) -> int:
    listed = await c.users.overview(_operator(args.tenant))
    if args.json:
        _print(json.dumps(listed.to_wire(), indent=2))
        return 0
    for u in listed.users:
        _print("\t".join([u.id, u.email, u.role, u.name, u.created_at, str(u.entry_count), str(u.token_count)]))
    return 0


async def _delete(c: Container, args: argparse.Namespace) -> int:
    result = await c.users.erase(_operator(args.tenant), args.id, dry_run=args.dry_run)
    _print(json.dumps(result.to_wire(), indent=2))
    return 0


async def _set_role(c: Container, args: argparse.Namespace) -> int:
    user = await c.users.set_role(_operator(args.tenant), args.id, args.role)
    _print(f"{user.email} is now {user.role}")
    return 0


async def _ban(c: Container, args: argparse.Namespace) -> int:
    seconds = args.days * 86400 if args.days else None
    user = await c.users.ban(_operator(args.tenant), args.id, reason=args.reason, expires_in_seconds=seconds)
    _print(f"banned {user.email}")
    return 0


async def _unban(c: Container, args: argparse.Namespace) -> int:
    user = await c.users.unban(_operator(args.tenant), args.id)
    _print(f"unbanned {user.email}")
    return 0


async def _set_password(c: Container, args: argparse.Namespace) -> int:
    password, generated = _password(args.password)
    await c.users.set_password(_operator(args.tenant), args.id, password)
    _print("password set; it must be changed at next sign-in")
    if generated:
        _print(f"one-time password (shown only now): {password}")
    return 0


async def _tenant_create(c: Container, args: argparse.Namespace) -> int:
    password, generated = (args.admin_password, False) if args.admin_password else (generate_password(), True)
    created = await c.tenants.create(
        _operator(PUBLIC_TENANT), name=args.name, admin_email=args.admin_email, admin_password=password
    )
    _print(f"created tenant {created.name} (id {created.id}); admin {args.admin_email} (id {created.admin_user_id})")
    if generated:
        _print(f"admin one-time password (shown only now): {password}")
    return 0


async def _tenant_list(c: Container) -> int:
    for t in (await c.tenants.list_all(_operator(PUBLIC_TENANT))).tenants:
        _print("\t".join([t.id, t.name, t.created_at]))
    return 0
