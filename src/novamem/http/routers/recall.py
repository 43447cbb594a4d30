"""Reads of the v1 data plane: search, context, recent, neighbors and stats."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from novamem.http.deps import CallerDep, ContainerDep
from novamem.services.memory.models import (
    ContextRequest,
    ContextResponse,
    NeighborsRequest,
    RecentRequest,
    RecentResponse,
    SearchRequest,
    SearchResponse,
    StatsResponse,
)

router = APIRouter(prefix="/v1", tags=["recall"])


_OPTIONAL = ("content", "metadata", "signals", "truncated")


def _views(items: list[Any]) -> list[dict[str, Any]]:
    """Wire dicts of result views; optional fields are left out when empty, `project` is always there."""
    out = []
    for view in items:
        data = view.model_dump(by_alias=True)
        for key in _OPTIONAL:
            if data.get(key) is None:
                data.pop(key, None)
        out.append(data)
    return out


@router.post("/search", response_model=None, responses={200: {"model": SearchResponse}})
async def search(body: SearchRequest, caller: CallerDep, c: ContainerDep) -> JSONResponse:
    """Hybrid search (keyword + vector + recency + entity). Degraded and empty answers 503."""
    outcome = await c.recall.search(caller, body)
    status = 503 if outcome.degraded and not outcome.results else 200
    payload: dict[str, Any] = {"results": _views(outcome.results), "degraded": outcome.degraded}
    if status == 503:
        payload["error"] = "search degraded: the embedder is unavailable and keywords found nothing"
    return JSONResponse(payload, status_code=status)


@router.post("/context", response_model=None, responses={200: {"model": ContextResponse}})
async def context(body: ContextRequest, caller: CallerDep, c: ContainerDep) -> JSONResponse:
    """Everything an agent should read before answering: relevant, recent and a grouped pack."""
    result = await c.recall.context(caller, body)
    relevant = result["relevant"]
    degraded_empty = relevant["degraded"] and not relevant["results"]
    relevant["results"] = _views(relevant["results"])
    result["recent"]["results"] = _views(result["recent"]["results"])
    if degraded_empty:
        result["error"] = "context degraded: the embedder is unavailable and keywords found nothing"
    return JSONResponse(result, status_code=503 if degraded_empty else 200)


@router.post("/recent", response_model=None, responses={200: {"model": RecentResponse}})
async def recent(caller: CallerDep, c: ContainerDep, body: RecentRequest | None = None) -> dict[str, Any]:
    """Newest memories first; never promotes cold entries."""
    return {"results": _views(await c.recall.recent(caller, body or RecentRequest()))}


@router.post("/neighbors", response_model=None, responses={200: {"model": SearchResponse}})
async def neighbors(body: NeighborsRequest, caller: CallerDep, c: ContainerDep) -> dict[str, Any]:
    """Memories linked to a seed memory through `co_occurs` edges, up to three hops."""
    return {"results": _views(await c.recall.neighbors(caller, body)), "degraded": False}


@router.get("/stats", response_model=None, responses={200: {"model": StatsResponse}})
async def stats(caller: CallerDep, c: ContainerDep) -> dict[str, Any]:
    """Warm/cold counts per namespace over the caller's memories."""
    return await c.recall.stats(caller)
