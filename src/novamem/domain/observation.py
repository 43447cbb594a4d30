"""The observer's log: a short, dated, prioritised list of bullets about one user's work (in one project or
outside any), written by a chat model from new memories and condensed by it when it grows long.

Everything here is pure: the prompts, the shape of a bullet, reading a model's reply defensively, and how a
log grows and is kept bounded. The model is asked for bullets only; whatever else it says is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

__all__ = [
    "BULLET_MAX_CHARS",
    "LOG_MAX_LINES_FACTOR",
    "MEMORY_MAX_CHARS",
    "NOTHING_NEW",
    "OBSERVE_PROMPT",
    "PRIORITIES",
    "REFLECT_PROMPT",
    "ObservationLog",
    "bounded",
    "log_lines",
    "memory_lines",
    "parse_bullets",
]

#: critical, useful, minor
PRIORITIES = ("🔴", "🟡", "🟢")
BULLET_MAX_CHARS = 140
#: a memory's text is cut to this many characters in the prompt
MEMORY_MAX_CHARS = 600
#: the log is never longer than this many times the reflect threshold, even when reflecting keeps failing
LOG_MAX_LINES_FACTOR = 2
#: what the model answers when the new memories hold nothing worth a bullet
NOTHING_NEW = "NONE"

OBSERVE_PROMPT = f"""You maintain a short log that an AI coding assistant reads before it starts work for a person.
You get the current log and some new memories, each with the date it concerns. Write bullets for what
in the new memories is worth knowing later: decisions, preferences, how things are set up, causes of
problems, deadlines. Skip chit-chat and anything the log already says.

Each bullet is one line: "- <priority> [YYYY-MM-DD] <fact>", where <priority> is {PRIORITIES[0]} (critical:
decisions, constraints, things that break), {PRIORITIES[1]} (useful) or {PRIORITIES[2]} (minor), the date is
the memory's date, and the fact is under {BULLET_MAX_CHARS} characters. Answer with the new bullets only,
nothing else. If nothing is worth a bullet, answer {NOTHING_NEW}."""

REFLECT_PROMPT = f"""You tidy a log that an AI coding assistant reads before it starts work for a person. Each
line is "- <priority> [YYYY-MM-DD] <fact>" with priority {PRIORITIES[0]} (critical), {PRIORITIES[1]} (useful)
or {PRIORITIES[2]} (minor). Rewrite the log: merge bullets that state the same fact (keep the latest date),
drop a bullet that a later bullet replaces, and lower the priority of what is no longer current. Keep the
format exactly and keep every fact that still matters. Answer with the bullets only, oldest first."""

_BULLET = re.compile(
    r"^\s*(?:[-*•]\s*)?(?P<p>" + "|".join(PRIORITIES) + r")\s*\[(?P<d>\d{4}-\d{2}-\d{2})\]\s*(?P<t>\S.*?)\s*$"
)
_THINKING = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ObservationLog:
    """One log: its owner (tenant, user, project or None), its bullets as text, the newest memory id it has
    seen (`observed_through`), and a revision that every save moves on (two passes never both land)."""

    tenant_id: str
    user_id: str
    project_id: str | None
    text: str = ""
    observed_through: str | None = None
    revision: int = 0
    updated_at: datetime | None = None


def memory_lines(memories: Sequence[tuple[datetime, str]]) -> str:
    """The new memories as the prompt shows them, oldest first: `[YYYY-MM-DD] text`, each cut short."""
    lines = []
    for when, text in memories:
        flat = " ".join(text.split())
        if len(flat) > MEMORY_MAX_CHARS:
            flat = flat[: MEMORY_MAX_CHARS - 1] + "…"
        lines.append(f"[{when.date().isoformat()}] {flat}")
    return "\n".join(lines)


def parse_bullets(reply: str) -> list[str] | None:
    """The well-formed bullets of a model's reply, normalised to `- <priority> [date] <fact>`.

    Reasoning blocks and code fences are ignored, so are lines that are not bullets; a fact is cut to
    `BULLET_MAX_CHARS`. Returns [] when the model said there is nothing new, and None when the reply
    holds no usable bullet at all (garbage: the caller must not treat it as "nothing new").
    """
    text = _THINKING.sub("", reply).replace("```", "\n")
    bullets: list[str] = []
    for line in text.splitlines():
        found = _BULLET.match(line)
        if found is None:
            continue
        try:
            day = date.fromisoformat(found["d"])
        except ValueError:
            continue
        fact = found["t"]
        if len(fact) > BULLET_MAX_CHARS:
            fact = fact[: BULLET_MAX_CHARS - 1] + "…"
        bullets.append(f"- {found['p']} [{day.isoformat()}] {fact}")
    if bullets:
        return bullets
    return [] if text.strip().strip(".").upper() == NOTHING_NEW else None


def log_lines(text: str) -> list[str]:
    """The bullets of a stored log (its non-empty lines)."""
    return [line for line in text.splitlines() if line.strip()]


def bounded(lines: Sequence[str], reflect_threshold: int) -> list[str]:
    """The log kept to `LOG_MAX_LINES_FACTOR x reflect_threshold` lines: when it is longer (reflecting kept
    failing), the oldest minor bullets go first, then the oldest useful ones, then the oldest of all."""
    limit = max(1, LOG_MAX_LINES_FACTOR * reflect_threshold)
    kept = list(lines)
    for priority in (PRIORITIES[2], PRIORITIES[1], None):
        while len(kept) > limit:
            index = next((i for i, line in enumerate(kept) if priority is None or f" {priority} " in line), None)
            if index is None:
                break
            del kept[index]
    return kept
