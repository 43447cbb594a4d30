"""Turning a caller plus the scope fields of a request into what the storage layer filters on.

Project references (id or name) are resolved here, within the caller's tenant, with membership
checked; a project-confined token is held to its project; the server-side active project is the
default when a request names no project. An on-behalf-of caller never names a project (403), and every
scope it gets carries its organization, which the storage layer matches on every entry.
"""

from __future__ import annotations

from novamem.domain.entries import Sensitivity
from novamem.domain.scope import Caller, ReadScope, WriteTarget
from novamem.error_messages import (
    ADMIN_ONLY,
    NO_SUCH_PROJECT,
    NOT_A_MEMBER_OF_PROJECT,
    ON_BEHALF_NO_PROJECTS,
    READ_ONLY_TOKEN,
    TOKEN_CONFINED,
)
from novamem.errors import Forbidden, NotFound
from novamem.storage.base import ProjectDirectory

__all__ = ["CONFINED", "UNSET", "AccessPolicy", "Unset", "require_admin", "require_writer"]

CONFINED = TOKEN_CONFINED  # kept under its old name for importers of this module


class Unset:
    """Marks a filter that was not given at all (as opposed to given as null)."""


UNSET = Unset()


def require_admin(caller: Caller, code: str) -> None:
    """Refuse anyone but an admin whose credential is neither read-only nor project-confined (403 `code`)."""
    if not caller.is_admin or caller.is_restricted:
        raise Forbidden(ADMIN_ONLY, code=code)


def require_writer(caller: Caller) -> None:
    """Refuse a read-only token (403)."""
    if not caller.can_write:
        raise Forbidden(READ_ONLY_TOKEN)


def require_unconfined(caller: Caller) -> None:
    """Account-wide reads (stats, hygiene) are not for project-confined tokens."""
    if caller.confined_project is not None:
        raise Forbidden(CONFINED)


class AccessPolicy:
    """Resolves the scope fields of requests for one caller at a time."""

    def __init__(self, projects: ProjectDirectory) -> None:
        self._projects = projects

    async def resolve_project(self, caller: Caller, ref: str) -> str:
        """A project id the caller may use: it exists in their tenant and they are a member.

        Every `project`/`includeProjects` parameter is resolved here, so an on-behalf-of caller is refused
        (403) whichever route or tool names one.
        """
        if caller.is_on_behalf:
            raise Forbidden(ON_BEHALF_NO_PROJECTS)
        found = await self._projects.lookup(caller.tenant_id, caller.user_id, ref)
        if found is None:
            raise NotFound(NO_SUCH_PROJECT.format(ref=ref))
        if caller.confined_project is not None and found.id != caller.confined_project:
            raise Forbidden(CONFINED)
        if not found.is_member:
            raise Forbidden(NOT_A_MEMBER_OF_PROJECT.format(ref=ref, id=found.id))
        return found.id

    async def read_scope(
        self,
        caller: Caller,
        *,
        namespace: str | None = None,
        include_namespaces: list[str] | None = None,
        project: str | None = None,
        include_projects: list[str] | None = None,
        max_sensitivity: str = "private",
        agent_filter: str | None | Unset = UNSET,
    ) -> ReadScope:
        """includeProjects (user-global + each) > project (that one) > the active project (+ user-global).

        A confined token reads its project only. Namespaces: includeNamespaces > namespace > every
        namespace (one query, no fan-out).
        """
        projects: tuple[str, ...] = ()
        include_global = True
        if include_projects:
            projects = tuple(dict.fromkeys([await self.resolve_project(caller, ref) for ref in include_projects]))
        elif project is not None:
            projects, include_global = (await self.resolve_project(caller, project),), False
        elif caller.active_project is not None:
            projects = (caller.active_project,)
        if caller.confined_project is not None:
            projects, include_global = (caller.confined_project,), False
        return _scope(caller, projects, include_global, namespace, include_namespaces, max_sensitivity, agent_filter)

    async def entry_scope(self, caller: Caller, project: str | None) -> ReadScope:
        """Where an entry addressed by id may live: the named project, else anywhere the caller can write.

        Another user's or tenant's entry is simply outside this scope, so it looks exactly like an id
        that does not exist.
        """
        projects: tuple[str, ...]
        if project is not None:
            projects, include_global = (await self.resolve_project(caller, project),), False
        elif caller.confined_project is not None:
            projects, include_global = (caller.confined_project,), False
        else:
            projects, include_global = await self._member_projects(caller), True
        return _scope(caller, projects, include_global, None, None, "sensitive", UNSET)

    async def account_scope(self, caller: Caller) -> ReadScope:
        """Everything the caller can see: user-global entries and every member project."""
        require_unconfined(caller)
        return _scope(caller, await self._member_projects(caller), True, None, None, "sensitive", UNSET)

    async def write_target(self, caller: Caller, project: str | None) -> WriteTarget:
        """Where a write lands: the named project, the confined project, the active project, or user-global."""
        require_writer(caller)
        if project is not None:
            project_id: str | None = await self.resolve_project(caller, project)
        elif caller.confined_project is not None:
            project_id = caller.confined_project
        else:
            project_id = caller.active_project
        return WriteTarget(
            tenant_id=caller.tenant_id,
            user_id=caller.user_id,
            project_id=project_id,
            organization_id=caller.organization_id,
        )

    async def _member_projects(self, caller: Caller) -> tuple[str, ...]:
        if not caller.is_user:
            return ()
        return tuple(await self._projects.member_project_ids(caller.tenant_id, caller.user_id))


def _scope(
    caller: Caller,
    projects: tuple[str, ...],
    include_global: bool,
    namespace: str | None,
    include_namespaces: list[str] | None,
    max_sensitivity: str,
    agent_filter: str | None | Unset,
) -> ReadScope:
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
        organization_id=caller.organization_id,
    )
