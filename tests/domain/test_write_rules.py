"""Pure write-path rules: gate, sensitivity, hashing, snippets, capture heuristics."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from novamem.domain import capture
from novamem.domain.entries import Sensitivity, content_hash, gate_rejection, infer_sensitivity, iso, utf16_len
from novamem.domain.text import snippet, token_cost


def test_gate_counts_utf16_units_and_trims() -> None:
    assert gate_rejection("  twelve chars ", max_chars=4000, force=False) is None
    assert gate_rejection("  eleven char ", max_chars=4000, force=False) is not None
    assert gate_rejection("   short   ", max_chars=4000, force=False) == "too short — not durable knowledge"
    assert utf16_len("😀" * 6) == 12
    assert gate_rejection("😀" * 6, max_chars=4000, force=False) is None
    assert gate_rejection("x" * 4001, max_chars=4000, force=True).startswith("too long (4001 chars, max 4000)")
    assert gate_rejection("x" * 4001, max_chars=0, force=True) is None


@pytest.mark.parametrize(
    ("text", "explicit", "meta", "expected"),
    [
        ("The admin password is hunter2", None, {}, Sensitivity.SENSITIVE),
        ("Use sk-abcdefghijklmnop for staging", None, {}, Sensitivity.SENSITIVE),
        ("The team lunch is on Friday", None, {}, Sensitivity.PRIVATE),
        ("The admin password is hunter2", Sensitivity.PUBLIC, {}, Sensitivity.PUBLIC),
        ("The team lunch is on Friday", None, {"sensitivity": "internal"}, Sensitivity.INTERNAL),
        ("The team lunch is on Friday", None, {"sensitivity": "bogus"}, Sensitivity.PRIVATE),
    ],
)
def test_sensitivity_precedence(
    text: str, explicit: Sensitivity | None, meta: dict[str, str], expected: Sensitivity
) -> None:
    assert infer_sensitivity(text, explicit, meta) is expected


def test_hash_ignores_surrounding_whitespace_only() -> None:
    assert content_hash(" a fact \n") == content_hash("a fact")
    assert content_hash("a fact") != content_hash("a  fact")


def test_iso_renders_like_javascript() -> None:
    assert iso(datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)) == "2026-01-02T03:04:05.678Z"


def test_snippet_cuts_at_a_space_past_the_midpoint() -> None:
    text = "word " * 100
    cut, truncated = snippet(text)
    assert truncated and cut.endswith("…") and len(cut) <= 241 and not cut[:-1].endswith(" ")
    assert snippet("short text") == ("short text", False)
    assert token_cost("abcd") == 1 and token_cost("abcde") == 2


@pytest.mark.parametrize(
    ("old", "new", "contradicts"),
    [
        ("The staging database listens on port 5433", "The staging database listens on port 6543", True),
        ("We deploy Kubernetes 1.29 on GKE", "We deploy Kubernetes 1.30 on GKE", True),
        ("Caching is enabled for search", "Caching is disabled for search", True),
        ("Alice prefers dark mode", "Alice prefers dark mode in her terminal too", False),
        ("Release 2 shipped on 2026-03-01", "Release 2 shipped on 2026-03-01 to all users", False),
    ],
)
def test_contradiction(old: str, new: str, contradicts: bool) -> None:
    assert capture.looks_contradictory(old, new) is contradicts


def test_superset() -> None:
    assert capture.is_content_superset("Alice prefers dark mode", "Alice prefers dark mode everywhere")
    assert not capture.is_content_superset("My wife's birthday is May 3", "My daughter's birthday is May 3")
    assert not capture.is_content_superset("the a an", "anything")  # nothing but stop words


@pytest.mark.parametrize(
    ("text", "namespace", "kind"),
    [
        ("Alice prefers tabs over spaces", "default", "user_preference"),
        ("The root cause was a stale cache entry", "default", "bug_root_cause"),
        ("We decided to ship on Mondays", "default", "decision"),
        ("The API is deployed to production on Fly", "default", "deployment_state"),
        ("Postgres runs on port 5432 locally", "default", "setup_fact"),
        ("Anything at all about the weather", "current-setup", "setup_fact"),
        ("The weather in Lisbon was lovely", "default", "general"),
    ],
)
def test_classification(text: str, namespace: str, kind: str) -> None:
    assert capture.classify(text, namespace) == kind
    assert capture.classify(text, namespace, "decision") == "decision"  # a valid explicit type wins


def test_worthiness_and_retention() -> None:
    w = capture.worthiness("Tabs are used instead of spaces across this repository", "user_preference", 1.0)
    assert w["durable"] == 0.75 and w["reuseLikelihood"] == 0.85 and w["userRelevance"] == 0.65
    assert w["overall"] == pytest.approx(0.3 * 0.75 + 0.3 * 0.85 + 0.25 * 0.65 + 0.15, abs=1e-3)
    personal = capture.worthiness("My daughter's birthday is on May 3", "general", 0.5, ("birthday",))
    assert personal["userRelevance"] == 0.9 and personal["durable"] == 0.55
    assert capture.retention_for("setup_fact").as_metadata() == {
        "policy": "supersede_aggressively",
        "baseEffectiveDays": 60,
        "supersedeAggressively": True,
    }
