"""Per-user write quotas, set by an admin of the user's tenant."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request

from novamem.http.deps import AdminDep, ContainerDep, client_ip
from novamem.services.identity.quota_models import QuotaResponse, QuotaUpdate

__all__ = ["router"]

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.put(
    "/users/{id}/quota",
    response_model=None,
    responses={200: {"model": QuotaResponse}, 404: {"description": "no such user"}},
)
async def set_quota(
    id: Annotated[str, Path(min_length=1, max_length=100, description="user id")],
    body: QuotaUpdate,
    request: Request,
    caller: AdminDep,
    c: ContainerDep,
) -> dict[str, Any]:
    """Override a user's entry cap and writes per minute; null falls back to the server default."""
    result = await c.quotas.set_override(
        caller, id, body.max_entries, body.writes_per_minute, request_ip=client_ip(request)
    )
    return result.to_wire()
