"""Who is calling and which memories that caller may touch.

A `Caller` is what authentication produces. Every service function takes it first, and the storage
layer turns it into SQL filters in one place, so a route cannot forget the tenant.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["PUBLIC_TENANT", "PUBLIC_USER", "Caller", "ReadScope", "TokenScope", "WriteTarget"]

PUBLIC_TENANT = "default"
PUBLIC_USER = "public"


class TokenScope(StrEnum):
    """What a credential may do."""

    FULL = "full"
    READ_ONLY = "read_only"


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated principal: exactly one tenant and user, optionally confined to one project."""

    tenant_id: str
    user_id: str
    token_scope: TokenScope = TokenScope.FULL
    confined_project: str | None = None
    is_operator: bool = False

    @classmethod
    def public(cls) -> Caller:
        """The shared caller of `none` and `bearer` modes."""
        return cls(tenant_id=PUBLIC_TENANT, user_id=PUBLIC_USER, is_operator=True)

    @property
    def can_write(self) -> bool:
        return self.token_scope is TokenScope.FULL


@dataclass(frozen=True, slots=True)
class WriteTarget:
    """Where a write lands: the caller's tenant and user, and one project or none (user-global)."""

    tenant_id: str
    user_id: str
    project_id: str | None

    @property
    def scope_key(self) -> str:
        """Dedup partition: a project's entries are shared, user-global ones belong to one user."""
        return f"p:{self.project_id}" if self.project_id else f"u:{self.user_id}"


@dataclass(frozen=True, slots=True)
class ReadScope:
    """What a read may see: one tenant, the user's global entries and/or some projects, and filters."""

    tenant_id: str
    user_id: str
    include_user_global: bool = True
    project_ids: tuple[str, ...] = ()
    namespaces: tuple[str, ...] | None = None
    max_sensitivity: int = 2
    agent_filter: str | None = None
    agent_filter_set: bool = False
