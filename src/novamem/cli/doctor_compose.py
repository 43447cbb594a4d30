"""The container items of `novamem doctor --compose DIR`: a Docker Compose deployment (deploy/compose) read
from its files, without Docker.

Pinned image tags, the mode and secrets of `DIR/.env`, no published datastore port, and, when those stores
are enabled (`COMPOSE_PROFILES` or `NOVAMEM_VECTOR_STORE` / `NOVAMEM_GRAPH_STORE` in `DIR/.env`), Qdrant
snapshots and FalkorDB persistence on volumes.
"""

from __future__ import annotations

import re
import shlex
import stat
from pathlib import Path
from typing import Any

import yaml

from novamem.cli.findings import Finding
from novamem.config import is_placeholder_secret

__all__ = ["compose_checks"]

_COMPOSE_FILES = ("docker-compose.yml", "compose.yml", "docker-compose.prod.yml", "compose.prod.yml")
# images whose ports must stay on the internal network
_DATASTORE_IMAGE = re.compile(r"(^|/)(postgres|pgvector|postgis|qdrant|falkordb|redis|valkey)([:@/]|$)")
_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
_ENV_SECRETS = ("POSTGRES_PASSWORD", "NOVAMEM_COOKIE_SECRET", "QDRANT_API_KEY", "FALKORDB_PASSWORD")


def compose_checks(directory: Path) -> list[Finding]:
    """The container items of the checklist for the Compose files in `directory` and its `.env`."""
    files = [directory / name for name in _COMPOSE_FILES if (directory / name).is_file()]
    if not files:
        return [Finding("compose files", "fail", f"no docker-compose.yml in {directory}", "pass --compose DIR")]
    services: dict[str, dict[str, Any]] = {}
    for path in files:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for name, service in (loaded.get("services") or {}).items():
            services.setdefault(name, {}).update(service or {})
    env = _read_env_file(directory / ".env")
    return [
        _compose_env_file(directory / ".env", env),
        _pinned_images(services, env),
        _datastore_ports(services),
        _qdrant_snapshots(services, env),
        _falkordb_persistence(services, env),
    ]


