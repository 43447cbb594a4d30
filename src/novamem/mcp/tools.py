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
from novamem.services.schemas_projects import (
    ActiveProjectChosen,
    MemberAdded,
    MemberRemoved,
    ProjectCreate,
    ProjectDeleted,
    ProjectList,
    ProjectView,
)

__all__ = ["INSTRUCTIONS", "MEMORY_TOOLS", "PROJECT_TOOLS", "ToolSpec"]

INSTRUCTIONS = (
    "NovaMem long-term memory. Call memory_context before any substantive answer (technical work, planning, "
    "troubleshooting, preferences, project work) and memory_search before asking the user to repeat something. "
    "After meaningful work call memory_capture for decisions, preferences, setup facts, root causes, constraints "
    "and invariants; use memory_session_recap for an end-of-task summary. Never save secrets; set `sensitivity` "
    "for private material. Prefer memory_capture over memory_remember. Use memory_update when you know the id. "
    "Judge hits by their content, not by their score. Reads and writes default to your active project "
    "(project_activate / project_deactivate); pass `project` to choose another."
)


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
    name: str
    description: str
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    handler: Handler
    route: tuple[str, str]  # the backing REST route (method, path): its refusals apply to the tool
    read_only: bool
    destructive: bool
    idempotent: bool
    needs_account: bool = False


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


_READ = {"read_only": True, "destructive": False, "idempotent": True}
_WRITE = {"read_only": False, "destructive": False, "idempotent": False}

MEMORY_TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "memory_context",
        "CALL THIS FIRST before any substantive answer: returns the memories relevant to `message`, the most "
        "recent ones, and a context pack grouped by kind, plus guidance on using them.",
        ContextIn,
        ContextOut,
        _context,
        ("POST", "/v1/context"),
        **_READ,
    ),
    ToolSpec(
        "memory_search",
        "Hybrid search (keyword, vector, recency, entity) over your memories. Search before asking the user "
        "to repeat anything. Judge results by their content, not their absolute score.",
        SearchRequest,
        SearchResponse,
        _search,
        ("POST", "/v1/search"),
        **_READ,
    ),
    ToolSpec(
        "memory_remember",
        "Store one fact exactly as given (worthiness gate, length cap and exact dedup only). Prefer "
        "memory_capture for facts learned while working.",
        MemoryCreate,
        CaptureResult,
        _remember,
        ("POST", "/v1/remember"),
        **_WRITE,
    ),
    ToolSpec(
        "memory_capture",
        "CALL THIS after meaningful work to keep a decision, preference, setup fact, root cause, constraint or "
        "invariant. Near-duplicates update or supersede the existing memory instead of repeating it. Never save "
        "secrets.",
        MemoryCreate,
        RecapResponse,
        _capture,
        ("POST", "/v1/capture"),
        **_WRITE,
    ),
    ToolSpec(
        "memory_session_recap",
        "At the end of a task, save a durable recap: each item of the typed lists (decisions, setupFacts, "
        "rootCauses, preferences, projectConventions, safetyConstraints, other) becomes its own memory.",
        RecapRequest,
        RecapResponse,
        _recap,
        ("POST", "/v1/session-recap"),
        **_WRITE,
    ),
    ToolSpec(
        "memory_recent",
        "Your newest memories first (optionally since a time).",
        RecentRequest,
        RecentResponse,
        _recent,
        ("POST", "/v1/recent"),
        **_READ,
    ),
    ToolSpec(
        "memory_today",
        "Memories written in the last 24 hours, newest first.",
        TodayArgs,
        RecentResponse,
        _today,
        ("POST", "/v1/recent"),
        **_READ,
    ),
    ToolSpec(
        "memory_neighbors",
        "Memories linked to a seed memory `id`, up to `depth` (1-3) hops.",
        NeighborsRequest,
        SearchResponse,
        _neighbors,
        ("POST", "/v1/neighbors"),
        **_READ,
    ),
    ToolSpec(
        "memory_forget",
        "Delete a memory by `id`, or every memory carrying `sourceRef` (give exactly one). Deletion is permanent.",
        ForgetRequest,
        ForgetResponse,
        _forget,
        ("POST", "/v1/forget"),
        read_only=False,
        destructive=True,
        idempotent=True,
    ),
    ToolSpec(
        "memory_update",
        "Change a memory you know the `id` of in place; `metadata` replaces the stored object.",
        UpdateArgs,
        UpdateResponse,
        _update,
        ("PUT", "/v1/memories/{id}"),
        read_only=False,
        destructive=True,
        idempotent=True,
    ),
    ToolSpec(
        "memory_stats",
        "Warm and cold memory counts per namespace, the last decay run and the server's uptime.",
        NoArgs,
        StatsResponse,
        _stats,
        ("GET", "/v1/stats"),
        **_READ,
    ),
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
    ToolSpec(
        "project_list",
        "The projects you belong to, with your role in each.",
        NoArgs,
        ProjectList,
        _project_list,
        ("GET", "/v1/me/projects"),
        **_READ,
        needs_account=True,
    ),
    ToolSpec(
        "project_create",
        "Create a project (a shared sub-brain); you become its owner.",
        ProjectCreate,
        ProjectView,
        _project_create,
        ("POST", "/v1/me/projects"),
        **_WRITE,
        needs_account=True,
    ),
    ToolSpec(
        "project_delete",
        "Delete a project and every memory in it (owner only). Permanent.",
        ProjectArg,
        ProjectDeleted,
        _project_delete,
        ("DELETE", "/v1/me/projects/{project}"),
        read_only=False,
        destructive=True,
        idempotent=True,
        needs_account=True,
    ),
    ToolSpec(
        "project_activate",
        "Make a project the default of your reads and writes.",
        ProjectArg,
        ActiveProjectChosen,
        _project_activate,
        ("PUT", "/v1/me/active-project"),
        read_only=False,
        destructive=False,
        idempotent=True,
        needs_account=True,
    ),
    ToolSpec(
        "project_deactivate",
        "Reads and writes go back to defaulting to your own memories.",
        NoArgs,
        ActiveCleared,
        _project_deactivate,
        ("DELETE", "/v1/me/active-project"),
        read_only=False,
        destructive=False,
        idempotent=True,
        needs_account=True,
    ),
    ToolSpec(
        "project_share",
        "Add a member to a project you own, by their exact email address.",
        ShareArgs,
        MemberAdded,
        _project_share,
        ("POST", "/v1/me/projects/{project}/members"),
        **_WRITE,
        needs_account=True,
    ),
    ToolSpec(
        "project_unshare",
        "Remove a member (by exact email address) from a project you own, or leave a project yourself.",
        ShareArgs,
        MemberRemoved,
        _project_unshare,
        ("DELETE", "/v1/me/projects/{project}/members/{user}"),
        read_only=False,
        destructive=True,
        idempotent=True,
        needs_account=True,
    ),
)
