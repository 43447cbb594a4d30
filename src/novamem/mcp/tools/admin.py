"""The admin tools: read-only, for admins only, over the same services as the `/v1/admin/*` reads."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from novamem.container import Container
from novamem.domain.scope import Caller
from novamem.error_messages import ADMIN_ONLY, UNAUTHORIZED
from novamem.mcp.tools.base import Handler, NoArgs, ToolSpec
from novamem.services.identity.account_models import AdminUserList, AuditLog
from novamem.services.operations.models import (
    AdminProjectList,
    AdminStats,
    AdminTokenList,
    AuditRecentArgs,
    HealthDeep,
    OpsStatus,
)

__all__ = ["ADMIN_TOOLS"]


# ---- admin tools (read-only; admins only) -------------------------------------------------------------------


async def _admin_users(c: Container, caller: Caller, _req: NoArgs, _ip: str | None) -> dict[str, Any]:
    return (await c.users.overview(caller)).to_wire()


async def _admin_projects(c: Container, caller: Caller, _req: NoArgs, _ip: str | None) -> dict[str, Any]:
    return (await c.admin.list_projects(caller)).to_wire()


async def _admin_tokens(c: Container, caller: Caller, _req: NoArgs, _ip: str | None) -> dict[str, Any]:
    return (await c.admin.list_tokens(caller)).to_wire()


async def _admin_health(c: Container, caller: Caller, _req: NoArgs, _ip: str | None) -> dict[str, Any]:
    # an unhealthy dependency is the answer, not a failure of the tool: `ok: false` says so
    return (await c.health.deep(caller)).to_wire()


async def _admin_stats(c: Container, caller: Caller, _req: NoArgs, _ip: str | None) -> dict[str, Any]:
    return (await c.metrics.stats(caller)).to_wire()


async def _admin_audit(c: Container, caller: Caller, req: AuditRecentArgs, _ip: str | None) -> dict[str, Any]:
    return (await c.audit.recent(caller, req.limit)).to_wire()


async def _admin_ops(c: Container, caller: Caller, _req: NoArgs, _ip: str | None) -> dict[str, Any]:
    return (await c.admin.ops_status(caller)).to_wire()


def _admin(
    name: str,
    input_model: type[BaseModel],
    output_model: type[BaseModel],
    handler: Handler,
    path: str,
    refusal: str = ADMIN_ONLY,
) -> ToolSpec:
    route = ("GET", path)
    return ToolSpec(
        name, input_model, output_model, handler, route, needs_account=True, needs_admin=True, admin_refusal=refusal
    )


ADMIN_TOOLS: tuple[ToolSpec, ...] = (
    _admin("admin_list_users", NoArgs, AdminUserList, _admin_users, "/v1/admin/users"),
    _admin("admin_list_projects", NoArgs, AdminProjectList, _admin_projects, "/v1/admin/projects"),
    _admin("admin_list_tokens", NoArgs, AdminTokenList, _admin_tokens, "/v1/admin/tokens"),
    # the deep health route hides its role gate: a non-admin hears "unauthorized", as over REST (401)
    _admin("admin_health", NoArgs, HealthDeep, _admin_health, "/v1/admin/health/deep", refusal=UNAUTHORIZED),
    _admin("admin_stats", NoArgs, AdminStats, _admin_stats, "/v1/admin/stats"),
    _admin("admin_audit_recent", AuditRecentArgs, AuditLog, _admin_audit, "/v1/admin/audit-log"),
    _admin("admin_ops_status", NoArgs, OpsStatus, _admin_ops, "/v1/admin/ops-status"),
)
