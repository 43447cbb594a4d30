"""The data-plane operations (`Client` in the reference): each function builds the `Call` of one route.

Arguments are snake_case and become the camelCase body the server reads; `None` means "not given"
(the server's default applies). `agent_name` on search is tri-state: leave it out for any agent, pass
None for memories written without an agent, or a name.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, ParamSpec, TypeVar

from ._call import Call, path, result
from ._models import (
    AdoptionReport,
    ContextPrefix,
    ContextResult,
    Evaluation,
    ForgetResult,
    Health,
    HygieneReport,
    RecapResult,
    RecentResults,
    SearchResults,
    Stats,
    UpdateResult,
    WriteResult,
)
from ._wire import wire_body

__all__ = [
    "NOT_GIVEN",
    "ContentMode",
    "NotGiven",
    "Sensitivity",
    "adoption",
    "capture",
    "context",
    "context_prefix",
    "evaluate",
    "forget",
    "forget_by_source",
    "health",
    "hygiene",
    "neighbors",
    "recent",
    "remember",
    "search",
    "session_recap",
    "stats",
    "today",
    "update_memory",
]

P = ParamSpec("P")
T = TypeVar("T")

Sensitivity = Literal["public", "internal", "private", "sensitive"]
ContentMode = Literal["full", "snippet", "ids"]
TODAY_WINDOW = timedelta(hours=24)


class NotGiven:
    """The type of `NOT_GIVEN`: an argument left out, as opposed to an explicit None (JSON null)."""

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN = NotGiven()


def _empty_and_degraded(answer: Any) -> bool:
    return isinstance(answer, Mapping) and answer.get("degraded") is True and not answer.get("results")


def _context_degraded(answer: Any) -> bool:
    return isinstance(answer, Mapping) and _empty_and_degraded(answer.get("relevant"))


def health() -> Call[Health]:
    """Readiness of the server (`GET /ready`): `ok` false when it answers that a dependency is down."""
    return Call("GET", "/ready", result(Health), tolerate=frozenset({503}))


def search(
    query: str,
    *,
    k: int | None = None,
    namespace: str | None = None,
    include_namespaces: Sequence[str] | None = None,
    project: str | None = None,
    include_projects: Sequence[str] | None = None,
    agent_name: str | None | NotGiven = NOT_GIVEN,
    weights: Mapping[str, float] | None = None,
    content_mode: ContentMode | None = None,
    max_sensitivity: Sensitivity | None = None,
    decompose: bool | None = None,
    expand_source_chunks: bool | None = None,
    rerank: bool | None = None,
    min_vector_score: float | None = None,
    max_tokens: int | None = None,
) -> Call[SearchResults]:
    """Hybrid search over your memories. Raises `NovamemUnavailable` when degraded with no results."""
    fields = dict(locals())  # every parameter, taken before any other local exists
    chosen_agent = fields.pop("agent_name")
    body = wire_body(**fields)
    if not isinstance(chosen_agent, NotGiven):
        body["agentName"] = chosen_agent
    return Call("POST", "/v1/search", result(SearchResults), body=body, degraded=_empty_and_degraded)


def context(
    message: str,
    *,
    k: int | None = None,
    namespace: str | None = None,
    include_namespaces: Sequence[str] | None = None,
    project: str | None = None,
    include_projects: Sequence[str] | None = None,
    weights: Mapping[str, float] | None = None,
    max_sensitivity: Sensitivity | None = None,
    decompose: bool | None = None,
    expand_source_chunks: bool | None = None,
    rerank: bool | None = None,
    max_tokens: int | None = None,
) -> Call[ContextResult]:
    """Everything to read before answering `message`: relevant and recent memories, a grouped pack and
    guidance. Raises `NovamemUnavailable` when the relevant part is degraded and empty."""
    body = wire_body(**locals())
    return Call("POST", "/v1/context", result(ContextResult), body=body, degraded=_context_degraded)


def recent(
    *,
    k: int | None = None,
    since: datetime | str | None = None,
    namespace: str | None = None,
    include_namespaces: Sequence[str] | None = None,
    project: str | None = None,
    include_projects: Sequence[str] | None = None,
    content_mode: ContentMode | None = None,
    max_sensitivity: Sensitivity | None = None,
) -> Call[RecentResults]:
    """Your newest memories first (never promotes cold ones); `since` is an aware datetime or ISO string."""
    return Call("POST", "/v1/recent", result(RecentResults), body=wire_body(**locals()))


def today(
    *,
    k: int | None = None,
    namespace: str | None = None,
    include_namespaces: Sequence[str] | None = None,
    project: str | None = None,
    include_projects: Sequence[str] | None = None,
    content_mode: ContentMode | None = None,
    max_sensitivity: Sensitivity | None = None,
) -> Call[RecentResults]:
    """`recent` over the last 24 hours (by this machine's clock)."""
    return recent(since=datetime.now(timezone.utc) - TODAY_WINDOW, **locals())


def neighbors(
    id: str,
    *,
    depth: int | None = None,
    k: int | None = None,
    project: str | None = None,
    include_projects: Sequence[str] | None = None,
    max_sensitivity: Sensitivity | None = None,
) -> Call[SearchResults]:
    """Memories linked to memory `id` through the graph, up to `depth` (1-3) hops; an unknown seed gives
    an empty result. Raises `NovamemUnavailable` when degraded with no results."""
    body = wire_body(**locals())
    return Call("POST", "/v1/neighbors", result(SearchResults), body=body, degraded=_empty_and_degraded)


def capture(
    content: str,
    *,
    namespace: str | None = None,
    source: str | None = None,
    agent_name: str | None = None,
    project: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    sensitivity: Sensitivity | None = None,
    source_type: str | None = None,
    captured_from: str | None = None,
    confidence: float | None = None,
    force: bool | None = None,
    expires_at: datetime | str | None = None,
    source_refs: Sequence[str] | None = None,
) -> Call[WriteResult]:
    """Store what an agent learned; a near-duplicate updates or supersedes the existing memory instead."""
    return Call("POST", "/v1/capture", result(WriteResult), body=wire_body(**locals()))


def _on_route(route: str, doc: str, build: Callable[P, Call[T]]) -> Callable[P, Call[T]]:
    """The operation `build` sent to another route that takes the same body."""

    @functools.wraps(build)
    def moved(*args: P.args, **kwargs: P.kwargs) -> Call[T]:
        return dataclasses.replace(build(*args, **kwargs), path=route)

    moved.__doc__ = doc
    moved.__name__ = moved.__qualname__ = route.rsplit("/", 1)[-1]
    return moved


remember = _on_route(
    "/v1/remember",
    "Store one memory as given (worthiness gate and exact dedup only); `id` is None with `rejected` when "
    "the gate refuses it. Takes the same arguments as `capture`.",
    capture,
)


def session_recap(
    *,
    decisions: Sequence[str] | None = None,
    setup_facts: Sequence[str] | None = None,
    root_causes: Sequence[str] | None = None,
    preferences: Sequence[str] | None = None,
    project_conventions: Sequence[str] | None = None,
    safety_constraints: Sequence[str] | None = None,
    other: Sequence[str] | None = None,
    namespace: str | None = None,
    source: str | None = None,
    source_type: str | None = None,
    captured_from: str | None = None,
    agent_name: str | None = None,
    confidence: float | None = None,
    force: bool | None = None,
    project: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    sensitivity: Sensitivity | None = None,
) -> Call[RecapResult]:
    """Capture an end-of-session recap: each item (12-4000 characters) becomes its own memory."""
    return Call("POST", "/v1/session-recap", result(RecapResult), body=wire_body(**locals()))


def forget(id: str, *, project: str | None = None) -> Call[ForgetResult]:
    """Delete memory `id`; an unknown (or foreign) id answers `deleted` False, never an error."""
    return Call("POST", "/v1/forget", result(ForgetResult), body=wire_body(**locals()))


def forget_by_source(source_ref: str, *, project: str | None = None) -> Call[ForgetResult]:
    """Delete every memory carrying the source reference `source_ref`; `count` 0 when none did."""
    return Call("POST", "/v1/forget", result(ForgetResult), body=wire_body(**locals()))


def update_memory(
    id: str,
    *,
    content: str | None = None,
    namespace: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    sensitivity: Sensitivity | None = None,
    source_type: str | None = None,
    captured_from: str | None = None,
    confidence: float | None = None,
    project: str | None = None,
) -> Call[UpdateResult]:
    """Change memory `id` in place; `metadata` replaces the stored object. `NovamemNotFound` outside
    your scope."""
    fields = dict(locals())
    route = path("/v1/memories/{}", fields.pop("id"))
    return Call("PUT", route, result(UpdateResult), body=wire_body(**fields))


def stats() -> Call[Stats]:
    """Warm and cold counts per namespace over the memories you can see."""
    return Call("GET", "/v1/stats", result(Stats))


def hygiene(*, k: int | None = None) -> Call[HygieneReport]:
    """A read-only diagnosis: low-value, stale, duplicate, contradicting and orphaned memories."""
    return Call("POST", "/v1/hygiene", result(HygieneReport), body=wire_body(k=k))


def evaluate(*, suite: str | None = None) -> Call[Evaluation]:
    """Run an evaluation suite (default `core`) over your memories."""
    return Call("POST", "/v1/evaluate", result(Evaluation), body=wire_body(suite=suite))


def adoption(
    *,
    client: str | None = None,
    observed_tools: Sequence[str] | None = None,
    observed_instructions_hash: str | None = None,
) -> Call[AdoptionReport]:
    """How an agent host should use novamem's MCP surface, checked against what it observed."""
    return Call("POST", "/v1/adoption", result(AdoptionReport), body=wire_body(**locals()))


def context_prefix(*, project: str | None = None) -> Call[ContextPrefix]:
    """The observer's log as a prompt-cacheable prefix (`NovamemNotFound` "observer disabled" without one)."""
    return Call("GET", "/v1/context-prefix", result(ContextPrefix), query={"project": project})
