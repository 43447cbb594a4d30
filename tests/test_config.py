"""Settings: defaults, aliases, and start-up refusals that name the variable."""

from __future__ import annotations

import subprocess
import sys

import pytest

from novamem.config import AuthMode, load_settings
from novamem.errors import ConfigError


def test_defaults() -> None:
    s = load_settings()
    assert (s.host, s.port, s.pg_pool_max, s.auth_mode) == ("127.0.0.1", 7778, 20, AuthMode.USER)
    assert s.database_url is None and s.max_content_chars == 4000
    assert s.effective_min_vector_score == 0.25


def test_warm_url_is_an_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOVAMEM_WARM_URL", "postgresql://u:p@db:5432/novamem")
    monkeypatch.setenv("NOVAMEM_COOKIE_SECRET", "Zq3xT0V9kHc2W8pLrN5bYd7mFs1Jg4Ae")
    s = load_settings()
    assert s.database_url is not None and s.database_url.get_secret_value().endswith("/novamem")
    monkeypatch.setenv("DATABASE_URL", "postgresql://other")  # an unprefixed variable is not ours
    monkeypatch.delenv("NOVAMEM_WARM_URL")
    assert load_settings().database_url is None


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"NOVAMEM_PORT": "99999"}, "NOVAMEM_PORT: Input should be less than or equal to 65535 (got '99999')"),
        ({"NOVAMEM_PORT": "http"}, "NOVAMEM_PORT: Input should be a valid integer"),
        ({"NOVAMEM_AUTH_MODE": "magic"}, "NOVAMEM_AUTH_MODE: Input should be 'none', 'bearer', 'user' or 'tenant'"),
        ({"NOVAMEM_PG_POOL_MAX": "0"}, "NOVAMEM_PG_POOL_MAX"),
        ({"NOVAMEM_EMBEDDINGS_PROVIDER": "local-transformers"}, "NOVAMEM_EMBEDDINGS_PROVIDER"),
        (
            {"NOVAMEM_HOST": "0.0.0.0", "NOVAMEM_AUTH_MODE": "none"},
            "NOVAMEM_AUTH_MODE=none is only allowed on a loopback host",
        ),
        (
            {"NOVAMEM_DATABASE_URL": "postgresql://db/novamem"},
            "NOVAMEM_COOKIE_SECRET is required with NOVAMEM_DATABASE_URL",
        ),
        ({"NOVAMEM_COOKIE_SECRET": "Zq3xT0V9kHc2W8pL"}, "NOVAMEM_COOKIE_SECRET must be at least 32 characters"),
        (
            {"NOVAMEM_COOKIE_SECRET": "replace-with-a-random-secret-of-32-or-more-characters"},
            "NOVAMEM_COOKIE_SECRET is a placeholder value",
        ),
        ({"NOVAMEM_BOOTSTRAP_ADMIN_EMAIL": "a@b.c", "NOVAMEM_BOOTSTRAP_ADMIN_PASSWORD": "short"}, "8 to 256"),
        ({"NOVAMEM_AUTH_MODE": "bearer"}, "needs NOVAMEM_AUTH_TOKEN of at least 16 characters"),
        ({"NOVAMEM_AUTH_MODE": "bearer", "NOVAMEM_AUTH_TOKEN": "short"}, "at least 16 characters"),
        ({"NOVAMEM_EMBEDDINGS_PROVIDER": "openai-compatible"}, "needs NOVAMEM_EMBEDDINGS_ENDPOINT"),
    ],
)
def test_invalid_values_are_refused_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], needle: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert needle in info.value.message


def test_secrets_are_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOVAMEM_AUTH_MODE", "bearer")
    monkeypatch.setenv("NOVAMEM_AUTH_TOKEN", "tiny-secret")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "tiny-secret" not in info.value.message
    monkeypatch.setenv("NOVAMEM_AUTH_MODE", "user")
    monkeypatch.setenv("NOVAMEM_COOKIE_SECRET", "cookie-0123456789")
    monkeypatch.setenv("NOVAMEM_BOOTSTRAP_ADMIN_EMAIL", "root@example.com")
    monkeypatch.setenv("NOVAMEM_BOOTSTRAP_ADMIN_PASSWORD", "pw-7")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "cookie-0123456789" not in info.value.message and "pw-7" not in info.value.message


def test_bearer_mode_may_bind_publicly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOVAMEM_AUTH_MODE", "bearer")
    monkeypatch.setenv("NOVAMEM_AUTH_TOKEN", "x" * 32)
    monkeypatch.setenv("NOVAMEM_HOST", "0.0.0.0")
    assert load_settings().host == "0.0.0.0"


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "novamem", *args], capture_output=True, text=True, timeout=60, env=env)


def test_cli_help_and_version() -> None:
    help_text = run_cli("--help").stdout
    for word in ("serve", "migrate", "version", "NOVAMEM_DATABASE_URL"):
        assert word in help_text
    assert "--port" in run_cli("serve", "--help").stdout
    from novamem import __version__

    assert run_cli("version").stdout.strip() == f"novamem {__version__}"


def test_cli_refuses_unsafe_start_with_exit_code_2() -> None:
    import os

    env = {**os.environ, "NOVAMEM_HOST": "0.0.0.0", "NOVAMEM_AUTH_MODE": "none"}
    result = run_cli("serve", env=env)
    assert result.returncode == 2
    assert "NOVAMEM_AUTH_MODE=none is only allowed on a loopback host" in result.stderr
