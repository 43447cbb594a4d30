"""What the deployment files set, read the way Compose and the settings class read it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import AliasChoices

from novamem.config import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose"
CHART = ROOT / "deploy" / "helm" / "novamem"
_INTERPOLATION = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def settings_variables() -> set[str]:
    """Every environment variable name the settings class reads (aliases included), upper case."""
    names: set[str] = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {choice.upper() for choice in alias.choices if isinstance(choice, str)}
        elif isinstance(alias, str):
            names.add(alias.upper())
        else:
            names.add(f"NOVAMEM_{name.upper()}")
    return names


def load_compose(*names: str) -> dict[str, Any]:
    """The Compose files merged service by service (later files override keys), not interpolated."""
    merged: dict[str, Any] = {"services": {}}
    for name in names or ("docker-compose.yml",):
        loaded = yaml.safe_load((COMPOSE / name).read_text(encoding="utf-8"))
        for service, spec in loaded.get("services", {}).items():
            target = merged["services"].setdefault(service, {})
            for key, value in spec.items():
                if isinstance(value, dict) and isinstance(target.get(key), dict):
                    target[key] = {**target[key], **value}
                else:
                    target[key] = value
        for key, value in loaded.items():
            if key != "services":
                merged[key] = value
    return merged


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's `environment:` as a mapping (list and mapping forms)."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        return dict(item.split("=", 1) for item in raw)
    return {str(k): str(v) for k, v in raw.items()}


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines of a Compose `.env` file."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}` and `$$`."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, operator, argument = match.group(1), match.group(2), match.group(3) or ""
        value = env.get(name)
        if operator in (":?", "?") and (value is None or (operator == ":?" and value == "")):
            raise KeyError(f"{name}: {argument}")
        if operator == ":-" and not value:
            return argument
        if operator == "-" and value is None:
            return argument
        return value or ""

    return _INTERPOLATION.sub(one, text)


def references(text: str) -> list[str]:
    """The variables `text` interpolates."""
    return [m.group(1) for m in _INTERPOLATION.finditer(text) if m.group(1)]