def _read_env_file(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip().strip("'\"")
    return values


def _interpolate(text: str, env: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        value = env.get(match.group(1), "")
        return value if value or match.group(2) not in (":-", "-") else match.group(3) or ""

    return _INTERPOLATION.sub(one, text)


def _compose_env_file(path: Path, env: dict[str, str]) -> Finding:
    name = "compose .env"
    if not path.is_file():
        return Finding(name, "fail", f"no {path}", f"run {path.parent}/make-secrets (writes it with mode 0600)")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        return Finding(name, "fail", f"{path} (mode {mode:04o}) holds secrets readable by others", f"chmod 600 {path}")
    weak = [key for key in _ENV_SECRETS if key in env and is_placeholder_secret(env[key])]
    if weak:
        return Finding(
            name,
            "fail",
            f"placeholder secrets in {path}: {', '.join(weak)}",
            f"run {path.parent}/make-secrets --force on a new deployment, or set random values",
        )
    return Finding(name, "pass", f"{path} is private (mode {mode:04o}) and holds no placeholder secret")


def _image_pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    return ":" in last and last.rsplit(":", 1)[1] not in ("", "latest")


def _pinned_images(services: dict[str, dict[str, Any]], env: dict[str, str]) -> Finding:
    images = {name: _interpolate(str(s["image"]), env) for name, s in services.items() if s.get("image")}
    unpinned = [f"{name} ({image})" for name, image in images.items() if not _image_pinned(image)]
    missing = [name for name, service in services.items() if not service.get("image")]
    if unpinned or missing:
        shown = unpinned + [f"{name} (no image)" for name in missing]
        return Finding(
            "image tags pinned",
            "fail",
            f"not pinned to a version: {', '.join(shown)}",
            "name an exact tag (or @sha256 digest) for every service image, never latest",
        )
    return Finding("image tags pinned", "pass", ", ".join(sorted(images.values())))


def _datastore_ports(services: dict[str, dict[str, Any]]) -> Finding:
    exposed = [
        name
        for name, service in services.items()
        if _DATASTORE_IMAGE.search(str(service.get("image", ""))) and service.get("ports")
    ]
    if exposed:
        return Finding(
            "datastore ports",
            "fail",
            f"published to the host: {', '.join(exposed)}",
            "remove their `ports:`; the server reaches them on the internal network",
        )
    publishing = sorted(name for name, service in services.items() if service.get("ports"))
    return Finding("datastore ports", "pass", f"none published; ports published by: {', '.join(publishing) or 'none'}")


def _enabled(env: dict[str, str], profile: str, variable: str, value: str) -> bool:
    profiles = [p.strip() for p in env.get("COMPOSE_PROFILES", "").split(",")]
    return profile in profiles or env.get(variable, "").strip().lower() == value


def _environment(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in raw)
    return {str(key): str(value) for key, value in raw.items()}


def _mounted_at(service: dict[str, Any], path: str) -> bool:
    for volume in service.get("volumes") or []:
        target = volume.get("target") if isinstance(volume, dict) else str(volume).split(":")[1:2]
        target = target[0] if isinstance(target, list) and target else target
        if isinstance(target, str) and target.rstrip("/") == path.rstrip("/"):
            return True
    return False


def _qdrant_snapshots(services: dict[str, dict[str, Any]], env: dict[str, str]) -> Finding:
    name = "Qdrant snapshots"
    if not _enabled(env, "qdrant", "NOVAMEM_VECTOR_STORE", "qdrant"):
        return Finding(name, "pass", "Qdrant is not enabled (COMPOSE_PROFILES, NOVAMEM_VECTOR_STORE)")
    service = next((s for s in services.values() if "qdrant" in str(s.get("image", ""))), None)
    if service is None:
        return Finding(name, "fail", "Qdrant is enabled but no service runs a qdrant image", "add the qdrant service")
    path = _environment(service).get("QDRANT__STORAGE__SNAPSHOTS_PATH", "/qdrant/snapshots")
    if not _mounted_at(service, path):
        return Finding(
            name,
            "fail",
            f"snapshots go to {path}, which is no volume: they die with the container",
            f"mount a volume at {path} (QDRANT__STORAGE__SNAPSHOTS_PATH)",
        )
    return Finding(name, "pass", f"snapshots kept in a volume at {path}")


def _falkordb_persistence(services: dict[str, dict[str, Any]], env: dict[str, str]) -> Finding:
    name = "FalkorDB persistence"
    if not _enabled(env, "falkordb", "NOVAMEM_GRAPH_STORE", "falkordb"):
        return Finding(name, "pass", "FalkorDB is not enabled (COMPOSE_PROFILES, NOVAMEM_GRAPH_STORE)")
    service = next((s for s in services.values() if "falkordb" in str(s.get("image", ""))), None)
    if service is None:
        return Finding(name, "fail", "FalkorDB is enabled but no service runs a falkordb image", "add the service")
    command = service.get("command") or ""
    command = " ".join(command) if isinstance(command, list) else str(command)
    words = shlex.split(_environment(service).get("REDIS_ARGS", "") + " " + command)
    pairs = dict(zip(words, [*words[1:], ""], strict=True))
    durable = pairs.get("--appendonly") == "yes" or bool(pairs.get("--save"))
    directories = [pairs["--dir"]] if pairs.get("--dir") else ["/data", "/var/lib/falkordb/data"]
    mounted = [d for d in directories if _mounted_at(service, d)]
    if not durable or not mounted:
        problem = "no --appendonly yes or --save" if not durable else f"{' or '.join(directories)} is no volume"
        return Finding(
            name,
            "fail",
            f"the graph would not survive a restart: {problem}",
            "set REDIS_ARGS='--appendonly yes --dir /data' and mount a volume at /data",
        )
    return Finding(name, "pass", f"append-only/snapshot persistence into a volume at {mounted[0]}")
