"""Read-only diagnostics of the v1 data plane: the hygiene report and the built-in self-checks."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from novamem.http.deps import CallerDep, ContainerDep
from novamem.services.memory.diagnostics_models import (
    EvaluateRequest,
    EvaluateResponse,
    HygieneRequest,
    HygieneResponse,
)

router = APIRouter(prefix="/v1", tags=["diagnostics"])

_ERROR: dict[str, Any] = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_FORBIDDEN: dict[int | str, dict[str, Any]] = {
    403: {"description": "a project-confined token (account-wide read)", **_ERROR}
}


@router.post("/hygiene", response_model=None, responses={200: {"model": HygieneResponse}, **_FORBIDDEN})
async def hygiene(caller: CallerDep, c: ContainerDep, body: HygieneRequest | None = None) -> dict[str, Any]:
    """Review candidates among your recent memories: low value, stale, duplicates, conflicts, orphans.

    Read-only; scans your max(20·k, 100) most recently updated live memories (own and member projects).
    """
    return (await c.diagnostics.hygiene(caller, body or HygieneRequest())).to_wire()


@router.post("/evaluate", response_model=None, responses={200: {"model": EvaluateResponse}, **_FORBIDDEN})
async def evaluate(caller: CallerDep, c: ContainerDep, body: EvaluateRequest | None = None) -> dict[str, Any]:
    """Run a built-in self-check suite of the engine on synthetic data; your memories are never changed."""
    return (await c.diagnostics.evaluate(caller, body or EvaluateRequest())).to_wire()
