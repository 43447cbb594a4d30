"""deploy/compose, statically: variables the server knows, no inline secret, pinned images, no published
datastore port, healthchecks and volumes, the trusted proxy, and make-secrets' .env accepted by the
server's own settings validation (while .env.example's placeholders are refused)."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from novamem.config import load_settings
from novamem.errors import ConfigError
from tests.deploy.dockerfile import read_stages
from tests.deploy.manifests import (
    COMPOSE,
    environment,
    interpolate,
    load_compose,
    read_env_file,
    references,
    settings_variables,
)

FILES = ("docker-compose.yml", "docker-compose.prod.yml")
DATASTORES = ("postgres", "qdrant", "falkordb")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|API_KEY|TOKEN|DATABASE_URL|FALKORDB_URL|REDIS_ARGS")
MAKE_SECRETS = COMPOSE / "make-secrets"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose(*FILES)


def test_every_novamem_variable_set_exists_in_the_settings(compose: dict[str, Any]) -> None:
    known = settings_variables()
    set_here = {name for service in compose["services"].values() for name in environment(service)}
    set_here |= set(read_env_file(COMPOSE / ".env.example"))
    _, stages = read_stages()
    set_here |= set(stages[-1].env())
    unknown = sorted(name for name in set_here if name.startswith("NOVAMEM_") and name not in known)
    assert not unknown, f"not read by Settings: {unknown}"


def test_no_secret_is_written_inline(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for key, value in environment(service).items():
            if SECRET_NAME.search(key):
                assert references(value), f"{name}.{key} must come from .env through ${{VAR}}"
            # what is left once the references are removed holds no long random-looking token
            literal = re.sub(r"\$\{[^}]*\}", "", value)
            assert not re.search(r"[A-Za-z0-9+/_-]{24,}", literal), f"{name}.{key} holds an inline secret"
    text = "\n".join((COMPOSE / name).read_text() for name in FILES)
    assert "change-me" not in text


def test_every_image_is_pinned_to_a_version(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = service["image"]
        last = image.rsplit("/", 1)[-1]
        assert ":" in last, f"{name}: {image} has no tag"
        tag = last.rsplit(":", 1)[1]
        assert tag != "latest" and re.search(r"\d", tag), f"{name}: {image} is not a version"
        assert "${" not in image, f"{name}: the tag is not left to the environment"


def test_only_caddy_publishes_ports(compose: dict[str, Any]) -> None:
    published = {name for name, service in compose["services"].items() if service.get("ports")}
    assert published == {"caddy"}
    assert sorted(compose["services"]["caddy"]["ports"]) == ["443:443", "443:443/udp", "80:80"]
    assert compose["networks"]["backend"]["internal"] is True
    for store in DATASTORES:
        assert compose["services"][store]["networks"] == ["backend"], store


def test_every_service_has_a_healthcheck_and_every_store_a_volume(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    named = set(compose["volumes"])
    for store, path in [
        ("postgres", "/var/lib/postgresql/data"),
        ("qdrant", "/qdrant/storage"),
        ("qdrant", "/qdrant/snapshots"),
        ("falkordb", "/data"),
        ("caddy", "/data"),
        ("novamem", "/var/lib/novamem"),
    ]:
        mounts = {v.split(":")[1]: v.split(":")[0] for v in compose["services"][store]["volumes"]}
        assert mounts.get(path) in named, f"{store} keeps {path} in a named volume"
    assert "/ready" in " ".join(compose["services"]["novamem"]["healthcheck"]["test"])


def test_optional_stores_are_profiles_and_persist(compose: dict[str, Any]) -> None:
    assert compose["services"]["qdrant"]["profiles"] == ["qdrant"]
    assert compose["services"]["falkordb"]["profiles"] == ["falkordb"]
    qdrant = environment(compose["services"]["qdrant"])
    assert qdrant["QDRANT__STORAGE__SNAPSHOTS_PATH"] == "/qdrant/snapshots"
    redis_args = environment(compose["services"]["falkordb"])["REDIS_ARGS"]
    assert "--appendonly yes" in redis_args and "--dir /data" in redis_args
    novamem = environment(compose["services"]["novamem"])
    assert novamem["NOVAMEM_QDRANT_URL"] == "http://qdrant:6333"
    assert novamem["NOVAMEM_FALKORDB_URL"].endswith("@falkordb:6379")
    for optional in ("qdrant", "falkordb"):
        assert compose["services"]["novamem"]["depends_on"][optional]["required"] is False


def test_the_server_trusts_exactly_the_caddy_address(compose: dict[str, Any]) -> None:
    caddy_ip = compose["services"]["caddy"]["networks"]["edge"]["ipv4_address"]
    assert environment(compose["services"]["novamem"])["NOVAMEM_TRUSTED_PROXIES"] == caddy_ip
    subnet = compose["networks"]["edge"]["ipam"]["config"][0]["subnet"]
    assert caddy_ip.rsplit(".", 1)[0] == subnet.rsplit(".", 1)[0]
    caddyfile = (COMPOSE / "Caddyfile").read_text()
    assert "dynamic a novamem 7778" in caddyfile and "{$PUBLIC_HOST}" in caddyfile


def test_the_production_override_sets_replicas_limits_restarts_and_log_rotation() -> None:
    prod = load_compose("docker-compose.prod.yml")
    assert prod["services"]["novamem"]["deploy"]["replicas"] == 3
    for name, service in prod["services"].items():
        assert service["restart"] == "unless-stopped", name
        assert service["deploy"]["resources"]["limits"]["memory"], name
        assert service["logging"]["options"]["max-size"], name
        assert "ports" not in service, name
    command = " ".join(prod["services"]["postgres"]["command"])
    max_connections = int(re.search(r"max_connections=(\d+)", command).group(1))  # type: ignore[union-attr]
    pool = int(prod["services"]["novamem"]["environment"]["NOVAMEM_PG_POOL_MAX"])
    assert 3 * (pool + 2) + 3 <= max_connections - 3, "three replicas fit PostgreSQL's connections"


def _make_secrets(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(MAKE_SECRETS), *args], capture_output=True, text=True, check=True)


def test_make_secrets_writes_a_private_env_once(tmp_path: Path) -> None:
    target = tmp_path / ".env"
    first = _make_secrets("--output", str(target), "--host", "memory.example.org")
    assert "wrote" in first.stdout
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    values = read_env_file(target)
    assert values["PUBLIC_HOST"] == "memory.example.org"
    secrets = [values[k] for k in ("POSTGRES_PASSWORD", "NOVAMEM_COOKIE_SECRET", "QDRANT_API_KEY", "FALKORDB_PASSWORD")]
    assert all(re.fullmatch(r"[0-9a-f]{64}", s) for s in secrets) and len(set(secrets)) == 4
    again = _make_secrets("--output", str(target))
    assert "kept it" in again.stdout and read_env_file(target) == values
    os.chmod(target, 0o644)
    _make_secrets("--output", str(target))
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and read_env_file(target) == values
    _make_secrets("--output", str(target), "--force")
    assert read_env_file(target)["NOVAMEM_COOKIE_SECRET"] != values["NOVAMEM_COOKIE_SECRET"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def _server_environment(env_file: Path, compose: dict[str, Any]) -> dict[str, str]:
    """What the novamem container sees: the image's ENV, then Compose's environment interpolated from .env."""
    _, stages = read_stages()
    values = read_env_file(env_file)
    seen = {k: v for k, v in stages[-1].env().items() if k.startswith("NOVAMEM_")}
    for key, value in environment(compose["services"]["novamem"]).items():
        seen[key] = interpolate(value, values)
    return seen


def _validate(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("NOVAMEM_DATA_DIR", str(tmp_path / "data"))
    load_settings()


def test_the_env_make_secrets_writes_is_accepted_by_the_server(
    compose: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / ".env"
    _make_secrets("--output", str(target), "--host", "localhost")
    env = _server_environment(target, compose)
    assert env["NOVAMEM_DATABASE_URL"].startswith("postgresql://novamem:")
    _validate(env, monkeypatch, tmp_path)


def test_the_placeholders_of_env_example_are_refused(
    compose: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _server_environment(COMPOSE / ".env.example", compose)
    with pytest.raises(ConfigError, match="NOVAMEM_DATABASE_URL holds a placeholder password"):
        _validate(env, monkeypatch, tmp_path)
    env["NOVAMEM_DATABASE_URL"] = env["NOVAMEM_DATABASE_URL"].replace("change-me-postgres-password", "9f3a" * 16)
    with pytest.raises(ConfigError, match="NOVAMEM_COOKIE_SECRET is a placeholder"):
        _validate(env, monkeypatch, tmp_path)


def test_compose_refuses_to_interpolate_without_secrets(compose: dict[str, Any]) -> None:
    with pytest.raises(KeyError, match="make-secrets"):
        interpolate(environment(compose["services"]["novamem"])["NOVAMEM_COOKIE_SECRET"], {})
