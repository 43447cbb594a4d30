"""Arranging accounts with SQL for HTTP tests: users, projects and API tokens in one tenant."""

from __future__ import annotations

import secrets

import httpx
from ulid import ULID

from novamem.domain.credentials import hash_secret, new_api_token
from tests.conftest import RunningServer

COOKIE_SECRET = secrets.token_urlsafe(48)
USER_MODE = {"auth_mode": "user", "cookie_secret": COOKIE_SECRET, "insecure_cookies": True, "jobs_enabled": False}


def add_user(server: RunningServer, name: str, *, role: str = "user", tenant: str = "default") -> str:
    user_id = f"u{secrets.token_hex(12)}"
    server.sql(
        "INSERT INTO users (id, tenant_id, email, name, role) VALUES (%s, %s, %s, %s, %s)",
        (user_id, tenant, f"{name}-{secrets.token_hex(3)}@example.com", name, role),
    )
    return user_id


def add_project(server: RunningServer, name: str, owner: str, *members: str, tenant: str = "default") -> str:
    project_id = str(ULID())
    server.sql(
        "INSERT INTO projects (id, tenant_id, name, owner_user_id) VALUES (%s, %s, %s, %s)",
        (project_id, tenant, name, owner),
    )
    for user, role in [(owner, "owner"), *((m, "member") for m in members)]:
        server.sql(
            "INSERT INTO project_members (project_id, user_id, tenant_id, role) VALUES (%s, %s, %s, %s)",
            (project_id, user, tenant, role),
        )
    return project_id


def mint(
    server: RunningServer, user_id: str, *, scope: str = "full", project: str | None = None, tenant: str = "default"
) -> str:
    token = new_api_token()
    server.sql(
        "INSERT INTO user_tokens (token_hash, tenant_id, user_id, label, scope, project_id)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (hash_secret(token), tenant, user_id, "test", scope, project),
    )
    return token


def client(server: RunningServer, token: str) -> httpx.Client:
    return server.client(headers={"authorization": f"Bearer {token}"})
