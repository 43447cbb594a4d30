"""Projects: the shared access boundary. Create, list, delete, members by exact email, and the
server-side active project that reads and writes default to."""

from __future__ import annotations

from typing import cast

from ulid import ULID

from novamem.domain.entries import iso
from novamem.domain.scope import Caller
from novamem.error_messages import (
    ALREADY_A_MEMBER,
    NO_SUCH_PROJECT,
    NOT_A_MEMBER,
    NOT_A_MEMBER_OF_PROJECT,
    NOT_THIS_PROJECTS_MEMBER,
    OWNER_CANNOT_LEAVE,
    OWNER_CANNOT_UNSHARE,
    OWNER_NOT_REMOVABLE,
    OWNER_ONLY_ADD,
    OWNER_ONLY_DELETE,
    OWNER_ONLY_REMOVE,
    TOKEN_CONFINED,
    UNKNOWN_PROJECT,
    UNKNOWN_USER,
    UNKNOWN_USER_HINT,
)
from novamem.errors import Conflict, Forbidden, InvalidInput, NotFound
from novamem.services.identity.access import AccessPolicy
from novamem.services.identity.audit import AuditService
from novamem.services.projects.models import (
    ActiveProject,
    ActiveProjectChosen,
    ActiveProjectId,
    ActiveProjectView,
    MemberAdded,
    MemberList,
    MemberRemoved,
    MemberView,
    ProjectDeleted,
    ProjectDeletePreview,
    ProjectDetail,
    ProjectList,
    ProjectOverview,
    ProjectRole,
    ProjectSummary,
    ProjectView,
)
from novamem.storage.base import ProjectRecord, ProjectStore

__all__ = ["ProjectService"]

# The project routes (`/v1/me/projects/{id}…`) answer the contract's short strings; the data plane's
# project parameter keeps the reference's longer "no such project '<ref>' …" wording, given here as
# `detail` (which the MCP tools show instead of the short string, as the reference's tools do).
OWNER = "owner"


def _view(record: ProjectRecord) -> ProjectView:
    return ProjectView(
        id=record.id,
        name=record.name,
        role=cast(ProjectRole, record.role),  # validated by the model: listed projects always carry a role
        owner_user_id=record.owner_user_id,
        created_at=iso(record.created_at),
    )


