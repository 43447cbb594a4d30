"""LLM fact extraction's pure parts: the PII redaction applied before a memory's text leaves the process,
the prompt, the defensive reading of the model's answer, and a fact's stored form.

No I/O here: the service sends the prompt and stores what `parse_facts` returns.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

__all__ = [
    "DEFAULT_IMPORTANCE",
    "EXTRACTION_MAX_TOKENS",
    "EXTRACTION_PROMPT",
    "FACT_SOURCE_TYPE",
    "FACT_TYPES",
    "ExtractedFact",
    "PiiRedactor",
    "answer_array",
    "extraction_input",
    "parse_facts",
]

FACT_SOURCE_TYPE = "fact"
FACT_TYPES = ("preference", "fact", "event", "task", "knowledge")
DEFAULT_IMPORTANCE = 3
EXTRACTION_MAX_TOKENS = 1024
MAX_PART_CHARS = 300  # a subject, predicate or object longer than this is not a small fact
MAX_ENTITIES = 20

EXTRACTION_PROMPT = (
    "You read one stored memory and list the facts it states, for a memory store. Answer with only a JSON "
    "array (no prose, no code fence). Each item is an object with: "
    '"type" (one of "preference", "fact", "event", "task", "knowledge"), "subject", "predicate", "object" '
    '(short strings), "occurredAt" (the date the fact happened as YYYY-MM-DD, taken from the text or else '
    'from its "Date:" line; null when unknown), "entities" (every person, place, organisation, product and '
    'thing the fact names), and "importance" (1 = trivia to 5 = essential). Rules: one fact per item, per '
    "preference and per listed thing; prefer three to six small facts over one summary; state only what the "
    "text says; placeholders such as [EMAIL] or [SECRET] are redacted values, never facts of their own. If "
    "the text states no fact, answer []."
)

_THINK = re.compile(r"<think>.*?(?:</think>|\Z)", re.IGNORECASE | re.DOTALL)
_FENCE = re.compile(r"```[A-Za-z]*")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")

# the reference's deterministic rules, most specific first (an email's digits are never a phone number)
_PII_RULES: tuple[tuple[str, str], ...] = (
    (r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", "[EMAIL]"),
    (r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{16,}", "[SECRET]"),
    (r"\b(?:sk|nm)[-_][A-Za-z0-9_-]{8,}", "[SECRET]"),
    (r"\b(?=[A-Za-z0-9_-]*[A-Za-z])(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{32,}\b", "[SECRET]"),
    (r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b", "[IP]"),
    (r"(?<![\w+])\+\d{1,3}[\s.-]?(?:\(\d{1,4}\)[\s.-]?)?\d{1,4}(?:[\s.-]?\d{2,4}){2,4}\b", "[PHONE]"),
    (r"(?<![\w-])(?:\(\d{3}\)\s?|\b\d{3}[\s.-])\d{3}[\s.-]\d{4}\b", "[PHONE]"),
    (r"(?<![\w-])0\d{1,4}[\s.-]\d{3,4}[\s.-]?\d{3,4}\b", "[PHONE]"),
)


class PiiRedactor:
    """Replaces e-mail addresses, IPv4 addresses, phone numbers, API tokens, bearer credentials and long
    letter-and-digit runs with placeholders; `add_rule` extends it (a pattern and its replacement)."""

    def __init__(self) -> None:
        self._rules = [(re.compile(pattern), replacement) for pattern, replacement in _PII_RULES]

    def add_rule(self, pattern: str, replacement: str) -> None:
        """Apply one more rule, after the built-in ones."""
        self._rules.append((re.compile(pattern), replacement))

    def redact(self, text: str) -> str:
        """The text with every match of every rule replaced, in rule order."""
        for pattern, replacement in self._rules:
            text = pattern.sub(replacement, text)
        return text


def extraction_input(content: str, written: datetime) -> str:
    """The user message: a `Date:` line (when the memory happened, else when it was stored) and the text,
    which the caller has already redacted."""
    return f"Date: {written.astimezone(UTC).date().isoformat()}\n\n{content}"


@dataclass(frozen=True, slots=True)
class ExtractedFact:
    """One typed fact read from the model's answer."""

    type: str
    subject: str
    predicate: str
    object: str
    occurred_at: str | None  # YYYY-MM-DD, or None when unknown
    entities: tuple[str, ...]
    importance: int

    @property
    def content(self) -> str:
        """The stored text: `[type] subject predicate object (occurredAt)`."""
        text = f"[{self.type}] {self.subject} {self.predicate} {self.object}"
        return f"{text} ({self.occurred_at})" if self.occurred_at else text

    @property
    def occurred(self) -> datetime | None:
        """`occurred_at` as midnight UTC of that day."""
        if self.occurred_at is None:
            return None
        day = date.fromisoformat(self.occurred_at)
        return datetime(day.year, day.month, day.day, tzinfo=UTC)

    def metadata(self, source_id: str, sensitivity: str) -> dict[str, Any]:
        """The fact row's metadata: the typed fact, the back-link to its source and its sensitivity."""
        return {
            "fact": {
                "type": self.type,
                "subject": self.subject,
                "predicate": self.predicate,
                "object": self.object,
                "occurred_at": self.occurred_at,
                "entities": list(self.entities),
                "importance": self.importance,
            },
            "source_chunk_id": source_id,
            "sensitivity": sensitivity,
        }


