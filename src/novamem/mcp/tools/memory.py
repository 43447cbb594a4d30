"""The memory tools: each validates its arguments with the REST request model, calls the same service
function as its REST route and renders the same result model (`to_wire()`), so both doors answer alike."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from novamem.container import Container
from novamem.domain.scope import Caller
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
    ContextRequest,
    ContextResponse,
    ForgetRequest,
    ForgetResponse,
    MemoryCreate,
    MemoryUpdate,
    NeighborsRequest,
    RecapRequest,
    RecapResponse,
    RecentRequest,
    RecentResponse,
    SearchRequest,
    SearchResponse,
    StatsResponse,
    TodayRequest,
    UpdateResponse,
)
from novamem.services.wire import EntryId

__all__ = ["MEMORY_TOOLS"]


# `PUT /v1/memories/{id}` as one argument object: the path's id joins the body
class UpdateArgs(MemoryUpdate):
    id: EntryId = Field(description="the memory to change")


# ---- memory tools ------------------------------------------------------------------------------------
# A degraded and empty search or context raises `DegradedEmpty` (an `Unavailable`) in the service: here an
# error result, on REST a 503.


async def _context(c: Container, caller: Caller, req: ContextRequest, _ip: str | None) -> dict[str, Any]:
    return (await c.recall.context(caller, req)).to_wire()


async def _search(c: Container, caller: Caller, req: SearchRequest, _ip: str | None) -> dict[str, Any]:
    return (await c.recall.search(caller, req)).to_wire()


async def _remember(c: Container, caller: Caller, req: MemoryCreate, _ip: str | None) -> dict[str, Any]:
    return (await c.memories.remember(caller, req)).to_wire()


async def _capture(c: Container, caller: Caller, req: MemoryCreate, _ip: str | None) -> dict[str, Any]:
    return (await c.memories.capture(caller, req)).to_wire()


async def _recap(c: Container, caller: Caller, req: RecapRequest, _ip: str | None) -> dict[str, Any]:
    return (await c.memories.session_recap(caller, req)).to_wire()


async def _recent(c: Container, caller: Caller, req: RecentRequest, _ip: str | None) -> dict[str, Any]:
    return (await c.recall.recent(caller, req)).to_wire()


async def _today(c: Container, caller: Caller, req: TodayRequest, _ip: str | None) -> dict[str, Any]:
    return (await c.recall.today(caller, req)).to_wire()


async def _neighbors(c: Container, caller: Caller, req: NeighborsRequest, _ip: str | None) -> dict[str, Any]:
    return (await c.recall.neighbors(caller, req)).to_wire()


async def _forget(c: Container, caller: Caller, req: ForgetRequest, _ip: str | None) -> dict[str, Any]:
    return (await c.memories.forget(caller, req)).to_wire()


async def _update(c: Container, caller: Caller, req: UpdateArgs, _ip: str | None) -> dict[str, Any]:
    body = MemoryUpdate.model_validate(req.model_dump(exclude={"id"}, exclude_unset=True))
    return (await c.memories.update(caller, req.id, body)).to_wire()


async def _stats(c: Container, caller: Caller, _req: NoArgs, _ip: str | None) -> dict[str, Any]:
    return (await c.recall.stats(caller)).to_wire()


async def _hygiene(c: Container, caller: Caller, req: HygieneRequest, _ip: str | None) -> dict[str, Any]:
    return (await c.diagnostics.hygiene(caller, req)).to_wire()


async def _evaluate(c: Container, caller: Caller, req: EvaluateRequest, _ip: str | None) -> dict[str, Any]:
    return (await c.diagnostics.evaluate(caller, req)).to_wire()


async def _adoption(c: Container, caller: Caller, req: AdoptionRequest, _ip: str | None) -> dict[str, Any]:
    return (await c.adoption.report(caller, req)).to_wire()


MEMORY_TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec("memory_context", ContextRequest, ContextResponse, _context, ("POST", "/v1/context")),
    ToolSpec("memory_search", SearchRequest, SearchResponse, _search, ("POST", "/v1/search")),
    ToolSpec("memory_remember", MemoryCreate, CaptureResult, _remember, ("POST", "/v1/remember")),
    ToolSpec("memory_capture", MemoryCreate, CaptureResult, _capture, ("POST", "/v1/capture")),
    ToolSpec("memory_session_recap", RecapRequest, RecapResponse, _recap, ("POST", "/v1/session-recap")),
    ToolSpec("memory_recent", RecentRequest, RecentResponse, _recent, ("POST", "/v1/recent")),
    ToolSpec("memory_today", TodayRequest, RecentResponse, _today, ("POST", "/v1/recent")),
    ToolSpec("memory_neighbors", NeighborsRequest, SearchResponse, _neighbors, ("POST", "/v1/neighbors")),
    ToolSpec("memory_forget", ForgetRequest, ForgetResponse, _forget, ("POST", "/v1/forget")),
    ToolSpec("memory_update", UpdateArgs, UpdateResponse, _update, ("PUT", "/v1/memories/{id}")),
    ToolSpec("memory_stats", NoArgs, StatsResponse, _stats, ("GET", "/v1/stats")),
    ToolSpec("memory_hygiene", HygieneRequest, HygieneResponse, _hygiene, ("POST", "/v1/hygiene")),
    ToolSpec("memory_evaluate", EvaluateRequest, EvaluateResponse, _evaluate, ("POST", "/v1/evaluate")),
    ToolSpec("memory_adoption", AdoptionRequest, AdoptionReport, _adoption, ("POST", "/v1/adoption")),
)
