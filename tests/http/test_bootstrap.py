"""First run and configuration of accounts: the bootstrap admin (from variables or with a one-time
password on the console), Secure cookies and cookie-secret rotation, tenant mode, and the CLI."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest
from argon2 import PasswordHasher

from novamem.config import load_settings
from tests.conftest import RunningServer, start_server

SECRET = "Kq9vT2mB7xR4wL8pZ3nF6hJ1sD5gY0cA"
OTHER_SECRET = "Vb3nM8qW1eR6tY9uI2oP5aS7dF0gH4jK"
BASE: dict[str, Any] = {"auth_mode": "user", "embeddings_provider": "none", "jobs_enabled": False}


def _sign_in(server: RunningServer, email: str, password: str) -> httpx.Response:
    server.sql("DELETE FROM rate_counters")
    return httpx.post(server.base_url + "/api/auth/sign-in/email", json={"email": email, "password": password})


def _server_log(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore")))


def test_bootstrap_password_is_read_then_removed_from_the_environment(
    make_database: Callable[[], str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("NOVAMEM_BOOTSTRAP_ADMIN_EMAIL", "boot@example.com")
    monkeypatch.setenv("NOVAMEM_BOOTSTRAP_ADMIN_PASSWORD", "boot-pass-0917")
    server = start_server(make_database(), cookie_secret=SECRET, insecure_cookies=True, **BASE)
    try:
        assert "NOVAMEM_BOOTSTRAP_ADMIN_PASSWORD" not in os.environ
        rows = server.sql("SELECT email, name, role, must_change_password FROM users")
        assert rows == [("boot@example.com", "bootstrap-admin", "admin", True)]
        r = _sign_in(server, "boot@example.com", "boot-pass-0917")
        assert r.status_code == 200 and r.json()["user"]["mustChangePassword"] is True
        assert "boot-pass-0917" not in _server_log(caplog)
    finally:
        server.stop()


def test_load_settings_forgets_the_password_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOVAMEM_BOOTSTRAP_ADMIN_EMAIL", "a@example.com")
    monkeypatch.setenv("NOVAMEM_BOOTSTRAP_ADMIN_PASSWORD", "env-pass-12345")
    settings = load_settings(cookie_secret=SECRET)
    assert settings.bootstrap_admin_password is not None
    assert settings.bootstrap_admin_password.get_secret_value() == "env-pass-12345"
    assert "NOVAMEM_BOOTSTRAP_ADMIN_PASSWORD" not in os.environ
    assert "env-pass-12345" not in repr(settings)


def test_first_start_without_variables_prints_a_one_time_password_once(
    make_database: Callable[[], str], capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = make_database()
    server = start_server(url, cookie_secret=SECRET, insecure_cookies=True, **BASE)
    try:
        printed = capfd.readouterr().err
        found = re.search(r"email:\s+(\S+)\s+password:\s+(\S+)", printed)
        assert found, printed
        email, password = found.groups()
        assert email == "admin@localhost" and "change it" in printed
        assert password not in _server_log(caplog)
        r = _sign_in(server, email, password)
        assert r.status_code == 200 and r.json()["user"]["mustChangePassword"] is True
    finally:
        server.stop()
    again = start_server(url, cookie_secret=SECRET, insecure_cookies=True, **BASE)
    again.stop()
    assert "password:" not in capfd.readouterr().err  # shown once, never again
    assert again.sql("SELECT count(*) FROM users") == [(1,)]


def test_secure_cookie_by_default_and_a_new_secret_ends_every_session(make_database: Callable[[], str]) -> None:
    url = make_database()
    boot = {"bootstrap_admin_email": "sec@example.com", "bootstrap_admin_password": "sec-pass-12345"}
    first = start_server(url, cookie_secret=SECRET, **boot, **BASE)
    try:
        r = _sign_in(first, "sec@example.com", "sec-pass-12345")
        assert r.status_code == 200
        set_cookie = r.headers["set-cookie"]
        assert set_cookie.startswith("__Secure-nm.session_token=")
        assert "secure" in {p.strip().lower() for p in set_cookie.split(";")}
        cookie = set_cookie.split(";", 1)[0]
        session = httpx.get(first.base_url + "/api/auth/get-session", headers={"cookie": cookie})
        assert session.json()["user"]["email"] == "sec@example.com"
        # the unprefixed name is not read when cookies are Secure
        plain = cookie.replace("__Secure-", "", 1)
        assert httpx.get(first.base_url + "/api/auth/get-session", headers={"cookie": plain}).json() is None
    finally:
        first.stop()
    rotated = start_server(url, cookie_secret=OTHER_SECRET, **boot, **BASE)
    try:
        assert httpx.get(rotated.base_url + "/api/auth/get-session", headers={"cookie": cookie}).json() is None
        assert httpx.post(rotated.base_url + "/v1/recent", json={}, headers={"cookie": cookie}).status_code == 401
    finally:
        rotated.stop()
    # same database, the old secret again: the session row was fine, only the signature failed
    back = start_server(url, cookie_secret=SECRET, **boot, **BASE)
    try:
        assert httpx.get(back.base_url + "/api/auth/get-session", headers={"cookie": cookie}).json() is not None
    finally:
        back.stop()


def test_tenant_mode_server_admin_creates_tenants_whose_admins_see_only_their_own(
    make_database: Callable[[], str],
) -> None:
    server = start_server(
        make_database(),
        cookie_secret=SECRET,
        insecure_cookies=True,
        bootstrap_admin_email="server@example.com",
        bootstrap_admin_password="server-pass-1",
        **{**BASE, "auth_mode": "tenant"},
    )
    try:
        root = httpx.Client(base_url=server.base_url, headers={"origin": server.base_url})
        server.sql("DELETE FROM rate_counters")
        assert root.post(
            "/api/auth/sign-in/email", json={"email": "server@example.com", "password": "server-pass-1"}
        ).is_success
        assert root.get("/v1/admin/tenants").json() == {"error": "password change required"}
        changed = root.post(
            "/api/auth/change-password", json={"currentPassword": "server-pass-1", "newPassword": "server-pass-2"}
        )
        assert changed.status_code == 200, changed.text
        r = root.post(
            "/v1/admin/tenants",
            json={"name": "acme", "adminEmail": "boss@acme.example", "adminPassword": "acme-pass-123"},
        )
        assert r.status_code == 201, r.text
        tenant = r.json()
        assert set(tenant) == {"id", "name", "createdAt", "adminUserId"} and tenant["name"] == "acme"
        assert {t["name"] for t in root.get("/v1/admin/tenants").json()["tenants"]} == {"default", "acme"}
        dup = root.post(
            "/v1/admin/tenants", json={"name": "x", "adminEmail": "boss@acme.example", "adminPassword": "acme-pass-123"}
        )
        assert dup.status_code == 409
        assert server.sql("SELECT count(*) FROM tenants") == [(2,)]  # the failed one left nothing behind
        root.post("/api/auth/admin/create-user", json={"email": "dev@example.com", "password": "dev-pass-123"})

        boss = httpx.Client(base_url=server.base_url, headers={"origin": server.base_url})
        server.sql("DELETE FROM rate_counters")
        signed = boss.post("/api/auth/sign-in/email", json={"email": "boss@acme.example", "password": "acme-pass-123"})
        assert signed.json()["user"]["mustChangePassword"] is True
        assert boss.get("/v1/admin/users").status_code == 403
        assert boss.post(
            "/api/auth/change-password", json={"currentPassword": "acme-pass-123", "newPassword": "acme-pass-456"}
        ).is_success
        assert [u["email"] for u in boss.get("/v1/admin/users").json()["users"]] == ["boss@acme.example"]
        assert boss.get("/api/auth/admin/list-users").json()["total"] == 1
        assert boss.get("/v1/admin/tenants").json() == {"error": "server admin only"}
        # another tenant's user is simply not there
        dev_id = server.sql("SELECT id FROM users WHERE email = 'dev@example.com'")[0][0]
        assert boss.delete(f"/v1/admin/users/{dev_id}").status_code == 404
        r = boss.post("/api/auth/admin/set-role", json={"userId": dev_id, "role": "admin"})
        assert r.status_code == 404
        assert server.sql("SELECT role FROM users WHERE id = %s", (dev_id,)) == [("user",)]
        audit = root.get("/v1/admin/audit-log").json()["entries"]
        assert any(e["action"] == "admin.tenant.create" and e["target"] == tenant["id"] for e in audit)
        assert not any(e["action"] == "admin.tenant.create" for e in boss.get("/v1/admin/audit-log").json()["entries"])
        root.close()
        boss.close()
    finally:
        server.stop()


def _cli(url: str, *args: str, mode: str = "user") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOVAMEM_")}
    env.update({"NOVAMEM_DATABASE_URL": url, "NOVAMEM_COOKIE_SECRET": SECRET, "NOVAMEM_AUTH_MODE": mode})
    return subprocess.run(
        [sys.executable, "-m", "novamem", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_cli_creates_lists_and_deletes_users(make_database: Callable[[], str]) -> None:
    url = make_database()
    helped = _cli(url, "user", "create", "--help")
    assert helped.returncode == 0 and "--email" in helped.stdout and "first sign-in" in helped.stdout
    made = _cli(url, "user", "create", "--email", "Ops@Example.com", "--role", "admin")
    assert made.returncode == 0, made.stderr
    password = re.search(r"one-time password \(shown only now\): (\S+)", made.stdout)
    assert password, made.stdout
    chosen = _cli(url, "user", "create", "--email", "dev@example.com", "--password", "dev-pass-1234", "--name", "Dev")
    assert chosen.returncode == 0 and "one-time" not in chosen.stdout
    listed = _cli(url, "user", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    users = {u["email"]: u for u in json.loads(listed.stdout)["users"]}
    assert users["ops@example.com"]["role"] == "admin" and users["dev@example.com"]["name"] == "Dev"
    with psycopg.connect(url) as conn:
        stored = conn.execute("SELECT password_hash FROM users WHERE email = 'ops@example.com'").fetchone()
    assert stored and stored[0].startswith("$argon2id$")
    assert PasswordHasher().verify(stored[0], password.group(1))
    dev_id = users["dev@example.com"]["id"]
    gone = _cli(url, "user", "delete", dev_id)
    assert gone.returncode == 0 and '"deleted": true' in gone.stdout
    last = _cli(url, "user", "set-role", users["ops@example.com"]["id"], "user")
    assert last.returncode != 0 and "last admin" in last.stderr
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM users WHERE id = %s", (dev_id,)).fetchone() == (0,)
    assert _cli(url, "tenant", "list").returncode != 0  # tenants need tenant mode
