"""Turning a caller plus the scope fields of a request into what the storage layer filters on."""

from __future__ import annotations

from novamem.domain.entries import Sensitivity
from novamem.domain.scope import Caller, ReadScope, WriteTarget
from novamem.errors import Forbidden, NotFound

__all__ = ["UNSET", "Unset", "read_scope", "require_writer", "write_target"]


class Unset:
    """Marks a filter that was not given at all (as opposed to given as null)."""


UNSET = Unset()


def _resolve_project(caller: Caller, ref: str) -> str:
    """A project id the caller may use.

    Projects arrive with user identities; until then no project exists, so every reference is
    answered the way the contract answers an unknown one.
    """
    raise NotFound(f"no such project '{ref}' — call project_list to see ids")


def read_scope(
    caller: Caller,
    *,
    namespace: str | None = None,
    include_namespaces: list[str] | None = None,
    project: str | None = None,
    include_projects: list[str] | None = None,
    max_sensitivity: str = "private",
    agent_filter: str | None | Unset = UNSET,
) -> ReadScope:
    """The read scope: includeProjects > project > the caller's own user-global entries.

    Namespaces: includeNamespaces > namespace > every namespace (one query, no fan-out).
    """
    projects: tuple[str, ...] = ()
    include_global = True
    if include_projects:
        projects = tuple(dict.fromkeys(_resolve_project(caller, ref) for ref in include_projects))
    elif project is not None:
        projects = (_resolve_project(caller, project),)
        include_global = False
    if caller.confined_project is not None:
        projects, include_global = (caller.confined_project,), False
    namespaces: tuple[str, ...] | None = None
    if include_namespaces:
        namespaces = tuple(dict.fromkeys(include_namespaces))
    elif namespace is not None:
        namespaces = (namespace,)
    level = Sensitivity.parse(max_sensitivity)
    return ReadScope(
        tenant_id=caller.tenant_id,
        user_id=caller.user_id,
        include_user_global=include_global,
        project_ids=projects,
        namespaces=namespaces,
        max_sensitivity=int(level if level is not None else Sensitivity.PRIVATE),
        agent_filter=None if isinstance(agent_filter, Unset) else agent_filter,
        agent_filter_set=not isinstance(agent_filter, Unset),
    )


def require_writer(caller: Caller) -> None:
    if not caller.can_write:
        raise Forbidden("read-only token")


def write_target(caller: Caller, project: str | None) -> WriteTarget:
    """Where a write lands: the named project, the caller's confined project, or user-global."""
    require_writer(caller)
    project_id = _resolve_project(caller, project) if project is not None else None
    if caller.confined_project is not None:
        project_id = caller.confined_project
    return WriteTarget(tenant_id=caller.tenant_id, user_id=caller.user_id, project_id=project_id)
