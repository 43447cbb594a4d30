"""Admin REST routes for on-behalf-of service keys (`/v1/admin/service-keys`, reference 3.7 and 8.4).

Served where users have accounts, behind the admin gate of every `/v1/admin/*` route (`AdminDep`). Keys belong
to the admin's tenant; registering and revoking are audited.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from novamem.http.deps import AdminDep, ContainerDep, client_ip
from novamem.services.identity.service_key_models import (
    ServiceKeyCreate,
    ServiceKeyList,
    ServiceKeyRevoked,
    ServiceKeyView,
)

__all__ = ["router"]

router = APIRouter(prefix="/v1/admin/service-keys", tags=["admin"])

KeyPath = Annotated[str, Path(min_length=1, max_length=64, description="the key's id (its tokens' `kid`)")]


@router.post("", status_code=201, response_model=ServiceKeyView)
async def register_key(body: ServiceKeyCreate, request: Request, caller: AdminDep, c: ContainerDep) -> JSONResponse:
    """Register a platform's raw 32-byte Ed25519 public key (base64url) for one organization (never `default`).

    The answer's `id` is the `kid` the platform's on-behalf-of tokens must carry in their header.
    """
    created = await c.service_keys.register(caller, body, request_ip=client_ip(request))
    return JSONResponse(created.to_wire(), status_code=201)


@router.get("", response_model=ServiceKeyList)
async def list_keys(caller: AdminDep, c: ContainerDep) -> dict[str, Any]:
    """Your tenant's service keys, newest first, revoked ones included."""
    return (await c.service_keys.list_keys(caller)).to_wire()


@router.delete("/{id}", response_model=ServiceKeyRevoked)
async def revoke_key(id: KeyPath, request: Request, caller: AdminDep, c: ContainerDep) -> dict[str, Any]:
    """Revoke a key: its tokens are refused from the next request on, on every replica. A key that is
    unknown or already revoked answers 404."""
    return (await c.service_keys.revoke(caller, id, request_ip=client_ip(request))).to_wire()
