"""Start-up refusals (each names the variable and the fix) and start-up warnings (logged, never fatal).

Config-level refusals come from `load_settings`; the pool-size refusal needs the database, so it is
checked when the server builds its container, against the session's real PostgreSQL.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from novamem.config import load_settings
from novamem.container import Container
from novamem.errors import ConfigError
from novamem.services.operations.startup import (
    ConnectionLimits,
    check_pool_capacity,
    log_startup_warnings,
    startup_warnings,
)
from tests.conftest import free_port, start_server

SECRET = "Zq3xT0V9kHc2W8pLrN5bYd7mFs1Jg4Ae"
OPENAI = {"NOVAMEM_EMBEDDINGS_PROVIDER": "openai-compatible", "NOVAMEM_EMBEDDINGS_MODEL": "m"}


def _refused(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> str:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    return caught.value.message


@pytest.mark.parametrize(
    ("env", "variable", "fix"),
    [
        ({"NOVAMEM_AUTH_MODE": "none", "NOVAMEM_HOST": "0.0.0.0"}, "NOVAMEM_AUTH_MODE", "NOVAMEM_HOST=127.0.0.1"),
        ({"NOVAMEM_AUTH_MODE": "bearer", "NOVAMEM_AUTH_TOKEN": "0123456789"}, "NOVAMEM_AUTH_TOKEN", "16 characters"),
        ({"NOVAMEM_COOKIE_SECRET": "tooshort-secret"}, "NOVAMEM_COOKIE_SECRET", "secrets.token_urlsafe"),
        ({"NOVAMEM_COOKIE_SECRET": "changeme-changeme-changeme-changeme"}, "NOVAMEM_COOKIE_SECRET", "random one"),
        (
            {"NOVAMEM_BOOTSTRAP_ADMIN_EMAIL": "a@example.com", "NOVAMEM_BOOTSTRAP_ADMIN_PASSWORD": "1234567"},
            "NOVAMEM_BOOTSTRAP_ADMIN_PASSWORD",
            "8 to 256",
        ),
        (
            {**OPENAI, "NOVAMEM_EMBEDDINGS_ENDPOINT": "http://8.8.8.8:8080/v1"},
            "NOVAMEM_EMBEDDINGS_ENDPOINT",
            "NOVAMEM_ALLOW_INSECURE_ENDPOINTS=1",
        ),
        (
            {**OPENAI, "NOVAMEM_EMBEDDINGS_ENDPOINT": "http://[2001:4860:4860::8888]/v1"},
            "NOVAMEM_EMBEDDINGS_ENDPOINT",
            "use https://",
        ),
        (
            # IPv4-mapped IPv6 hides a public IPv4 address
            {**OPENAI, "NOVAMEM_EMBEDDINGS_ENDPOINT": "http://[::ffff:8.8.4.4]/v1"},
            "NOVAMEM_EMBEDDINGS_ENDPOINT",
            "public host",
        ),
        (
            # a name that does not resolve cannot be shown to be private (.invalid never resolves)
            {**OPENAI, "NOVAMEM_EMBEDDINGS_ENDPOINT": "http://embedder.invalid/v1"},
            "NOVAMEM_EMBEDDINGS_ENDPOINT",
            "does not resolve",
        ),
        (
            {**OPENAI, "NOVAMEM_EMBEDDINGS_ENDPOINT": "ftp://10.0.0.5/v1", "NOVAMEM_ALLOW_INSECURE_ENDPOINTS": "1"},
            "NOVAMEM_EMBEDDINGS_ENDPOINT",
            "http:// or https://",
        ),
    ],
)
def test_unsafe_settings_are_refused_naming_the_variable_and_the_fix(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], variable: str, fix: str
) -> None:
    message = _refused(monkeypatch, env)
    assert variable in message and fix in message


def test_the_refusal_shows_the_host_but_never_the_endpoint_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    message = _refused(monkeypatch, {**OPENAI, "NOVAMEM_EMBEDDINGS_ENDPOINT": "http://user:s3cretpw@8.8.8.8/v1"})
    assert "8.8.8.8" in message and "s3cretpw" not in message


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:8080/v1",
        "http://localhost:8080/v1",
        "http://[::1]:8080/v1",
        "http://10.1.2.3/v1",
        "http://192.168.1.20/v1",
        "http://172.16.0.9/v1",
        "http://100.101.102.103/v1",  # VPN overlay (carrier-grade NAT space)
        "https://8.8.8.8/v1",  # encrypted: fine wherever it goes
    ],
)
def test_private_loopback_and_https_endpoints_start(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    monkeypatch.setenv("NOVAMEM_EMBEDDINGS_PROVIDER", "openai-compatible")
    monkeypatch.setenv("NOVAMEM_EMBEDDINGS_MODEL", "m")
    monkeypatch.setenv("NOVAMEM_EMBEDDINGS_ENDPOINT", endpoint)
    assert load_settings().embeddings_endpoint == endpoint


def test_the_operator_can_accept_a_plain_http_public_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {**OPENAI, "NOVAMEM_EMBEDDINGS_ENDPOINT": "http://8.8.8.8/v1", "NOVAMEM_ALLOW_INSECURE_ENDPOINTS": "1"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert load_settings().allow_insecure_endpoints is True


def test_an_endpoint_that_is_not_used_is_not_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOVAMEM_EMBEDDINGS_ENDPOINT", "http://8.8.8.8/v1")  # provider stays builtin
    assert load_settings().embeddings_endpoint == "http://8.8.8.8/v1"


# ---- pool size against the database's max_connections ----------------------------------------------------


def test_pool_capacity_arithmetic_names_the_largest_pool_that_fits() -> None:
    limits = ConnectionLimits(max_connections=100, reserved=3)
    fits = load_settings(pg_pool_max=92, auth_mode="none")
    check_pool_capacity(fits, limits)  # 92 + 2 + 3 spare = 97 = what the database allows
    with pytest.raises(ConfigError) as caught:
        check_pool_capacity(load_settings(pg_pool_max=93, auth_mode="none"), limits)
    assert "NOVAMEM_PG_POOL_MAX=93" in caught.value.message
    assert "at most 92" in caught.value.message and "max_connections" in caught.value.message


async def test_a_pool_larger_than_the_database_allows_is_refused_before_migrating(
    make_database: Callable[[], str],
) -> None:
    url = make_database()
    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW max_connections").fetchone()
    assert row is not None and int(row[0]) < 1000
    settings = load_settings(database_url=url, auth_mode="none", embeddings_provider="none", pg_pool_max=1000)
    with pytest.raises(ConfigError) as caught:
        await Container.build(settings, serving=True)
    message = caught.value.message
    assert "NOVAMEM_PG_POOL_MAX=1000" in message and f"max_connections {row[0]}" in message
    assert "lower NOVAMEM_PG_POOL_MAX to at most" in message
    with psycopg.connect(url) as conn:  # refused before touching the schema
        assert conn.execute("SELECT to_regclass('schema_migrations')").fetchone() == (None,)


def test_novamem_serve_exits_with_the_pool_refusal(make_database: Callable[[], str], tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOVAMEM_")}
    env.update(
        NOVAMEM_DATABASE_URL=make_database(),
        NOVAMEM_AUTH_MODE="none",
        NOVAMEM_EMBEDDINGS_PROVIDER="none",
        NOVAMEM_JOBS_ENABLED="false",
        NOVAMEM_PG_POOL_MAX="1000",
        NOVAMEM_PORT=str(free_port()),
        NOVAMEM_DATA_DIR=str(tmp_path),
    )
    done = subprocess.run(
        [sys.executable, "-m", "novamem", "serve"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode != 0
    assert "NOVAMEM_PG_POOL_MAX=1000" in done.stdout + done.stderr


# ---- warnings -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"insecure_cookies": True, "host": "0.0.0.0"}, "NOVAMEM_INSECURE_COOKIES=1 while bound to 0.0.0.0"),
        ({"cors_origins": "https://app.example.com, *"}, "NOVAMEM_CORS_ORIGINS=* with NOVAMEM_AUTH_MODE=user"),
        ({"log_level": "debug", "host": "0.0.0.0"}, "NOVAMEM_LOG_LEVEL=debug while bound to 0.0.0.0"),
        ({"otel_exporter_otlp_endpoint": "http://8.8.8.8:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT uses plain HTTP"),
        (
            {"otel_exporter_otlp_traces_endpoint": "http://[2606:4700:4700::1111]:4318/v1/traces"},
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT uses plain HTTP",
        ),
    ],
)
def test_tolerated_unsafe_settings_are_logged_as_warnings(
    caplog: pytest.LogCaptureFixture, overrides: dict[str, object], needle: str
) -> None:
    settings = load_settings(cookie_secret=SECRET, **overrides)
    caplog.set_level(logging.WARNING, logger="novamem.startup")
    assert any(needle in line for line in log_startup_warnings(settings))
    warned = [r for r in caplog.records if r.name == "novamem.startup" and r.levelno == logging.WARNING]
    assert any(needle in r.getMessage() for r in warned)


@pytest.mark.parametrize(
    "overrides",
    [
        {},  # the defaults: loopback, Secure cookies, localhost CORS, info
        {"insecure_cookies": True},  # plain-HTTP development on loopback
        {"log_level": "debug"},  # debugging on loopback
        {"auth_mode": "bearer", "auth_token": SECRET, "cors_origins": "*", "host": "0.0.0.0"},  # no cookies
        {"otel_exporter_otlp_endpoint": "http://127.0.0.1:4318"},
        {"otel_exporter_otlp_endpoint": "https://otlp.example.com"},
    ],
)
def test_safe_settings_log_no_warning(overrides: dict[str, object]) -> None:
    assert startup_warnings(load_settings(cookie_secret=SECRET, **overrides)) == []


def test_a_starting_server_logs_the_warnings(
    make_database: Callable[[], str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="novamem.startup")
    server = start_server(
        make_database(),
        auth_mode="user",
        cookie_secret=SECRET,
        cors_origins="*",
        jobs_enabled=False,
        embeddings_provider="none",
    )
    try:
        with server.client() as client:
            assert client.get("/live").status_code == 200
    finally:
        server.stop()
    assert "NOVAMEM_CORS_ORIGINS=* with NOVAMEM_AUTH_MODE=user" in caplog.text
    assert SECRET not in caplog.text
