"""The agent-write heuristics: classify a memory, score its worthiness, and compare near-duplicates."""

from __future__ import annotations

import re
from dataclasses import dataclass

from novamem.domain.text import content_tokens

__all__ = [
    "MemoryType",
    "Retention",
    "classify",
    "is_content_superset",
    "looks_contradictory",
    "retention_for",
    "worthiness",
]

MemoryType = str
MEMORY_TYPES = (
    "user_preference",
    "setup_fact",
    "project_convention",
    "decision",
    "bug_root_cause",
    "deployment_state",
    "safety_constraint",
    "general",
)

# Priority order matters: the first pattern that matches namespace + content wins.
_TYPE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "user_preference",
        re.compile(
            r"\b(prefers?|preference|likes?|dislikes?|favou?rite|always use|"
            r"never use|i want|i like|wants)\b|^user\b",
            re.I,
        ),
    ),
    (
        "bug_root_cause",
        re.compile(
            r"\b(root[- ]cause|bug|caused by|crash(es|ed)?|regression|"
            r"fix(ed)? by|stack ?trace|error was)\b|root-causes",
            re.I,
        ),
    ),
    (
        "decision",
        re.compile(
            r"\b(decided|decision|we chose|chose|agreed|will use|going with|"
            r"adopt(ed)?)\b|^decisions\b",
            re.I,
        ),
    ),
    (
        "deployment_state",
        re.compile(
            r"\b(deployed|deployment|released|rolled out|in production|"
            r"staging|live on)\b",
            re.I,
        ),
    ),
    (
        "setup_fact",
        re.compile(
            r"\b(installed|configured|setup|set up|runs on|port \d+|version|"
            r"env(ironment)? var|path is|located at)\b|current-setup",
            re.I,
        ),
    ),
    (
        "project_convention",
        re.compile(
            r"\b(convention|style guide|naming|we always|must be named|"
            r"lint|format(ted)? with)\b|project-conventions",
            re.I,
        ),
    ),
    (
        "safety_constraint",
        re.compile(
            r"\b(never|must not|do not|don't|forbidden|dangerous|"
            r"careful|safety)\b|^safety\b",
            re.I,
        ),
    ),
)

_PERSONAL_CUES = re.compile(
    r"\b(i|me|my|mine|we|our|user|user's|prefer|prefers|wife|husband|daughter|son|birthday)\b", re.I
)


@dataclass(frozen=True, slots=True)
class Retention:
    """How long a memory of a given type stays warm, and whether it is superseded eagerly."""

    policy: str
    base_effective_days: int
    supersede_aggressively: bool

    def as_metadata(self) -> dict[str, object]:
        return {
            "policy": self.policy,
            "baseEffectiveDays": self.base_effective_days,
            "supersedeAggressively": self.supersede_aggressively,
        }


_RETENTION = {
    "user_preference": Retention("long_lived", 365, False),
    "safety_constraint": Retention("long_lived", 365, False),
    "project_convention": Retention("long_lived", 240, True),
    "decision": Retention("medium_long", 180, False),
    "bug_root_cause": Retention("medium", 120, False),
    "general": Retention("standard", 90, False),
    "setup_fact": Retention("supersede_aggressively", 60, True),
    "deployment_state": Retention("current_only", 30, True),
}


def classify(content: str, namespace: str, explicit: object = None) -> MemoryType:
    """The memory type: a valid explicit value wins, else the first matching pattern, else general."""
    if isinstance(explicit, str) and explicit in MEMORY_TYPES:
        return explicit
    probe = f"{namespace}\n{content}"
    for name, pattern in _TYPE_PATTERNS:
        if pattern.search(probe):
            return name
    return "general"


def retention_for(memory_type: MemoryType) -> Retention:
    return _RETENTION.get(memory_type, _RETENTION["general"])


def worthiness(
    content: str, memory_type: MemoryType, confidence: float, personal_terms: tuple[str, ...] = ()
) -> dict[str, float]:
    """Durability, reuse and relevance estimates and their weighted overall score."""
    length = len(content.strip())
    durable = 0.9 if length >= 80 else 0.75 if length >= 40 else 0.55
    if memory_type in {
        "user_preference",
        "setup_fact",
        "deployment_state",
        "project_convention",
        "safety_constraint",
    }:
        reuse = 0.85
    else:
        reuse = {"decision": 0.75, "bug_root_cause": 0.7}.get(memory_type, 0.45)
    lowered = content.lower()
    personal = bool(_PERSONAL_CUES.search(content)) or any(t.lower() in lowered for t in personal_terms)
    relevance = 0.9 if personal else 0.65
    overall = 0.3 * durable + 0.3 * reuse + 0.25 * relevance + 0.15 * confidence
    return {
        "durable": durable,
        "reuseLikelihood": reuse,
        "userRelevance": relevance,
        "confidence": confidence,
        "overall": round(overall, 3),
    }


_SCALAR_PATTERNS = (
    re.compile(r"\bv?\d+\.\d+(?:\.\d+)*\b"),  # versions and decimals
    re.compile(r"\b\d{4}-\d{2}-\d{2}\b"),  # dates
    re.compile(r"\b[0-9a-f]{7,40}\b"),  # sha-like ids
    re.compile(r"\bport\s+\d+\b", re.I),
    re.compile(r"\b(?:model|image|container)\s+[\w./:-]+", re.I),
    re.compile(r"\b\d+\b"),  # plain numbers
)
_NEGATION = re.compile(r"\b(no|not|never|disabled|inactive|false|off|without|stopped|removed|deprecated)\b|n't\b", re.I)


def _scalars(text: str) -> set[str]:
    found: set[str] = set()
    for pattern in _SCALAR_PATTERNS:
        found.update(m.group(0).lower() for m in pattern.finditer(text))
    return found


def looks_contradictory(old: str, new: str) -> bool:
    """True when both state comparable scalars that differ, or when their negation polarity differs."""
    old_scalars, new_scalars = _scalars(old), _scalars(new)
    if old_scalars and new_scalars and (old_scalars - new_scalars) and (new_scalars - old_scalars):
        return True
    return bool(_NEGATION.search(old)) != bool(_NEGATION.search(new))


def is_content_superset(old: str, new: str) -> bool:
    """True when every content token of the old text also appears in the new one."""
    old_tokens = content_tokens(old)
    return bool(old_tokens) and old_tokens <= content_tokens(new)
