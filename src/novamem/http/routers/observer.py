"""The observer's read route, `GET /v1/context-prefix`: no observer runs in this version, so it answers the
contract's switched-off answer, 404 `{"error":"observer disabled"}` (`POST /v1/observe` answers it with 503)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from novamem.error_messages import OBSERVER_DISABLED
from novamem.http.deps import CallerDep
from novamem.services.operations.observer_models import ContextPrefix

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["memory"])

_ERROR: dict[str, Any] = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


@router.get(
    "/context-prefix",
    response_model=None,
    responses={
        200: {"model": ContextPrefix, "description": "the contract's result (not returned by this version)"},
        404: {"description": "the observer is not part of this version: observer disabled", **_ERROR},
    },
)
async def context_prefix(
    caller: CallerDep,
    project: Annotated[str | None, Query(min_length=1, max_length=128, description="project id or name")] = None,
) -> JSONResponse:
    """The observer's log for a prompt-cacheable prefix: not part of this version, so it answers 404
    "observer disabled" to every caller with a data-plane credential (a switched-off feature, not a failure)."""
    return JSONResponse({"error": OBSERVER_DISABLED}, status_code=404)
