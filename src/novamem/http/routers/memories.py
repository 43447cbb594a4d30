"""Writes of the v1 data plane: remember (one or a batch), capture, session recap, update and forget."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from novamem.http.deps import CallerDep, ContainerDep
from novamem.services.memory.batch_models import RememberBatchRequest, RememberBatchResponse
from novamem.services.memory.models import (
    CaptureResult,
    ForgetRequest,
    ForgetResponse,
    MemoryCreate,
    MemoryUpdate,
    RecapRequest,
    RecapResponse,
    UpdateResponse,
)
from novamem.services.wire import ENTRY_ID_PATTERN

router = APIRouter(prefix="/v1", tags=["memories"])

_CREATED: dict[int | str, dict[str, Any]] = {
    201: {"model": CaptureResult, "description": "stored, deduplicated or rejected (`id: null` with `rejected`)"}
}


@router.post("/remember", status_code=201, responses=_CREATED, response_class=JSONResponse)
async def remember(body: MemoryCreate, caller: CallerDep, c: ContainerDep) -> JSONResponse:
    """Store one memory as given: worthiness gate, length cap and exact dedup only."""
    return JSONResponse((await c.memories.remember(caller, body)).to_wire(), status_code=201)


@router.post(
    "/remember/batch",
    status_code=201,
    response_model=None,
    responses={
        201: {
            "model": RememberBatchResponse,
            "description": "one result per entry, in order; an entry refused on its own has `id: null` and "
            "`error` (when every entry is refused, the request answers that error as `/v1/remember` would)",
        }
    },
)
async def remember_batch(body: RememberBatchRequest, caller: CallerDep, c: ContainerDep) -> JSONResponse:
    """Extension: store up to 200 memories in one call, each as `POST /v1/remember` would (gate, length
    cap, sensitivity, exact dedup, quotas); texts over the length cap are split into pieces. An invalid
    entry refuses the whole request (issues at `entries.N.<field>`)."""
    return JSONResponse((await c.memories.remember_batch(caller, body)).to_wire(), status_code=201)


@router.post("/capture", status_code=201, responses=_CREATED, response_class=JSONResponse)
async def capture(body: MemoryCreate, caller: CallerDep, c: ContainerDep) -> JSONResponse:
    """Store a memory an agent learned; near-duplicates are updated or superseded instead of repeated."""
    return JSONResponse((await c.memories.capture(caller, body)).to_wire(), status_code=201)


@router.post("/session-recap", status_code=201, response_model=None, responses={201: {"model": RecapResponse}})
async def session_recap(body: RecapRequest, caller: CallerDep, c: ContainerDep) -> dict[str, Any]:
    """Capture an end-of-session recap: each typed item becomes its own memory."""
    return (await c.memories.session_recap(caller, body)).to_wire()


@router.put(
    "/memories/{id}",
    response_model=None,
    responses={200: {"model": UpdateResponse}, 404: {"description": "no such memory in your scope"}},
)
async def update_memory(
    id: Annotated[str, Path(pattern=ENTRY_ID_PATTERN, description="memory id")],
    body: MemoryUpdate,
    caller: CallerDep,
    c: ContainerDep,
) -> dict[str, Any]:
    """Change a memory in place; `metadata` replaces the stored object (merge on the client)."""
    return (await c.memories.update(caller, id, body)).to_wire()


@router.post("/forget", response_model=None, responses={200: {"model": ForgetResponse}})
async def forget(body: ForgetRequest, caller: CallerDep, c: ContainerDep) -> dict[str, Any]:
    """Delete one memory by `id`, or every memory carrying a `sourceRef`."""
    return (await c.memories.forget(caller, body)).to_wire()