def parse_facts(answer: str, *, max_facts: int) -> list[ExtractedFact] | None:
    """The valid facts of the model's answer, at most `max_facts`, duplicates dropped; None when the answer
    holds no JSON array at all (a failure to retry). `<think>` blocks and code fences are ignored, the first
    JSON array is read, items that are not usable facts are dropped, and importance defaults to 3."""
    items = answer_array(answer)
    if items is None:
        return None
    facts: list[ExtractedFact] = []
    seen: set[str] = set()
    for item in items:
        fact = _fact(item)
        if fact is not None and fact.content not in seen:
            seen.add(fact.content)
            facts.append(fact)
        if len(facts) >= max_facts:
            break
    return facts


def answer_array(answer: str) -> list[Any] | None:
    """The first JSON array of a chat model's answer, `<think>` blocks and code fences ignored; None when
    there is none."""
    text = _FENCE.sub("", _THINK.sub("", answer))
    decoder = json.JSONDecoder()
    start = text.find("[")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
        except ValueError:
            value = None
        if isinstance(value, list):
            return value
        start = text.find("[", start + 1)
    return None


def _text(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = " ".join(str(value).replace("\x00", "").split())  # PostgreSQL text cannot hold NUL
    return text if 0 < len(text) <= MAX_PART_CHARS else None


def _fact(item: object) -> ExtractedFact | None:
    if not isinstance(item, dict):
        return None
    kind = item.get("type")
    subject, predicate, obj = (_text(item.get(k)) for k in ("subject", "predicate", "object"))
    if kind not in FACT_TYPES or subject is None or predicate is None or obj is None:
        return None
    importance = item.get("importance")
    if isinstance(importance, bool) or not isinstance(importance, int | float) or not 1 <= importance <= 5:
        importance = DEFAULT_IMPORTANCE
    return ExtractedFact(
        type=str(kind),
        subject=subject,
        predicate=predicate,
        object=obj,
        occurred_at=_day(item.get("occurredAt", item.get("occurred_at"))),
        entities=_entities(item.get("entities")),
        importance=int(importance),
    )


def _day(value: object) -> str | None:
    if not isinstance(value, str) or not _DATE.match(value.strip()):
        return None
    try:
        return date.fromisoformat(value.strip()[:10]).isoformat()
    except ValueError:
        return None


def _entities(value: object) -> tuple[str, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        return ()
    names = (_text(v) for v in value)
    return tuple(dict.fromkeys(n for n in names if n is not None))[:MAX_ENTITIES]
