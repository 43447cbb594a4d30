"""Admin REST routes for users, tenants and the audit log (`/v1/admin/*`).

Reached with an admin's session or unrestricted `nm_` token (see `AdminDep`); every action is
confined to the caller's tenant and recorded in the audit log.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from novamem.config import AuthMode
from novamem.http.deps import AdminDep, ContainerDep, client_ip
from novamem.services.identity.account_models import (
    AdminUserCreate,
    AdminUserList,
    AuditLog,
    AuthUser,
    ProvisionedUser,
    RoleChange,
    TenantCreate,
    TenantCreated,
    TenantList,
    UserBan,
    UserErase,
    UserEraseDryRun,
)
from novamem.services.identity.users import TokenMintFailed

__all__ = ["router"]

router = APIRouter(prefix="/v1/admin", tags=["admin"])

UserPath = Annotated[str, Path(min_length=1, max_length=64, description="user id")]


@router.post("/users", status_code=201, response_model=ProvisionedUser)
async def create_user(body: AdminUserCreate, request: Request, caller: AdminDep, c: ContainerDep) -> JSONResponse:
    """Create a user (who must change the password at first sign-in) with a first API token, shown once."""
    try:
        created = await c.users.provision(
            caller,
            email=body.email,
            password=body.password,
            name=body.name,
            token_label=body.token_label,
            token_scope=body.token_scope,
            token_expires_in_days=body.token_expires_in_days,
            request_ip=client_ip(request),
        )
    except TokenMintFailed as exc:
        return JSONResponse({"error": exc.message, "userId": exc.user_id}, status_code=500)
    return JSONResponse(created.to_wire(), status_code=201)


@router.get("/users", response_model=AdminUserList)
async def list_users(caller: AdminDep, c: ContainerDep) -> dict[str, Any]:
    """Users of your tenant with how many entries and live tokens each holds."""
    return (await c.users.overview(caller)).to_wire()


@router.delete(
    "/users/{id}",
    response_model=None,
    responses={200: {"model": UserErase | UserEraseDryRun, "description": "erased, or what would be"}},
)
async def delete_user(
    id: UserPath,
    request: Request,
    caller: AdminDep,
    c: ContainerDep,
    dry_run: Annotated[bool, Query(alias="dryRun", description="only report what would be deleted")] = False,
) -> dict[str, Any]:
    """Erase a user: owned projects (with everything in them), entries, tokens, memberships, sessions."""
    return (await c.users.erase(caller, id, dry_run=dry_run, request_ip=client_ip(request))).to_wire()


@router.put("/users/{id}/role", response_model=AuthUser)
async def set_role(
    id: UserPath, body: RoleChange, request: Request, caller: AdminDep, c: ContainerDep
) -> dict[str, Any]:
    """Make a user an admin or a plain user; the last admin cannot be demoted."""
    return (await c.users.set_role(caller, id, body.role, request_ip=client_ip(request))).to_wire()


@router.post("/users/{id}/ban", response_model=AuthUser)
async def ban_user(id: UserPath, body: UserBan, request: Request, caller: AdminDep, c: ContainerDep) -> dict[str, Any]:
    """Ban a user: their sessions end and their tokens stop working until unbanned (or expiry)."""
    seconds = body.expires_in_days * 86400 if body.expires_in_days else None
    user = await c.users.ban(caller, id, reason=body.reason, expires_in_seconds=seconds, request_ip=client_ip(request))
    return user.to_wire()


@router.post("/users/{id}/unban", response_model=AuthUser)
async def unban_user(id: UserPath, request: Request, caller: AdminDep, c: ContainerDep) -> dict[str, Any]:
    """Lift a user's ban."""
    return (await c.users.unban(caller, id, request_ip=client_ip(request))).to_wire()


@router.get("/audit-log", response_model=AuditLog)
async def audit_log(
    caller: AdminDep, c: ContainerDep, limit: Annotated[int, Query(ge=1, le=500)] = 200
) -> dict[str, Any]:
    """Admin and project-management actions in your tenant, newest first."""
    return (await c.audit.recent(caller, limit)).to_wire()


async def _tenant_mode(c: ContainerDep) -> None:
    """Tenants exist only in `tenant` mode; elsewhere these routes answer the unknown-route 404."""
    if c.settings.auth_mode is not AuthMode.TENANT:
        raise StarletteHTTPException(404)


@router.get("/tenants", response_model=TenantList, dependencies=[Depends(_tenant_mode)])
async def list_tenants(caller: AdminDep, c: ContainerDep) -> dict[str, Any]:
    """Every tenant (server admins, `tenant` mode only)."""
    return (await c.tenants.list_all(caller)).to_wire()


@router.post("/tenants", status_code=201, response_model=TenantCreated, dependencies=[Depends(_tenant_mode)])
async def create_tenant(body: TenantCreate, request: Request, caller: AdminDep, c: ContainerDep) -> JSONResponse:
    """A new tenant and its first admin, who must change the password at first sign-in (server admins)."""
    created = await c.tenants.create(
        caller,
        name=body.name,
        admin_email=body.admin_email,
        admin_password=body.admin_password,
        request_ip=client_ip(request),
    )
    return JSONResponse(created.to_wire(), status_code=201)
