"""The project tools: the same project services and result models as `/v1/me/projects*`."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from novamem.container import Container
from novamem.domain.scope import Caller
from novamem.mcp.tools.base import NoArgs, ToolSpec
from novamem.services.projects.models import (
    ActiveProject,
    ActiveProjectChosen,
    MemberAdded,
    MemberRemoved,
    ProjectCreate,
    ProjectDeleted,
    ProjectList,
    ProjectView,
)
from novamem.services.wire import ProjectRef, Wire

__all__ = ["PROJECT_TOOLS"]


class ProjectArg(Wire):
    project: ProjectRef = Field(description="project id or name")


class ShareArgs(Wire):
    project: ProjectRef = Field(description="project id or name")
    username: str = Field(min_length=1, max_length=320, description="the account's exact email address")


# ---- project tools -------------------------------------------------------------------------------------


async def _project_list(c: Container, caller: Caller, _req: NoArgs, _ip: str | None) -> dict[str, Any]:
    return (await c.projects.list_mine(caller)).to_wire()


async def _project_create(c: Container, caller: Caller, req: ProjectCreate, ip: str | None) -> dict[str, Any]:
    return (await c.projects.create(caller, req.name, request_ip=ip)).to_wire()


async def _project_delete(c: Container, caller: Caller, req: ProjectArg, ip: str | None) -> dict[str, Any]:
    return (await c.projects.delete(caller, req.project, request_ip=ip)).to_wire()


async def _project_activate(c: Container, caller: Caller, req: ProjectArg, _ip: str | None) -> dict[str, Any]:
    return (await c.projects.set_active(caller, req.project)).to_wire()


async def _project_deactivate(c: Container, caller: Caller, _req: NoArgs, _ip: str | None) -> dict[str, Any]:
    # REST answers 204 without a body; the tool answers what `GET /v1/me/active-project` then shows
    return (await c.projects.clear_active(caller)).to_wire()


async def _project_share(c: Container, caller: Caller, req: ShareArgs, ip: str | None) -> dict[str, Any]:
    return (await c.projects.add_member(caller, req.project, req.username, "member", request_ip=ip)).to_wire()


async def _project_unshare(c: Container, caller: Caller, req: ShareArgs, ip: str | None) -> dict[str, Any]:
    return (await c.projects.remove_member_by_email(caller, req.project, req.username, request_ip=ip)).to_wire()


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
        ActiveProject,
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
