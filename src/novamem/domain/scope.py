"""Who is calling and which memories that caller may touch.

A `Caller` is what authentication produces. Every service function takes it first, and the storage
layer turns it into SQL filters in one place, so a route cannot forget the tenant.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "PUBLIC_TENANT",
    "PUBLIC_USER",
    "Caller",
    "Credential",
    "ReadScope",
    "TokenScope",
    "WriteTarget",
    "on_behalf_user_id",
]

PUBLIC_TENANT = "default"
PUBLIC_USER = "public"


class TokenScope(StrEnum):
    """What a credential may do."""

    FULL = "full"
    READ_ONLY = "read_only"


class Credential(StrEnum):
    """How the caller proved who they are."""

    NONE = "none"  # `none` auth mode: everyone is the public user
    SHARED = "shared"  # `bearer` mode's one shared token
    TOKEN = "token"  # a user's `nm_` API token
    SESSION = "session"  # a dashboard session cookie
    OBO = "obo"  # an on-behalf-of JWT a platform signed for one of its own users (a service key's organization)


def on_behalf_user_id(organization_id: str, subject: str) -> str:
    """The internal user id of an OBO caller: `org:<org>/<sub>` (no user row exists for it, and real user
    ids never start with `org:`), so every user-keyed store keeps organizations and subjects apart."""
    return f"org:{organization_id}/{subject}"


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated principal: exactly one tenant and user, optionally confined to one project.

    `is_admin` is the user's role within their tenant; `is_server_admin` is set for admins of the
    default tenant in `tenant` mode, who also manage tenants. `is_operator` may trigger lifecycle
    jobs (admins, and the shared caller of `none`/`bearer` modes). `organization_id` is set only for an
    on-behalf-of caller (`Credential.OBO`): a platform's end user, confined to the data plane, never an
    admin or operator, whose entries carry the organization.
    """

    tenant_id: str
    user_id: str
    token_scope: TokenScope = TokenScope.FULL
    confined_project: str | None = None
    is_operator: bool = False
    is_admin: bool = False
    is_server_admin: bool = False
    credential: Credential = Credential.NONE
    email: str | None = None
    token_hash: str | None = None
    session_id: str | None = None
    # the server-side active project, already checked to be one the user is still a member of
    active_project: str | None = None
    # a dashboard session of an account that must change its password before doing anything else
    must_change_password: bool = False
    organization_id: str | None = None
    # the deployment-wide auth epoch this account's credential was resolved under during this request (None:
    # not resolved from the database); what was read under the same epoch may be reused (quota overrides)
    auth_epoch: int | None = None

    @classmethod
    def public(cls, credential: Credential = Credential.NONE) -> Caller:
        """The shared caller of `none` and `bearer` modes."""
        return cls(tenant_id=PUBLIC_TENANT, user_id=PUBLIC_USER, is_operator=True, credential=credential)

    @property
    def can_write(self) -> bool:
        return self.token_scope is TokenScope.FULL

    @property
    def is_restricted(self) -> bool:
        """A read-only or project-confined token: never mints tokens or reaches admin routes."""
        return self.token_scope is not TokenScope.FULL or self.confined_project is not None

    @property
    def is_user(self) -> bool:
        """A real user account (not the shared public caller)."""
        return self.credential in (Credential.TOKEN, Credential.SESSION)

    @property
    def is_on_behalf(self) -> bool:
        """An on-behalf-of caller: reaches only the data plane and `/mcp`, and never uses projects."""
        return self.credential is Credential.OBO


@dataclass(frozen=True, slots=True)
class WriteTarget:
    """Where a write lands: the caller's tenant and user, and one project or none (user-global).

    `organization_id` is the OBO caller's organization (None for everyone else); it is stored with the
    entry and matched by every dedupe.
    """

    tenant_id: str
    user_id: str
    project_id: str | None
    organization_id: str | None = None

    @property
    def scope_key(self) -> str:
        """Dedup partition: a project's entries are shared, user-global ones belong to one user."""
        return f"p:{self.project_id}" if self.project_id else f"u:{self.user_id}"


@dataclass(frozen=True, slots=True)
class ReadScope:
    """What a read may see: one tenant, the user's global entries and/or some projects, and filters.

    `organization_id` (the OBO caller's organization, None for everyone else) must match every row read.
    """

    tenant_id: str
    user_id: str
    include_user_global: bool = True
    project_ids: tuple[str, ...] = ()
    namespaces: tuple[str, ...] | None = None
    max_sensitivity: int = 2
    agent_filter: str | None = None
    agent_filter_set: bool = False
    organization_id: str | None = None
