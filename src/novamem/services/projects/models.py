"""Wire models of projects, their members and the active project."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from novamem.services.wire import Out, ProjectRef, Wire

__all__ = [
    "ActiveProject",
    "ActiveProjectChosen",
    "ActiveProjectId",
    "ActiveProjectSet",
    "ActiveProjectView",
    "MemberAdd",
    "MemberAdded",
    "MemberList",
    "MemberRemoved",
    "MemberView",
    "ProjectCreate",
    "ProjectDeletePreview",
    "ProjectDeleted",
    "ProjectDetail",
    "ProjectList",
    "ProjectName",
    "ProjectOverview",
    "ProjectRole",
    "ProjectSummary",
    "ProjectView",
]


MAX_NAME = 128


def _normalise(value: object) -> object:
    """Names are compared as people read them: NFKC-normalised and trimmed before validation."""
    return unicodedata.normalize("NFKC", value).strip() if isinstance(value, str) else value


def _printable(value: str) -> str:
    if not value:
        raise ValueError("must not be empty or only spaces")
    if len(value) > MAX_NAME:
        raise ValueError(f"must be at most {MAX_NAME} characters")
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise ValueError("must not contain control characters")
    return value


ProjectName = Annotated[
    str,
    BeforeValidator(_normalise),
    AfterValidator(_printable),
    Field(json_schema_extra={"minLength": 1, "maxLength": MAX_NAME}),
]
ProjectRole = Literal["owner", "member"]


class ProjectCreate(Wire):
    name: ProjectName = Field(description="1-128 characters; names need not be unique")


class ProjectView(Out):
    id: str
    name: str
    role: ProjectRole = Field(description="your role in the project")
    owner_user_id: str
    created_at: str


class ProjectList(Out):
    projects: list[ProjectView]


class ProjectDeleted(Out):
    deleted: bool
    entries_removed: int
    cold_collections_dropped: list[str]
    graph_cleared: bool


class MemberAdd(Wire):
    username: str = Field(min_length=1, max_length=320, description="the account's exact email address")
    role: ProjectRole = "member"


class MemberView(Out):
    user_id: str
    username: str = Field(description="the member's email")
    role: ProjectRole
    joined_at: str


class MemberList(Out):
    members: list[MemberView]


class MemberAdded(Out):
    added: bool
    user_id: str
    username: str


class MemberRemoved(Out):
    removed: bool


class ActiveProjectSet(Wire):
    project: ProjectRef = Field(description="project id or name")


class ActiveProjectView(Out):
    id: str
    name: str


class ActiveProject(Out):
    active: ActiveProjectView | None


class ActiveProjectId(Out):
    id: str


class ActiveProjectChosen(Out):
    active: ActiveProjectId


class ProjectSummary(ProjectView):
    """A project as the dashboard lists it: your role in it and how many members it has."""

    member_count: int


class ProjectOverview(Out):
    """Your projects and which one (if any) your reads and writes default to."""

    projects: list[ProjectSummary]
    active: ActiveProjectView | None


class ProjectDetail(Out):
    """One of your projects with its members, and your active project (this one or another, or none)."""

    project: ProjectSummary
    members: list[MemberView]
    active: ActiveProjectView | None

    @property
    def is_active(self) -> bool:
        """Whether this project is your active project."""
        return self.active is not None and self.active.id == self.project.id


class ProjectDeletePreview(Out):
    """What deleting a project would take with it, counted now (nothing is changed)."""

    project: ProjectView
    entries: int = Field(description="memories deleted with the project")
    members: int = Field(description="memberships that end")
