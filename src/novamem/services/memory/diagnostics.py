"""Read-only diagnostics: the hygiene report over a caller's memories, and the built-in self-checks.

Neither ever writes: hygiene reads a bounded slice of the caller's live memories (without counting
hits), and the evaluation suites run the production heuristics on synthetic entries held in memory.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

from novamem.domain import capture as heuristics
from novamem.domain import hygiene
from novamem.domain.entries import MemoryEntry, gate_rejection, iso, now_utc
from novamem.domain.scope import Caller
from novamem.domain.text import snippet
from novamem.error_messages import UNKNOWN_SUITE
from novamem.errors import InvalidInput
from novamem.services.identity.access import AccessPolicy, require_unconfined
from novamem.services.memory.diagnostics_models import (
    EvaluateCase,
    EvaluateRequest,
    EvaluateResponse,
    EvaluateSummary,
    HygieneItem,
    HygienePair,
    HygieneRequest,
    HygieneResponse,
    HygieneSummary,
)
from novamem.services.memory.memories import EmbedderState
from novamem.services.memory.recall import context_pack
from novamem.storage.base import MemoryStore

__all__ = ["CORE_CASES", "SUITES", "DiagnosticsService"]

log = logging.getLogger("novamem.diagnostics")

CORE_CASES = (
    "newer fact supersedes older fact",
    "context pack groups typed memories",
    "junk capture is rejected",
    "hygiene report exposes review candidates",
    "memory-type retention policies are available",
)
SUITES = {"core": CORE_CASES}


class DiagnosticsService:
    """The hygiene report and the evaluation suites, for one caller at a time."""

    def __init__(
        self,
        store: MemoryStore,
        access: AccessPolicy,
        embedder: EmbedderState,
        *,
        max_content_chars: int,
        personal_terms: tuple[str, ...] = (),
    ) -> None:
        self._store = store
        self._access = access
        self._embedder = embedder
        self._max_content_chars = max_content_chars
        self._personal_terms = personal_terms

    async def hygiene(self, caller: Caller, req: HygieneRequest) -> HygieneResponse:
        """Review candidates among the caller's max(20k, 100) most recently updated live memories.

        Everything the caller can see (own memories and member projects); project-confined tokens are
        refused like for stats. Nothing is changed and no hit is counted.
        """
        scope = await self._access.account_scope(caller)
        limit = hygiene.scan_limit(req.k)
        entries = await self._store.recently_updated(scope, limit)
        # the pair scan is CPU work (bounded by a budget): keep it off the event loop
        report = await asyncio.to_thread(
            hygiene.analyze,
            entries,
            vectors_expected=self._embedder.embedder is not None,
            personal_terms=self._personal_terms,
        )
        return _report(report, req.k, limit)

    async def evaluate(self, caller: Caller, req: EvaluateRequest) -> EvaluateResponse:
        """Run a self-check suite on synthetic entries (never the caller's), plus the caller's hygiene summary."""
        require_unconfined(caller)
        cases = SUITES.get(req.suite)
        if cases is None:
            known = ", ".join(sorted(SUITES))
            raise InvalidInput(UNKNOWN_SUITE.format(suite=req.suite, known=known))
        checks = {
            "newer fact supersedes older fact": _check_supersede,
            "context pack groups typed memories": _check_context_pack,
            "junk capture is rejected": lambda: _check_junk(self._max_content_chars),
            "hygiene report exposes review candidates": _check_hygiene,
            "memory-type retention policies are available": _check_retention,
        }
        results = [_run(name, checks[name]) for name in cases]
        report = await self.hygiene(caller, HygieneRequest())
        passed = sum(1 for r in results if r.passed)
        return EvaluateResponse(
            suite=req.suite,
            passed=passed == len(results),
            summary=EvaluateSummary(total=len(results), passed=passed, failed=len(results) - passed),
            cases=results,
            checks=list(results),
            hygiene=report.summary,
        )


# -- rendering --------------------------------------------------------------------------------------


def _item(finding: hygiene.EntryFinding) -> HygieneItem:
    entry = finding.entry
    text, cut = snippet(entry.content)
    return HygieneItem(
        id=entry.id,
        namespace=entry.namespace,
        project=entry.project_id,
        memory_type=finding.memory_type,
        reason=finding.reason,
        snippet=text,
        truncated=cut,
        updated_at=iso(entry.updated_at),
        tier="cold" if entry.cold else "warm",
        worthiness=finding.score,
    )


def _pair(finding: hygiene.PairFinding) -> HygienePair:
    newer, older = finding.newer, finding.older
    return HygienePair(
        ids=[newer.id, older.id],
        namespace=newer.namespace,
        project=newer.project_id,
        reason=finding.reason,
        score=finding.score,
        snippets=[snippet(newer.content)[0], snippet(older.content)[0]],
    )


def _report(report: hygiene.HygieneReport, k: int, limit: int) -> HygieneResponse:
    return HygieneResponse(
        low_value=[_item(f) for f in report.low_value[:k]],
        stale=[_item(f) for f in report.stale[:k]],
        duplicate_clusters=[_pair(p) for p in report.duplicates[:k]],
        contradiction_candidates=[_pair(p) for p in report.contradictions[:k]],
        orphan_candidates=[_item(f) for f in report.orphans[:k]],
        summary=HygieneSummary(
            scanned=report.scanned,
            scan_limit=limit,
            low_value=len(report.low_value),
            stale=len(report.stale),
            duplicate_clusters=len(report.duplicates),
            contradiction_candidates=len(report.contradictions),
            orphan_candidates=len(report.orphans),
            pair_scan_complete=report.pair_scan_complete,
        ),
    )


# -- the core suite ---------------------------------------------------------------------------------
# Each check calls the production function on synthetic input and returns (passed, detail).

Check = Callable[[], tuple[bool, str]]


def _run(name: str, check: Check) -> EvaluateCase:
    try:
        passed, detail = check()
    except Exception as exc:  # a self-check that crashes is a failed check, reported rather than a 500
        log.exception("evaluation case %r raised", name)
        return EvaluateCase(name=name, passed=False, detail=f"the check raised {type(exc).__name__}")
    return EvaluateCase(name=name, passed=passed, detail=detail)


def _synthetic(
    key: str,
    content: str,
    *,
    namespace: str = "memory",
    memory_type: str | None = None,
    project: str | None = None,
    age_minutes: int = 0,
    embedded: bool = True,
) -> MemoryEntry:
    """An in-memory entry of a fictitious caller; it is never stored."""
    at = now_utc() - timedelta(minutes=age_minutes)
    return MemoryEntry(
        id=f"eval-{key}",
        tenant_id="evaluation",
        user_id="evaluation",
        project_id=project,
        namespace=namespace,
        content=content,
        source="evaluation",
        agent_name=None,
        metadata={"memoryType": memory_type} if memory_type else {},
        cold=False,
        source_type="evaluation",
        captured_from=None,
        confidence=1.0,
        created_at=at,
        updated_at=at,
        embedded=embedded,
    )


def _check_supersede() -> tuple[bool, str]:
    old, new = "The API listens on port 7778", "The API listens on port 7779"
    refined = "The API listens on port 7778 behind the nginx proxy"
    if not heuristics.looks_contradictory(old, new):
        return False, "'port 7778' then 'port 7779' was not seen as a contradiction"
    if heuristics.looks_contradictory(old, refined):
        return False, "a refinement that keeps the same port was seen as a contradiction"
    if not heuristics.is_content_superset(old, refined):
        return False, "a refinement was not seen as a superset (capture would not update in place)"
    return True, "port 7778 → 7779 supersedes; a same-port refinement updates in place"


def _check_context_pack() -> tuple[bool, str]:
    pref = _synthetic("pref", "The user prefers dark mode in every editor", namespace="user")
    setup = _synthetic("setup", "The staging API runs on port 8080", memory_type="setup_fact")
    decision = _synthetic("decision", "We decided to adopt PostgreSQL for the queue", memory_type="decision")
    safety = _synthetic("safety", "Never force-push to main", memory_type="safety_constraint", project="p-eval")
    pack = context_pack([pref, setup, safety], [decision])
    expected = {
        "userPreferences": {pref.id},
        "currentSetup": {setup.id},
        "decisions": {decision.id},
        "recentDecisions": {decision.id},
        "safetyConstraints": {safety.id},
        "projectScoped": {safety.id},
        "userGlobal": {pref.id, setup.id, decision.id},
        "all": {pref.id, setup.id, decision.id, safety.id},
    }
    groups = pack.to_wire()
    wrong = [group for group, ids in expected.items() if {item["id"] for item in groups.get(group, [])} != ids]
    if wrong:
        return False, "misgrouped: " + ", ".join(wrong)
    return True, f"{len(expected)} groups hold exactly their typed memories"


_JUNK = ("ok thanks", "thanks!", "Got it.", "ok", "sure")
_DURABLE = "The staging cluster runs PostgreSQL 16 on port 5433"


def _check_junk(max_chars: int) -> tuple[bool, str]:
    accepted = [text for text in _JUNK if gate_rejection(text, max_chars=max_chars, force=False) is None]
    if accepted:
        return False, "accepted junk: " + ", ".join(repr(t) for t in accepted)
    if gate_rejection(_DURABLE, max_chars=max_chars, force=False) is not None:
        return False, "a durable fact was rejected"
    return True, f"{len(_JUNK)} junk captures rejected, a durable fact accepted"


def _check_hygiene() -> tuple[bool, str]:
    entries = [
        _synthetic("dup-a", "Staging database backups run nightly at two in the morning", age_minutes=1),
        _synthetic("dup-b", "The staging database backups run nightly at two in the morning UTC", age_minutes=2),
        _synthetic("short", "misc note", age_minutes=3),
        _synthetic("setup", "The build server runs Ubuntu 22.04", memory_type="setup_fact", age_minutes=4),
        _synthetic("port-old", "The API listens on port 7778", namespace="current-setup", age_minutes=6),
        _synthetic("port-new", "The API listens on port 7779", namespace="current-setup", age_minutes=5),
        _synthetic("owed", "The release checklist lives in the ops wiki", embedded=False, age_minutes=7),
    ]
    report = hygiene.analyze(entries, vectors_expected=True)
    found = {
        "duplicate pair": any({p.newer.id, p.older.id} == {"eval-dup-a", "eval-dup-b"} for p in report.duplicates),
        "low-value entry": any(f.entry.id == "eval-short" for f in report.low_value),
        "current-state entry": any(f.entry.id == "eval-setup" for f in report.stale),
        "contradiction": any(
            (p.newer.id, p.older.id) == ("eval-port-new", "eval-port-old") for p in report.contradictions
        ),
        "orphan": [f.entry.id for f in report.orphans] == ["eval-owed"],
    }
    missing = [name for name, ok in found.items() if not ok]
    if missing:
        return False, "not flagged: " + ", ".join(missing)
    return True, "flags a duplicate pair, a low-value entry, a setup fact, a contradiction and an orphan"


def _check_retention() -> tuple[bool, str]:
    policies = {kind: heuristics.retention_for(kind) for kind in heuristics.MEMORY_TYPES}
    unusable = [kind for kind, r in policies.items() if not r.policy or r.base_effective_days <= 0]
    if unusable:
        return False, "no usable retention for: " + ", ".join(unusable)
    current = [policies["setup_fact"], policies["deployment_state"]]
    if not all(r.supersede_aggressively for r in current):
        return False, "current-state memories are not superseded aggressively"
    if max(r.base_effective_days for r in current) >= policies["user_preference"].base_effective_days:
        return False, "current-state memories outlive user preferences"
    return True, f"{len(policies)} memory types each have a retention policy"
