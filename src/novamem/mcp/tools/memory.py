"""The memory tools: each validates its arguments with the REST request model and calls the same service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import Field

from novamem.container import Container
from novamem.domain.scope import Caller
from novamem.errors import Unavailable
from novamem.mcp.tools.base import NoArgs, ToolSpec
from novamem.services.agents.adoption_models import AdoptionReport, AdoptionRequest
from novamem.services.memory.diagnostics_models import (
    EvaluateRequest,
    EvaluateResponse,
    HygieneRequest,
    HygieneResponse,
)
from novamem.services.memory.models import (
    CaptureResult,
    ForgetRequest,
    ForgetResponse,
    MemoryCreate,
    MemoryUpdate,
    NeighborsRequest,
    RecapRequest,
    RecapResponse,
    RecentRequest,
    RecentResponse,
    ScopeIn,
    SearchRequest,
    SearchResponse,
    StatsResponse,
    UpdateResponse,
)
from novamem.services.memory.models import ContextRequest as ContextIn
from novamem.services.memory.models import ContextResponse as ContextOut
from novamem.services.wire import ContentMode as ContentModeName
from novamem.services.wire import EntryId

__all__ = ["MEMORY_TOOLS"]


class TodayArgs(ScopeIn):
    k: int = Field(20, ge=1, le=200)
    content_mode: ContentModeName = "full"


class UpdateArgs(MemoryUpdate):
    id: EntryId = Field(description="the memory to change")


# ---- memory tools ------------------------------------------------------------------------------------

_OPTIONAL = ("content", "metadata", "signals", "truncated")


def _views(items: list[Any]) -> list[dict[str, Any]]:
    """Wire dicts of result views, optional fields left out when empty (as on REST)."""
    out = []
    for view in items:
        data = view.model_dump(by_alias=True, mode="json")
        for key in _OPTIONAL:
            if data.get(key) is None:
                data.pop(key, None)
        out.append(data)
    return out


async def _context(c: Container, caller: Caller, req: ContextIn, _ip: str | None) -> dict[str, Any]:
    result = await c.recall.context(caller, req)
    relevant = result["relevant"]
    if relevant["degraded"] and not relevant["results"]:
        raise Unavailable("context degraded: the embedder is unavailable and keywords found nothing")
    relevant["results"] = _views(relevant["results"])
    result["recent"]["results"] = _views(result["recent"]["results"])
    return result


async def _search(c: Container, caller: Caller, req: SearchRequest, _ip: str | None) -> dict[str, Any]:
    outcome = await c.recall.search(caller, req)
    if outcome.degraded and not outcome.results:
        raise Unavailable("search degraded: the embedder is unavailable and keywords found nothing")
    return {"results": _views(outcome.results), "degraded": outcome.degraded}


async def _remember(c: Container, caller: Caller, req: MemoryCreate, _ip: str | None) -> dict[str, Any]:
    return (await c.memories.remember(caller, req)).to_wire()


async def _capture(c: Container, caller: Caller, req: MemoryCreate, _ip: str | None) -> dict[str, Any]:
    result = await c.memories.capture(caller, req)
    return {"saved": 1 if result.id is not None else 0, "results": [result.to_wire()]}


async def _recap(c: Container, caller: Caller, req: RecapRequest, _ip: str | None) -> dict[str, Any]:
    saved, results = await c.memories.session_recap(caller, req)
    return {"saved": saved, "results": [r.to_wire() for r in results]}


async def _recent(c: Container, caller: Caller, req: RecentRequest, _ip: str | None) -> dict[str, Any]:
    return {"results": _views(await c.recall.recent(caller, req))}


async def _today(c: Container, caller: Caller, req: TodayArgs, _ip: str | None) -> dict[str, Any]:
    since = datetime.now(UTC) - timedelta(hours=24)
    recent = RecentRequest(**req.model_dump(), since=since)
    return {"results": _views(await c.recall.recent(caller, recent))}


async def _neighbors(c: Container, caller: Caller, req: NeighborsRequest, _ip: str | None) -> dict[str, Any]:
    return {"results": _views(await c.recall.neighbors(caller, req)), "degraded": False}


async def _forget(c: Container, caller: Caller, req: ForgetRequest, _ip: str | None) -> dict[str, Any]:
    if req.id is not None:
        return await c.memories.forget(caller, req.id, req.project)
    assert req.source_ref is not None
    return await c.memories.forget_by_source(caller, req.source_ref, req.project)


async def _update(c: Container, caller: Caller, req: UpdateArgs, _ip: str | None) -> dict[str, Any]:
    body = MemoryUpdate.model_validate(req.model_dump(exclude={"id"}, exclude_unset=True))
    return await c.memories.update(caller, req.id, body)


async def _stats(c: Container, caller: Caller, _req: NoArgs, _ip: str | None) -> dict[str, Any]:
    return await c.recall.stats(caller)


async def _hygiene(c: Container, caller: Caller, req: HygieneRequest, _ip: str | None) -> dict[str, Any]:
    return await c.diagnostics.hygiene(caller, req)


async def _evaluate(c: Container, caller: Caller, req: EvaluateRequest, _ip: str | None) -> dict[str, Any]:
    return await c.diagnostics.evaluate(caller, req)


async def _adoption(c: Container, caller: Caller, req: AdoptionRequest, _ip: str | None) -> dict[str, Any]:
    return await c.adoption.report(caller, req)


MEMORY_TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec("memory_context", ContextIn, ContextOut, _context, ("POST", "/v1/context")),
    ToolSpec("memory_search", SearchRequest, SearchResponse, _search, ("POST", "/v1/search")),
    ToolSpec("memory_remember", MemoryCreate, CaptureResult, _remember, ("POST", "/v1/remember")),
    ToolSpec("memory_capture", MemoryCreate, RecapResponse, _capture, ("POST", "/v1/capture")),
    ToolSpec("memory_session_recap", RecapRequest, RecapResponse, _recap, ("POST", "/v1/session-recap")),
    ToolSpec("memory_recent", RecentRequest, RecentResponse, _recent, ("POST", "/v1/recent")),
    ToolSpec("memory_today", TodayArgs, RecentResponse, _today, ("POST", "/v1/recent")),
    ToolSpec("memory_neighbors", NeighborsRequest, SearchResponse, _neighbors, ("POST", "/v1/neighbors")),
    ToolSpec("memory_forget", ForgetRequest, ForgetResponse, _forget, ("POST", "/v1/forget")),
    ToolSpec("memory_update", UpdateArgs, UpdateResponse, _update, ("PUT", "/v1/memories/{id}")),
    ToolSpec("memory_stats", NoArgs, StatsResponse, _stats, ("GET", "/v1/stats")),
    ToolSpec("memory_hygiene", HygieneRequest, HygieneResponse, _hygiene, ("POST", "/v1/hygiene")),
    ToolSpec("memory_evaluate", EvaluateRequest, EvaluateResponse, _evaluate, ("POST", "/v1/evaluate")),
    ToolSpec("memory_adoption", AdoptionRequest, AdoptionReport, _adoption, ("POST", "/v1/adoption")),
)