class ProjectService:
    """Project management for one caller at a time; every reference (id or name) is resolved within
    the caller's tenant with membership checked, and every change is audited."""

    def __init__(self, store: ProjectStore, access: AccessPolicy, audit: AuditService) -> None:
        self._store = store
        self._access = access
        self._audit = audit

    async def create(self, caller: Caller, name: str, *, request_ip: str | None = None) -> ProjectView:
        """A new project owned by the caller (names are not unique)."""
        if caller.confined_project is not None:
            raise Forbidden(TOKEN_CONFINED)
        record = await self._store.create(caller.tenant_id, caller.user_id, str(ULID()), name)
        await self._audit.record(caller, "project.create", record.id, {"name": name}, request_ip=request_ip)
        return _view(record)

    async def list_mine(self, caller: Caller) -> ProjectList:
        """The caller's projects with their role (a confined token sees its own only)."""
        records = await self._store.list_for_user(caller.tenant_id, caller.user_id)
        if caller.confined_project is not None:
            records = [r for r in records if r.id == caller.confined_project]
        return ProjectList(projects=[_view(r) for r in records])

    async def overview(self, caller: Caller) -> ProjectOverview:
        """The caller's projects with their role and member count, and the active project."""
        listed = (await self.list_mine(caller)).projects
        counts = await self._store.member_counts(caller.tenant_id, [p.id for p in listed])
        active = (await self.active(caller)).active
        projects = [ProjectSummary(**p.model_dump(), member_count=counts.get(p.id, 0)) for p in listed]
        return ProjectOverview(projects=projects, active=active)

    async def detail(self, caller: Caller, ref: str) -> ProjectDetail:
        """One project the caller belongs to, its members, and the caller's active project."""
        record = await self._member_project(caller, ref)
        members = (await self.members(caller, record.id)).members
        return ProjectDetail(
            project=ProjectSummary(**_view(record).model_dump(), member_count=len(members)),
            members=members,
            active=(await self.active(caller)).active,
        )

    async def delete_preview(self, caller: Caller, ref: str) -> ProjectDeletePreview:
        """What `delete` would remove now: the project's memories and memberships (owner only; a dry run)."""
        project = await self._member_project(caller, ref)
        if project.role != OWNER:
            raise Forbidden(OWNER_ONLY_DELETE)
        entries = await self._store.entry_count(caller.tenant_id, project.id)
        counts = await self._store.member_counts(caller.tenant_id, [project.id])
        return ProjectDeletePreview(project=_view(project), entries=entries, members=counts.get(project.id, 0))

    async def delete(self, caller: Caller, ref: str, *, request_ip: str | None = None) -> ProjectDeleted:
        """Delete a project and everything in it (owner only)."""
        project = await self._member_project(caller, ref)
        if project.role != OWNER:
            raise Forbidden(OWNER_ONLY_DELETE)
        removed = await self._store.delete(caller.tenant_id, project.id)
        if removed is None:  # deleted concurrently
            raise NotFound(UNKNOWN_PROJECT, detail=NO_SUCH_PROJECT.format(ref=ref))
        await self._audit.record(
            caller,
            "project.delete",
            project.id,
            {"name": project.name, "entriesRemoved": removed},
            request_ip=request_ip,
        )
        return ProjectDeleted(deleted=True, entries_removed=removed, cold_collections_dropped=[], graph_cleared=True)

    async def members(self, caller: Caller, ref: str) -> MemberList:
        """The members of a project the caller belongs to; the username shown is the email."""
        project = await self._member_project(caller, ref)
        return MemberList(
            members=[
                MemberView(
                    user_id=m.user_id, username=m.email, role=cast(ProjectRole, m.role), joined_at=iso(m.joined_at)
                )
                for m in await self._store.members(caller.tenant_id, project.id)
            ]
        )

    async def add_member(
        self,
        caller: Caller,
        ref: str,
        username: str,
        role: ProjectRole = "member",
        *,
        request_ip: str | None = None,
    ) -> MemberAdded:
        """Add an account by its exact email (letter case aside), never by display name, and only from
        the caller's own tenant (owner only)."""
        project = await self._member_project(caller, ref)
        if project.role != OWNER:
            raise Forbidden(OWNER_ONLY_ADD)
        user = await self._store.user_by_email(caller.tenant_id, username.strip())
        if user is None:
            raise NotFound(UNKNOWN_USER, detail=UNKNOWN_USER_HINT.format(email=username))
        if not await self._store.add_member(caller.tenant_id, project.id, user.id, role):
            raise Conflict(ALREADY_A_MEMBER)
        await self._audit.record(
            caller, "project.member.add", project.id, {"userId": user.id, "role": role}, request_ip=request_ip
        )
        return MemberAdded(added=True, user_id=user.id, username=user.email)

    async def remove_member(
        self, caller: Caller, ref: str, user_id: str, *, request_ip: str | None = None
    ) -> MemberRemoved:
        """The owner removes anyone; a member removes themselves; the owner cannot leave."""
        project = await self._member_project(caller, ref)
        if user_id == project.owner_user_id:
            if user_id == caller.user_id:
                raise InvalidInput(OWNER_CANNOT_LEAVE)
            raise Forbidden(OWNER_NOT_REMOVABLE)
        if user_id != caller.user_id and project.role != OWNER:
            raise Forbidden(OWNER_ONLY_REMOVE)
        if not await self._store.remove_member(caller.tenant_id, project.id, user_id):
            raise NotFound(NOT_THIS_PROJECTS_MEMBER)
        await self._audit.record(
            caller, "project.member.remove", project.id, {"userId": user_id}, request_ip=request_ip
        )
        return MemberRemoved(removed=True)

    async def remove_member_by_email(
        self, caller: Caller, ref: str, email: str, *, request_ip: str | None = None
    ) -> MemberRemoved:
        """`remove_member` of the member whose email is exactly `email` (letter case aside)."""
        wanted = email.strip().casefold()
        members = (await self.members(caller, ref)).members
        member = next((m for m in members if m.username.casefold() == wanted), None)
        if member is None:
            raise NotFound(UNKNOWN_USER, detail=UNKNOWN_USER_HINT.format(email=email))
        if member.role == OWNER and member.user_id == caller.user_id:  # the reference's tool words it as unsharing
            raise InvalidInput(OWNER_CANNOT_LEAVE, detail=OWNER_CANNOT_UNSHARE)
        return await self.remove_member(caller, ref, member.user_id, request_ip=request_ip)

    async def active(self, caller: Caller) -> ActiveProject:
        """The caller's active project (`{id, name}`) or none; a pointer at a project the caller lost is
        cleared here."""
        record = await self._store.active(caller.tenant_id, caller.user_id)
        return ActiveProject(active=ActiveProjectView(id=record.id, name=record.name) if record else None)

    async def set_active(self, caller: Caller, ref: str) -> ActiveProjectChosen:
        """Make a project the caller belongs to the default of their reads and writes."""
        project_id = await self._access.resolve_project(caller, ref)
        await self._store.set_active(caller.tenant_id, caller.user_id, project_id)
        return ActiveProjectChosen(active=ActiveProjectId(id=project_id))

    async def clear_active(self, caller: Caller) -> ActiveProject:
        """Reads and writes go back to defaulting to the caller's own memories; answers the (empty) active
        project."""
        await self._store.clear_active(caller.tenant_id, caller.user_id)
        return ActiveProject(active=None)

    async def _member_project(self, caller: Caller, ref: str) -> ProjectRecord:
        """The project a `/v1/me/projects/{id}` route names, refused with the routes' own strings (the
        resolver's wording, which repeats what was asked for, goes into `detail`)."""
        try:
            project_id = await self._access.resolve_project(caller, ref)
        except NotFound as exc:
            raise NotFound(UNKNOWN_PROJECT, detail=exc.message) from None
        except Forbidden as exc:
            if exc.message == TOKEN_CONFINED:
                raise
            raise Forbidden(NOT_A_MEMBER, detail=exc.message) from None
        record = await self._store.get(caller.tenant_id, caller.user_id, project_id)
        if record is None or record.role is None:  # membership ended since the reference was resolved
            raise Forbidden(NOT_A_MEMBER, detail=NOT_A_MEMBER_OF_PROJECT.format(ref=ref, id=project_id))
        return record
