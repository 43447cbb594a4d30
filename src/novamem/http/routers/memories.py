"""Writes of the v1 data plane: remember, capture, session recap, update and forget."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from novamem.http.deps import CallerDep, ContainerDep
from novamem.services.schemas import CaptureResult, ForgetRequest, MemoryCreate, MemoryUpdate, RecapRequest

router = APIRouter(prefix="/v1", tags=["memories"])

_OUT = {"response_model_exclude_none": True}


@router.post("/remember", status_code=201, response_model=CaptureResult, **_OUT)
async def remember(body: MemoryCreate, caller: CallerDep, c: ContainerDep) -> CaptureResult:
    """Store one memory as given: worthiness gate, length cap and exact dedup only."""
    return await c.memories.remember(caller, body)


@router.post("/capture", status_code=201, response_model=CaptureResult, **_OUT)
async def capture(body: MemoryCreate, caller: CallerDep, c: ContainerDep) -> CaptureResult:
    """Store a memory an agent learned; near-duplicates are updated or superseded instead of repeated."""
    return await c.memories.capture(caller, body)


@router.post("/session-recap", status_code=201)
async def session_recap(body: RecapRequest, caller: CallerDep, c: ContainerDep) -> dict[str, Any]:
    """Capture an end-of-session recap: each typed item becomes its own memory."""
    saved, results = await c.memories.session_recap(caller, body)
    return {"saved": saved, "results": [r.model_dump(by_alias=True, exclude_none=True) for r in results]}


@router.put("/memories/{id}")
async def update_memory(
    id: Annotated[str, Path(min_length=1, max_length=64)],
    body: MemoryUpdate,
    caller: CallerDep,
    c: ContainerDep,
) -> dict[str, Any]:
    """Change a memory in place; `metadata` replaces the stored object (merge on the client)."""
    return await c.memories.update(caller, id, body)


@router.post("/forget")
async def forget(body: ForgetRequest, caller: CallerDep, c: ContainerDep) -> dict[str, Any]:
    """Delete one memory by `id`, or every memory carrying a `sourceRef`."""
    if body.id is not None:
        return await c.memories.forget(caller, body.id, body.project)
    assert body.source_ref is not None
    return await c.memories.forget_by_source(caller, body.source_ref, body.project)
