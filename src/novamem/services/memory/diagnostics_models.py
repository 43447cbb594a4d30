"""Wire models of the read-only diagnostics: the hygiene report and the built-in evaluation suites."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from novamem.services.wire import OmitNone, Out, StrictWire

__all__ = [
    "EvaluateCase",
    "EvaluateRequest",
    "EvaluateResponse",
    "EvaluateSummary",
    "HygieneItem",
    "HygienePair",
    "HygieneRequest",
    "HygieneResponse",
    "HygieneSummary",
]


class HygieneRequest(StrictWire):
    """A curation report over your most recently updated memories (nothing is changed)."""

    k: int = Field(
        20,
        ge=1,
        le=100,
        description="most items per list; the report scans max(20·k, 100) of your most recently updated memories",
    )


class EvaluateRequest(StrictWire):
    """Run a built-in self-check suite of the engine (on synthetic data; your memories are not touched)."""

    suite: str = Field("core", min_length=1, max_length=64, description="which suite to run (`core`)")


class HygieneItem(Out):
    """One memory worth a second look."""

    id: str
    namespace: str
    project: str | None = Field(description="project id, or null for your own (user-global) memories")
    memory_type: str = Field(description="the stored memoryType, else what capture would classify it as")
    reason: str = Field(
        description="`low_worthiness`, `current_state_review` (setup facts and deployment state may be "
        "out of date) or `warm_without_cold_vector` (its vector is still owed)"
    )
    snippet: str = Field(description="the first ~240 characters of the content")
    truncated: bool = Field(description="true when `snippet` is shorter than the content")
    updated_at: str | None
    tier: Literal["warm", "cold"] = Field(
        description="`cold`: decay found it unused past its lifespan (cold setup facts are listed first in `stale`)"
    )
    worthiness: OmitNone[float] = Field(
        None, description="lowValue only: the worthiness score (stored, else computed as capture does)"
    )


class HygienePair(Out):
    """Two memories of one namespace and project that overlap or conflict."""

    ids: list[str] = Field(min_length=2, max_length=2, description="[the more recently updated one, the other one]")
    namespace: str
    project: str | None
    reason: str = Field(description="`high_token_overlap` or `comparable_scalar_conflict`")
    score: float = Field(
        description="token Jaccard similarity (for conflicts: of the words other than numbers and versions)"
    )
    snippets: list[str] = Field(min_length=2, max_length=2, description="their contents' first ~240 characters")


class HygieneSummary(Out):
    """How many memories were scanned and how many candidates each list found (before the `k` cap)."""

    scanned: int
    scan_limit: int = Field(description="max(20·k, 100)")
    low_value: int
    stale: int
    duplicate_clusters: int
    contradiction_candidates: int
    orphan_candidates: int
    pair_scan_complete: bool = Field(
        description="false when the pair comparison stopped at its budget (the pair lists are then partial)"
    )


class HygieneResponse(Out):
    """Review candidates among your live memories; each list holds at most `k` items."""

    low_value: list[HygieneItem] = Field(
        description="worthiness below 0.35 or fewer than 20 characters; lowest worthiness first"
    )
    stale: list[HygieneItem] = Field(
        description="active setup facts and deployment state, to check they still hold; oldest update first"
    )
    duplicate_clusters: list[HygienePair] = Field(
        description="pairs in the same namespace and project whose tokens overlap (Jaccard ≥ 0.5); "
        "pairs that conflict are listed under contradictionCandidates instead"
    )
    contradiction_candidates: list[HygienePair] = Field(
        description="pairs about the same subject that state different values or opposite polarity "
        "(the test capture uses to supersede)"
    )
    orphan_candidates: list[HygieneItem] = Field(
        description="memories whose vector is still owed (empty when the server runs without embeddings)"
    )
    summary: HygieneSummary


class EvaluateCase(Out):
    name: str
    passed: bool
    detail: str | None = Field(None, description="what was checked, or why it failed")


class EvaluateSummary(Out):
    total: int
    passed: int
    failed: int


class EvaluateResponse(Out):
    """The suite's outcome; `checks` repeats `cases` (older clients read that name)."""

    suite: str
    passed: bool = Field(description="true when every case passed")
    summary: EvaluateSummary
    cases: list[EvaluateCase]
    checks: list[EvaluateCase]
    hygiene: HygieneSummary = Field(description="the summary of your own hygiene report (default k)")
