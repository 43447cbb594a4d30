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
from novamem.services.memory.recall import DegradedEmpty

router = APIRouter(prefix="/v1", tags=["recall"])


@router.post("/search", response_model=None, responses={200: {"model": SearchResponse}})
async def search(body: SearchRequest, caller: CallerDep, c: ContainerDep) -> JSONResponse:
    """Hybrid search (keyword + vector + recency + entity). Degraded and empty answers 503."""
    try:
        return JSONResponse((await c.recall.search(caller, body)).to_wire())
    except DegradedEmpty as exc:  # the contract keeps the (empty) answer beside the error
        return JSONResponse(exc.to_wire(), status_code=503)


@router.post("/context", response_model=None, responses={200: {"model": ContextResponse}})
async def context(body: ContextRequest, caller: CallerDep, c: ContainerDep) -> JSONResponse:
    """Everything an agent should read before answering: relevant, recent and a grouped pack."""
    try:
        return JSONResponse((await c.recall.context(caller, body)).to_wire())
    except DegradedEmpty as exc:  # the contract keeps the answer beside the error
        return JSONResponse(exc.to_wire(), status_code=503)


@router.post("/recent", response_model=None, responses={200: {"model": RecentResponse}})
async def recent(caller: CallerDep, c: ContainerDep, body: RecentRequest | None = None) -> dict[str, Any]:
    """Newest memories first; never promotes cold entries."""
    return (await c.recall.recent(caller, body or RecentRequest())).to_wire()


@router.post("/neighbors", response_model=None, responses={200: {"model": SearchResponse}})
async def neighbors(body: NeighborsRequest, caller: CallerDep, c: ContainerDep) -> dict[str, Any]:
    """Memories linked to a seed memory through `co_occurs` edges, up to three hops."""
    return (await c.recall.neighbors(caller, body)).to_wire()


@router.get("/stats", response_model=None, responses={200: {"model": StatsResponse}})
async def stats(caller: CallerDep, c: ContainerDep) -> dict[str, Any]:
    """Warm/cold counts per namespace over the caller's memories."""
    return (await c.recall.stats(caller)).to_wire()
