"""Projects, their members and the active project (`/v1/me/projects*`, `/v1/me/active-project`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from novamem.http.deps import ContainerDep, UserDep, client_ip
from novamem.services.projects.models import (
    ActiveProject,
    ActiveProjectChosen,
    ActiveProjectSet,
    MemberAdd,
    MemberAdded,
    MemberList,
    MemberRemoved,
    ProjectCreate,
    ProjectDeleted,
    ProjectList,
    ProjectView,
)

__all__ = ["router"]

router = APIRouter(prefix="/v1/me", tags=["projects"])

ProjectPath = Annotated[str, Path(min_length=1, max_length=128, description="project id or name")]
_REFUSALS: dict[int | str, dict[str, Any]] = {
    403: {"description": "not a member, or not the owner"},
    404: {"description": "no such project"},
}


@router.get("/projects", response_model=ProjectList)
async def list_projects(caller: UserDep, c: ContainerDep) -> dict[str, Any]:
    """The projects you belong to, with your role in each."""
    return (await c.projects.list_mine(caller)).to_wire()


@router.post("/projects", status_code=201, response_model=ProjectView)
async def create_project(body: ProjectCreate, caller: UserDep, c: ContainerDep, request: Request) -> dict[str, Any]:
    """Create a project; you become its owner."""
    return (await c.projects.create(caller, body.name, request_ip=client_ip(request))).to_wire()


@router.delete("/projects/{project}", response_model=ProjectDeleted, responses=_REFUSALS)
async def delete_project(project: ProjectPath, caller: UserDep, c: ContainerDep, request: Request) -> dict[str, Any]:
    """Delete a project and every memory in it (owner only)."""
    return (await c.projects.delete(caller, project, request_ip=client_ip(request))).to_wire()


@router.get("/projects/{project}/members", response_model=MemberList, responses=_REFUSALS)
async def list_members(project: ProjectPath, caller: UserDep, c: ContainerDep) -> dict[str, Any]:
    """The members of a project you belong to; `username` is the account's email."""
    return (await c.projects.members(caller, project)).to_wire()


@router.post("/projects/{project}/members", status_code=201, response_model=MemberAdded, responses=_REFUSALS)
async def add_member(
    project: ProjectPath, body: MemberAdd, caller: UserDep, c: ContainerDep, request: Request
) -> dict[str, Any]:
    """Add a member by their exact email address (owner only)."""
    return (
        await c.projects.add_member(caller, project, body.username, body.role, request_ip=client_ip(request))
    ).to_wire()


@router.delete("/projects/{project}/members/{user_id}", response_model=MemberRemoved, responses=_REFUSALS)
async def remove_member(
    project: ProjectPath,
    user_id: Annotated[str, Path(min_length=1, max_length=100)],
    caller: UserDep,
    c: ContainerDep,
    request: Request,
) -> dict[str, Any]:
    """Remove a member (owner), or leave a project yourself (members; the owner cannot leave)."""
    return (await c.projects.remove_member(caller, project, user_id, request_ip=client_ip(request))).to_wire()


@router.get("/active-project", response_model=ActiveProject)
async def get_active_project(caller: UserDep, c: ContainerDep) -> dict[str, Any]:
    """The project your reads and writes default to, or null."""
    return (await c.projects.active(caller)).to_wire()


@router.put("/active-project", response_model=ActiveProjectChosen, responses=_REFUSALS)
async def set_active_project(body: ActiveProjectSet, caller: UserDep, c: ContainerDep) -> dict[str, Any]:
    """Make one of your projects the default of your reads and writes."""
    return (await c.projects.set_active(caller, body.project)).to_wire()


@router.delete("/active-project", status_code=204, response_class=Response)
async def clear_active_project(caller: UserDep, c: ContainerDep) -> Response:
    """Reads and writes go back to defaulting to your own memories."""
    await c.projects.clear_active(caller)
    return Response(status_code=204)
