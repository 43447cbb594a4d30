"""Self-service operations (`Management` in the reference): your tokens, projects and data.

These routes exist in the account modes (`user`, `tenant`) only and need a user's credential: an OBO token
or a project-restricted token gets `NovamemForbidden`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from ._account_models import (
    ActiveProject,
    ActivityEvent,
    ChangesPage,
    ExportPage,
    ImportResult,
    Member,
    MemberAdded,
    MetricsHistory,
    MintedToken,
    Project,
    ProjectDeleted,
    RotatedToken,
    TokenInfo,
    Usage,
    UserMetrics,
)
from ._call import Call, field_of, path, result
from ._wire import camel, wire_body

__all__ = [
    "TokenScope",
    "activity",
    "add_member",
    "changes",
    "clear_active_project",
    "create_project",
    "create_token",
    "delete_project",
    "export",
    "get_active_project",
    "import_entries",
    "list_members",
    "list_projects",
    "list_tokens",
    "metrics",
    "metrics_history",
    "remove_member",
    "revoke_token",
    "rotate_token",
    "set_active_project",
    "usage",
]

TokenScope = Literal["full", "read_only"]


def list_tokens() -> Call[list[TokenInfo]]:
    """Your API tokens, oldest first, revoked ones included (hashes only)."""
    return Call("GET", "/v1/me/tokens", field_of("tokens", list[TokenInfo]))


def create_token(
    *,
    label: str | None = None,
    scope: TokenScope | None = None,
    project: str | None = None,
    expires_in_days: int | None = None,
) -> Call[MintedToken]:
    """Mint an API token for yourself (optionally read-only, confined to a project, expiring)."""
    return Call("POST", "/v1/me/tokens", result(MintedToken), body=wire_body(**locals()))


def revoke_token(token_hash: str) -> Call[bool]:
    """Revoke one of your tokens by its SHA-256 (`TokenInfo.token_hash`); `NovamemNotFound` if unknown."""
    return Call("DELETE", path("/v1/me/tokens/{}", token_hash), field_of("deleted", bool))


def rotate_token() -> Call[RotatedToken]:
    """Replace the token this client authenticates with: it stops working at once. Build a new client
    with the returned token."""
    return Call("POST", "/v1/auth/rotate-token", result(RotatedToken))


def list_projects() -> Call[list[Project]]:
    """The projects you belong to, with your role in each."""
    return Call("GET", "/v1/me/projects", field_of("projects", list[Project]))


def create_project(name: str) -> Call[Project]:
    """Create a project; you become its owner."""
    return Call("POST", "/v1/me/projects", result(Project), body=wire_body(name=name))


def delete_project(project: str) -> Call[ProjectDeleted]:
    """Delete a project (id or name) and every memory in it; owner only."""
    return Call("DELETE", path("/v1/me/projects/{}", project), result(ProjectDeleted))


def list_members(project: str) -> Call[list[Member]]:
    """The members of a project you belong to."""
    return Call("GET", path("/v1/me/projects/{}/members", project), field_of("members", list[Member]))


def add_member(project: str, username: str, *, role: Literal["owner", "member"] | None = None) -> Call[MemberAdded]:
    """Add a user (by exact email) to your project; owner only. `NovamemConflict` if already a member."""
    route = path("/v1/me/projects/{}/members", project)
    return Call("POST", route, result(MemberAdded), body=wire_body(username=username, role=role))


def remove_member(project: str, user_id: str) -> Call[bool]:
    """Remove a member (owner), or leave the project yourself (a member)."""
    return Call("DELETE", path("/v1/me/projects/{}/members/{}", project, user_id), field_of("removed", bool))


def get_active_project() -> Call[ActiveProject | None]:
    """The project your reads and writes default to, or None."""
    return Call("GET", "/v1/me/active-project", field_of("active", ActiveProject | None))


def set_active_project(project: str) -> Call[ActiveProject]:
    """Make one of your projects (id or name) the default of your reads and writes."""
    return Call("PUT", "/v1/me/active-project", field_of("active", ActiveProject), body=wire_body(project=project))


def clear_active_project() -> Call[None]:
    """Reads and writes go back to defaulting to your own memories."""
    return Call("DELETE", "/v1/me/active-project", lambda _: None)


def export(*, after_id: str | None = None, limit: int | None = None) -> Call[ExportPage]:
    """One page of your memories, oldest first; page on with `after_id=page.next_after_id`."""
    return Call("GET", "/v1/me/export", result(ExportPage), query={"afterId": after_id, "limit": limit})


def import_entries(entries: Sequence[Mapping[str, Any]]) -> Call[ImportResult]:
    """Store up to 200 memories without the worthiness gate (keys snake_case or camelCase); re-importing
    is idempotent. When every entry fails the result still comes back, with all of them in `failed`."""
    body = {"entries": [{camel(key): value for key, value in entry.items()} for entry in entries]}
    return Call("POST", "/v1/me/import", result(ImportResult), body=body, tolerate=frozenset({400}))


def usage() -> Call[Usage]:
    """How many entries you store, and your quota (None = unlimited)."""
    return Call("GET", "/v1/me/usage", result(Usage))


def changes(
    *, since: datetime | str | None = None, after_seq: int | None = None, limit: int | None = None
) -> Call[ChangesPage]:
    """The change feed of memories you can see; resume with `after_seq=page.next_seq`."""
    moment = since.isoformat() if isinstance(since, datetime) else since
    query = {"since": moment, "afterSeq": after_seq, "limit": limit}
    return Call("GET", "/v1/me/changes", result(ChangesPage), query=query)


def activity() -> Call[list[ActivityEvent]]:
    """Your activity of the last 24 hours (memories, tokens, projects, audit), newest first."""
    return Call("GET", "/v1/me/today", field_of("events", list[ActivityEvent]))


def metrics() -> Call[UserMetrics]:
    """Your counted requests, per-second rates, entry gauges and one row per live token."""
    return Call("GET", "/v1/me/metrics", result(UserMetrics))


def metrics_history(*, hours: int | None = None) -> Call[MetricsHistory]:
    """Your counted requests per minute over the last `hours` (1-48, default 24), oldest first."""
    return Call("GET", "/v1/me/metrics/history", result(MetricsHistory), query={"hours": hours})
