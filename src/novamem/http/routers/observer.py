"""The observer's read route, `GET /v1/context-prefix`: the caller's log of dated bullets, or the contract's
switched-off answer, 404 `{"error":"observer disabled"}`, when no observer is configured (`POST /v1/observe`
answers it with 503)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from novamem.error_messages import OBSERVER_DISABLED
from novamem.http.deps import CallerDep, ContainerDep
from novamem.services.operations.observer_models import ContextPrefix

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["memory"])

_ERROR: dict[str, Any] = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


@router.get(
    "/context-prefix",
    response_model=None,
    responses={
        200: {"model": ContextPrefix},
        404: {"description": "observer disabled: no `NOVAMEM_OBSERVER_ENABLED`", **_ERROR},
    },
)
async def context_prefix(
    caller: CallerDep,
    c: ContainerDep,
    project: Annotated[str | None, Query(min_length=1, max_length=128, description="project id or name")] = None,
) -> JSONResponse:
    """Your observer log (of `project`, else of your token's or active project, else outside any project) as a
    prompt-cacheable prefix: dated bullets, oldest first, `""` before the first observation."""
    if c.observer is None:
        return JSONResponse({"error": OBSERVER_DISABLED}, status_code=404)
    return JSONResponse((await c.observer.context_prefix(caller, project)).to_wire())
