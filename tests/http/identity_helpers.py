"""Shared set-up for the token and project tests: a user-mode server, accounts made with SQL, tokens
minted through the `novamem token` command line (the same service the API uses)."""

from __future__ import annotations

import contextlib
import io
import os
import secrets
from collections.abc import Iterator
from typing import Any
from unittest import mock

import httpx
from ulid import ULID

from novamem.cli.main import main
from novamem.domain.credentials import hash_secret, new_session_token, sign_session_token
from tests.conftest import RunningServer, start_server

COOKIE_SECRET = secrets.token_urlsafe(32)


def start_user_server(database_url: str) -> RunningServer:
    return start_server(
        database_url,
        auth_mode="user",
        cookie_secret=COOKIE_SECRET,
        insecure_cookies=True,
        jobs_enabled=False,
        embeddings_provider="none",
    )


def add_user(server: RunningServer, email: str, *, tenant: str = "default", role: str = "user") -> str:
    """A user row made directly (no password: these users sign in with tokens only)."""
    user_id = str(ULID())
    server.sql("INSERT INTO tenants (id, name) VALUES (%s, %s) ON CONFLICT DO NOTHING", (tenant, tenant))
    server.sql(
        "INSERT INTO users (id, tenant_id, email, name, role) VALUES (%s, %s, %s, %s, %s)",
        (user_id, tenant, email, f"display {email.split('@')[0]}", role),
    )
    return user_id


def cli(server: RunningServer, *argv: str) -> tuple[int, str, str]:
    """Run `novamem ...` against the server's database; returns (exit code, stdout, stderr)."""
    env = {"NOVAMEM_DATABASE_URL": server.database_url, "NOVAMEM_COOKIE_SECRET": COOKIE_SECRET}
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def mint(server: RunningServer, email: str, *extra: str, tenant: str = "default") -> str:
    """A fresh plaintext token for the user, minted by `novamem token create`."""
    code, out, err = cli(server, "token", "create", "--email", email, "--tenant", tenant, *extra)
    assert code == 0, err
    return out.strip()


def session_cookie(server: RunningServer, user_id: str, tenant: str = "default") -> dict[str, str]:
    """A dashboard session for the user (a session row plus its signed cookie)."""
    token = new_session_token()
    server.sql(
        "INSERT INTO auth_sessions (id, token_hash, tenant_id, user_id, expires_at)"
        " VALUES (%s, %s, %s, %s, now() + interval '1 day')",
        (str(ULID()), hash_secret(token), tenant, user_id),
    )
    return {"nm.session_token": sign_session_token(COOKIE_SECRET, token)}


@contextlib.contextmanager
def as_token(server: RunningServer, token: str) -> Iterator[httpx.Client]:
    with server.client(headers={"authorization": f"Bearer {token}"}) as client:
        yield client


def error(response: httpx.Response) -> Any:
    return response.json().get("error")
