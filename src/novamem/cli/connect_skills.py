"""`novamem connect HOST --skills`: install the Agent Skills bundle and slash commands for the hosts that take them.

Claude Code gets, under `~/.claude/` (the same user scope as its `~/.claude.json` MCP entry), the commands
`/remember`, `/recall`, `/today`, `/forget`, the `novamem` and `session-recap` skills, and a marked section of
`CLAUDE.md`; Kilo Code gets, under `.kilocode/` in the project, the commands `/remember`, `/recall`, `/today`,
`/forget`, `/projects`, `/neighbors` and the rule `rules/novamem.md`. The texts come from
`novamem.services.agents.skills`. A file that exists with other content is the user's own edit: it is kept and
reported, and replaced (after a `.bak` copy) only with `--force`. In CLAUDE.md only the section between the
novamem markers is ours; everything around it stays.
"""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from novamem.errors import ConfigError
from novamem.services.agents.connect import AgentHost
from novamem.services.agents.skills import CLAUDE_MD_BEGIN, CLAUDE_MD_END, claude_md_fragment, host_files

__all__ = ["FileChange", "Outcome", "apply", "describe", "diff", "plan", "skills_root"]


class Outcome(StrEnum):
    """What installing one file does."""

    CREATE = "create"
    UPDATE = "update"  # ours to replace: an older version of ours, or --force over the user's edit
    SAME = "same"
    KEPT = "kept"  # the user's own edit, left alone (no --force)


@dataclass(frozen=True, slots=True)
class FileChange:
    """One file of the bundle: where it goes, what is there now and what would be written."""

    path: Path
    old: str | None
    new: str
    outcome: Outcome


def skills_root(host: AgentHost) -> Path:
    """The folder a host reads its skills and commands from (user scope for Claude Code, project for Kilo Code)."""
    if host is AgentHost.CLAUDE_CODE:
        return Path.home() / ".claude"
    return Path.cwd() / ".kilocode"


def _read(path: Path) -> str | None:
    if path.is_dir():
        raise ConfigError(f"{path} is a directory, not a file; left untouched")
    if not path.exists():
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc.__class__.__name__}; left untouched") from None


def _with_claude_section(old: str | None) -> str:
    """CLAUDE.md with our marked section in place (replaced where it was, appended otherwise)."""
    section = claude_md_fragment()
    if not old:
        return section
    begin, end = old.find(CLAUDE_MD_BEGIN), old.find(CLAUDE_MD_END)
    if begin != -1 and end > begin:
        tail = old[end + len(CLAUDE_MD_END) :]
        return old[:begin] + section.rstrip("\n") + tail
    return old.rstrip("\n") + "\n\n" + section


def plan(host: AgentHost, *, force: bool) -> list[FileChange]:
    """What installing the host's bundle would change, file by file; nothing is written."""
    root = skills_root(host)
    changes: list[FileChange] = []
    for relative, text in sorted(host_files(host).items()):
        path = root / relative
        old = _read(path)
        if old is None:
            outcome = Outcome.CREATE
        elif old == text:
            outcome = Outcome.SAME
        else:
            outcome = Outcome.UPDATE if force else Outcome.KEPT
        changes.append(FileChange(path, old, text, outcome))
    if host is AgentHost.CLAUDE_CODE:
        path = root / "CLAUDE.md"
        old = _read(path)
        new = _with_claude_section(old)
        outcome = Outcome.CREATE if old is None else Outcome.SAME if old == new else Outcome.UPDATE
        changes.append(FileChange(path, old, new, outcome))
    return changes


def diff(changes: list[FileChange]) -> str:
    """A unified diff of every existing file that would be replaced, or that `--force` would replace (new files
    are only listed by `describe`: their whole text is novamem's)."""
    parts: list[str] = []
    for change in changes:
        if change.old is None or change.outcome not in (Outcome.UPDATE, Outcome.KEPT):
            continue
        parts.extend(
            difflib.unified_diff(
                change.old.splitlines(keepends=True),
                change.new.splitlines(keepends=True),
                str(change.path),
                str(change.path),
            )
        )
    return "".join(parts)


def describe(changes: list[FileChange], *, applied: bool) -> list[str]:
    """One line per file whose state is worth telling (created, replaced, kept)."""
    verbs = {
        Outcome.CREATE: "wrote" if applied else "would write",
        Outcome.UPDATE: "replaced" if applied else "would replace",
    }
    lines = []
    for change in changes:
        if change.outcome is Outcome.KEPT:
            lines.append(f"kept {change.path}: it differs from novamem's version (your edit?); --force replaces it")
        elif change.outcome in verbs:
            lines.append(f"{verbs[change.outcome]} {change.path}")
    return lines


def _write(path: Path, text: str, *, backup: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = 0o644
    if backup:
        mode = path.stat().st_mode & 0o777
        shutil.copy2(path, path.with_name(path.name + ".bak"))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def apply(changes: list[FileChange]) -> None:
    """Write every created or replaced file; a replaced file is first copied to `<file>.bak`."""
    for change in changes:
        if change.outcome in (Outcome.CREATE, Outcome.UPDATE):
            _write(change.path, change.new, backup=change.old is not None)
