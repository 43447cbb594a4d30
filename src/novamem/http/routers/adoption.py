"""`POST /v1/adoption`: is this client's view of the MCP tools and instructions current?"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from novamem.http.deps import CallerDep, ContainerDep
from novamem.services.agents.adoption_models import AdoptionReport, AdoptionRequest

router = APIRouter(prefix="/v1", tags=["diagnostics"])


@router.post("/adoption", response_model=None, responses={200: {"model": AdoptionReport}})
async def adoption(caller: CallerDep, c: ContainerDep, body: AdoptionRequest | None = None) -> dict[str, Any]:
    """Compare the tools and instructions a client sees with what the server publishes, and how to refresh it."""
    return (await c.adoption.report(caller, body or AdoptionRequest())).to_wire()
