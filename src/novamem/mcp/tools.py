"""The MCP tool catalogue: each tool validates its arguments with the REST request model and calls the
same service function as its REST route (one implementation, two doors).

A tool is refused for a caller exactly when its backing REST route would be (`route_refusal` on the
route's method and path), so restricted and read-only tokens are held to the same rules on both doors.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from novamem.container import Container
from novamem.domain.scope import Caller
from novamem.errors import NotFound, Unavailable
from novamem.services.agent_guide import ToolDoc, tool_doc
from novamem.services.schemas import (
    CaptureResult,
    EntryId,
    ForgetRequest,
    ForgetResponse,
    MemoryCreate,
    MemoryUpdate,
    NeighborsRequest,
    Out,
    ProjectRef,
    RecapRequest,
    RecapResponse,
    RecentRequest,
    RecentResponse,
    ScopeIn,
    SearchRequest,
    SearchResponse,
    StatsResponse,
    UpdateResponse,
    Wire,
)
from novamem.services.schemas import ContentMode as ContentModeName
from novamem.services.schemas import ContextRequest as ContextIn
from novamem.services.schemas import ContextResponse as ContextOut
from novamem.services.schemas_accounts import AdminUserList, AuditLog
from novamem.services.schemas_admin import (
    AdminProjectList,
    AdminStats,
    AdminTokenList,
    AuditRecentArgs,
    HealthDeep,
    OpsStatus,
)
from novamem.services.schemas_adoption import AdoptionReport, AdoptionRequest
from novamem.services.schemas_diagnostics import EvaluateRequest, EvaluateResponse, HygieneRequest, HygieneResponse
from novamem.services.schemas_projects import (
    ActiveProjectChosen,
    MemberAdded,
    MemberRemoved,
    ProjectCreate,
    ProjectDeleted,
    ProjectList,
    ProjectView,
)

__all__ = ["ADMIN_TOOLS", "MEMORY_TOOLS", "PROJECT_TOOLS", "ToolSpec"]


# ---- inputs that have no REST body of their own ----------------------------------------------------------


class NoArgs(Wire):
    pass


class TodayArgs(ScopeIn):
    k: int = Field(20, ge=1, le=200)
    content_mode: ContentModeName = "full"


class UpdateArgs(MemoryUpdate):
    id: EntryId = Field(description="the memory to change")


class ProjectArg(Wire):
    project: ProjectRef = Field(description="project id or name")


class ShareArgs(Wire):
    project: ProjectRef = Field(description="project id or name")
    username: str = Field(min_length=1, max_length=320, description="the account's exact email address")


class ActiveCleared(Out):
    active: None


Handler = Callable[[Container, Caller, Any, str | None], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class ToolSpec:
    """One MCP tool: its argument and result models, the service call, and the REST route it mirrors.

    The description and annotations come from `novamem.services.agent_guide`, the one source of what agents
    are told.
    """

    name: str
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    handler: Handler
    route: tuple[str, str]  # the backing REST route (method, path): its refusals apply to the tool
    needs_account: bool = False
    needs_admin: bool = False

    @property
    def doc(self) -> ToolDoc:
        return tool_doc(self.name)


# ---- memory tools ------------------------------------------------------------------------------------

_OPTIONAL = ("content", "metadata", "signals", "truncated")


def _views(items: list[Any]) -> list[dict[str, Any]]:
    """Wire dicts of result views, optional fields left out when empty (as on REST)."""
    out = []
    for view in items:
        data = view.model_dump(by_alias=True, mode="json")
        for key in _OPTIONAL:
            if data.get(key) is None:
                data.pop(key, None)
        out.append(data)
    return out


async def _context(c: Container, caller: Caller, req: ContextIn, _ip: str | None) -> dict[str, Any]:
    result = await c.recall.context(caller, req)
    relevant = result["relevant"]
    if relevant["degraded"] and not relevant["results"]:
        raise Unavailable("context degraded: the embedder is unavailable and keywords found nothing")
    relevant["results"] = _views(relevant["results"])
    result["recent"]["results"] = _views(result["recent"]["results"])
    return result


async def _search(c: Container, caller: Caller, req: SearchRequest, _ip: str | None) -> dict[str, Any]:
    outcome = await c.recall.search(caller, req)
    if outcome.degraded and not outcome.results:
        raise Unavailable("search degraded: the embedder is unavailable and keywords found nothing")
    return {"results": _views(outcome.results), "degraded": outcome.degraded}


async def _remember(c: Container, caller: Caller, req: MemoryCreate, _ip: str | None) -> dict[str, Any]:
    return (await c.memories.remember(caller, req)).to_wire()


async def _capture(c: Container, caller: Caller, req: MemoryCreate, _ip: str | None) -> dict[str, Any]:
    result = await c.memories.capture(caller, req)
    return {"saved": 1 if result.id is not None else 0, "results": [result.to_wire()]}


async def _recap(c: Container, caller: Caller, req: RecapRequest, _ip: str | None) -> dict[str, Any]:
    saved, results = await c.memories.session_recap(caller, req)
    return {"saved": saved, "results": [r.to_wire() for r in results]}


async def _recent(c: Container, caller: Caller, req: RecentRequest, _ip: str | None) -> dict[str, Any]:
    return {"results": _views(await c.recall.recent(caller, req))}


async def _today(c: Container, caller: Caller, req: TodayArgs, _ip: str | None) -> dict[str, Any]:
    since = datetime.now(UTC) - timedelta(hours=24)
    recent = RecentRequest(**req.model_dump(), since=since)
    return {"results": _views(await c.recall.recent(caller, recent))}


async def _neighbors(c: Container, caller: Caller, req: NeighborsRequest, _ip: str | None) -> dict[str, Any]:
    return {"results": _views(await c.recall.neighbors(caller, req)), "degraded": False}


async def _forget(c: Container, caller: Caller, req: ForgetRequest, _ip: str | None) -> dict[str, Any]:
    if req.id is not None:
        return await c.memories.forget(caller, req.id, req.project)
    assert req.source_ref is not None
    return await c.memories.forget_by_source(caller, req.source_ref, req.project)


async def _update(c: Container, caller: Caller, req: UpdateArgs, _ip: str | None) -> dict[str, Any]:
    body = MemoryUpdate.model_validate(req.model_dump(exclude={"id"}, exclude_unset=True))
    return await c.memories.update(caller, req.id, body)


async def _stats(c: Container, caller: Caller, _req: NoArgs, _ip: str | None) -> dict[str, Any]:
    return await c.recall.stats(caller)


async def _hygiene(c: Container, caller: Caller, req: HygieneRequest, _ip: str | None) -> dict[str, Any]:
    return await c.diagnostics.hygiene(caller, req)


async def _evaluate(c: Container, caller: Caller, req: EvaluateRequest, _ip: str | None) -> dict[str, Any]:
    return await c.diagnostics.evaluate(caller, req)


async def _adoption(c: Container, caller: Caller, req: AdoptionRequest, _ip: str | None) -> dict[str, Any]:
    return await c.adoption.report(caller, req)


MEMORY_TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec("memory_context", ContextIn, ContextOut, _context, ("POST", "/v1/context")),
    ToolSpec("memory_search", SearchRequest, SearchResponse, _search, ("POST", "/v1/search")),
    ToolSpec("memory_remember", MemoryCreate, CaptureResult, _remember, ("POST", "/v1/remember")),
    ToolSpec("memory_capture", MemoryCreate, RecapResponse, _capture, ("POST", "/v1/capture")),
    ToolSpec("memory_session_recap", RecapRequest, RecapResponse, _recap, ("POST", "/v1/session-recap")),
    ToolSpec("memory_recent", RecentRequest, RecentResponse, _recent, ("POST", "/v1/recent")),
    ToolSpec("memory_today", TodayArgs, RecentResponse, _today, ("POST", "/v1/recent")),
    ToolSpec("memory_neighbors", NeighborsRequest, SearchResponse, _neighbors, ("POST", "/v1/neighbors")),
    ToolSpec("memory_forget", ForgetRequest, ForgetResponse, _forget, ("POST", "/v1/forget")),
    ToolSpec("memory_update", UpdateArgs, UpdateResponse, _update, ("PUT", "/v1/memories/{id}")),
    ToolSpec("memory_stats", NoArgs, StatsResponse, _stats, ("GET", "/v1/stats")),
    ToolSpec("memory_hygiene", HygieneRequest, HygieneResponse, _hygiene, ("POST", "/v1/hygiene")),
    ToolSpec("memory_evaluate", EvaluateRequest, EvaluateResponse, _evaluate, ("POST", "/v1/evaluate")),
    ToolSpec("memory_adoption", AdoptionRequest, AdoptionReport, _adoption, ("POST", "/v1/adoption")),
)


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


# ---- admin tools (read-only; admins only) -------------------------------------------------------------------


async def _admin_users(c: Container, caller: Caller, _req: NoArgs, _ip: str | None) -> dict[str, Any]:
    return await c.accounts.users_overview(caller)


async def _admin_projects(c: Container, caller: Caller, _req: NoArgs, _ip: str | None) -> dict[str, Any]:
    return await c.admin.list_projects(caller)


async def _admin_tokens(c: Container, caller: Caller, _req: NoArgs, _ip: str | None) -> dict[str, Any]:
    return await c.admin.list_tokens(caller)


async def _admin_health(c: Container, caller: Caller, _req: NoArgs, _ip: str | None) -> dict[str, Any]:
    # an unhealthy dependency is the answer, not a failure of the tool: `ok: false` says so
    return await c.health.deep(caller)


async def _admin_stats(c: Container, caller: Caller, _req: NoArgs, _ip: str | None) -> dict[str, Any]:
    return await c.metrics.stats(caller)


async def _admin_audit(c: Container, caller: Caller, req: AuditRecentArgs, _ip: str | None) -> dict[str, Any]:
    return await c.accounts.audit_log(caller, req.limit)


async def _admin_ops(c: Container, caller: Caller, _req: NoArgs, _ip: str | None) -> dict[str, Any]:
    return await c.admin.ops_status(caller)


def _admin(
    name: str, input_model: type[BaseModel], output_model: type[BaseModel], handler: Handler, path: str
) -> ToolSpec:
    return ToolSpec(name, input_model, output_model, handler, ("GET", path), needs_account=True, needs_admin=True)


ADMIN_TOOLS: tuple[ToolSpec, ...] = (
    _admin("admin_list_users", NoArgs, AdminUserList, _admin_users, "/v1/admin/users"),
    _admin("admin_list_projects", NoArgs, AdminProjectList, _admin_projects, "/v1/admin/projects"),
    _admin("admin_list_tokens", NoArgs, AdminTokenList, _admin_tokens, "/v1/admin/tokens"),
    _admin("admin_health", NoArgs, HealthDeep, _admin_health, "/v1/admin/health/deep"),
    _admin("admin_stats", NoArgs, AdminStats, _admin_stats, "/v1/admin/stats"),
    _admin("admin_audit_recent", AuditRecentArgs, AuditLog, _admin_audit, "/v1/admin/audit-log"),
    _admin("admin_ops_status", NoArgs, OpsStatus, _admin_ops, "/v1/admin/ops-status"),
)
