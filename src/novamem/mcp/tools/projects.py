"""The project tools: the same project services as `/v1/me/projects*`."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from novamem.container import Container
from novamem.domain.scope import Caller
from novamem.errors import NotFound
from novamem.mcp.tools.base import NoArgs, ToolSpec
from novamem.services.projects.models import (
    ActiveProjectChosen,
    MemberAdded,
    MemberRemoved,
    ProjectCreate,
    ProjectDeleted,
    ProjectList,
    ProjectView,
)
from novamem.services.wire import Out, ProjectRef, Wire

__all__ = ["PROJECT_TOOLS"]


class ProjectArg(Wire):
    project: ProjectRef = Field(description="project id or name")


class ShareArgs(Wire):
    project: ProjectRef = Field(description="project id or name")
    username: str = Field(min_length=1, max_length=320, description="the account's exact email address")


class ActiveCleared(Out):
    active: None


# ---- project tools -------------------------------------------------------------------------------------


async def _project_list(c: Container, caller: Caller, _req: NoArgs, _ip: str | None) -> dict[str, Any]:
    return await c.projects.list_mine(caller)


async def _project_create(c: Container, caller: Caller, req: ProjectCreate, ip: str | None) -> dict[str, Any]:
    return await c.projects.create(caller, req.name, request_ip=ip)


async def _project_delete(c: Container, caller: Caller, req: ProjectArg, ip: str | None) -> dict[str, Any]:
    return await c.projects.delete(caller, req.project, request_ip=ip)


async def _project_activate(c: Container, caller: Caller, req: ProjectArg, _ip: str | None) -> dict[str, Any]:
    return await c.projects.set_active(caller, req.project)


async def _project_deactivate(c: Container, caller: Caller, _req: NoArgs, _ip: str | None) -> dict[str, Any]:
    await c.projects.clear_active(caller)
    return {"active": None}


async def _project_share(c: Container, caller: Caller, req: ShareArgs, ip: str | None) -> dict[str, Any]:
    return await c.projects.add_member(caller, req.project, req.username, "member", request_ip=ip)


async def _project_unshare(c: Container, caller: Caller, req: ShareArgs, ip: str | None) -> dict[str, Any]:
    members = (await c.projects.members(caller, req.project))["members"]
    wanted = req.username.casefold()
    user_id = next((m["userId"] for m in members if str(m["username"]).casefold() == wanted), None)
    if user_id is None:
        raise NotFound(f"unknown user '{req.username}' — share by exact email address")
    return await c.projects.remove_member(caller, req.project, user_id, request_ip=ip)


PROJECT_TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec("project_list", NoArgs, ProjectList, _project_list, ("GET", "/v1/me/projects"), needs_account=True),
    ToolSpec(
        "project_create", ProjectCreate, ProjectView, _project_create, ("POST", "/v1/me/projects"), needs_account=True
    ),
    ToolSpec(
        "project_delete",
        ProjectArg,
        ProjectDeleted,
        _project_delete,
        ("DELETE", "/v1/me/projects/{project}"),
        needs_account=True,
    ),
    ToolSpec(
        "project_activate",
        ProjectArg,
        ActiveProjectChosen,
        _project_activate,
        ("PUT", "/v1/me/active-project"),
        needs_account=True,
    ),
    ToolSpec(
        "project_deactivate",
        NoArgs,
        ActiveCleared,
        _project_deactivate,
        ("DELETE", "/v1/me/active-project"),
        needs_account=True,
    ),
    ToolSpec(
        "project_share",
        ShareArgs,
        MemberAdded,
        _project_share,
        ("POST", "/v1/me/projects/{project}/members"),
        needs_account=True,
    ),
    ToolSpec(
        "project_unshare",
        ShareArgs,
        MemberRemoved,
        _project_unshare,
        ("DELETE", "/v1/me/projects/{project}/members/{user}"),
        needs_account=True,
    ),
)
