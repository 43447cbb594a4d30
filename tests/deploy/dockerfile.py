"""The repository's Dockerfile read as stages of instructions (enough for static checks, no Docker needed)."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Stage:
    """One `FROM` stage: its base image and its instructions as (KEYWORD, arguments)."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        """The arguments of every instruction `keyword` in this stage."""
        return [rest for kw, rest in self.instructions if kw == keyword]

    def env(self) -> dict[str, str]:
        """Variables the stage's `ENV` instructions set (`KEY=value` form)."""
        found: dict[str, str] = {}
        for rest in self.args("ENV"):
            for word in shlex.split(rest):
                key, _, value = word.partition("=")
                found[key] = value
        return found


def instructions(text: str) -> list[tuple[str, str]]:
    """Instructions with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    found = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def read_stages(path: Path = ROOT / "Dockerfile") -> tuple[dict[str, str], list[Stage]]:
    """Global `ARG` defaults and the stages, bases resolved through those ARGs."""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for keyword, rest in instructions(path.read_text(encoding="utf-8")):
        if keyword == "FROM":
            words = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), words[0])
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base, name))
        elif not stages:
            if keyword == "ARG" and "=" in rest:
                key, value = rest.split("=", 1)
                args[key] = value
        else:
            stages[-1].instructions.append((keyword, rest))
    return args, stages


def exec_form(rest: str) -> list[str]:
    """The JSON array of an exec-form instruction (ENTRYPOINT, CMD)."""
    value = json.loads(rest)
    assert isinstance(value, list)
    return [str(v) for v in value]
