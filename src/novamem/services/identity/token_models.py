"""Wire models of API tokens: self-service minting and listing, rotation and admin revocation."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from novamem.services.wire import Out, ProjectRef, Wire

__all__ = [
    "AdminTokenRevoke",
    "AdminTokenRevoked",
    "MintedToken",
    "RotatedToken",
    "SCOPE_NAMES",
    "TokenCreate",
    "TokenDeleted",
    "TokenList",
    "TokenScopeName",
    "TokenView",
]

TokenScopeName = Literal["full", "read_only"]
# a stored scope as its wire name (an unknown stored scope is a KeyError, never a silent default)
SCOPE_NAMES: dict[str, TokenScopeName] = {"full": "full", "read_only": "read_only"}
TOKEN_HASH_PATTERN = r"^[0-9a-f]{64}$"


class TokenCreate(Wire):
    """A new API token for yourself; restrict it with a read-only scope, a project or an expiry."""

    label: str = Field("", max_length=128, description="what the token is for")
    scope: TokenScopeName = Field("full", description="`read_only` tokens can search and read, never write")
    project: ProjectRef | None = Field(None, description="confine the token to this project (id or name)")
    expires_in_days: int | None = Field(None, ge=1, le=3650, description="days until the token stops working")


class AdminTokenRevoke(Wire):
    token: str = Field(min_length=1, max_length=512, description="the leaked token's plaintext (`nm_…`)")


class TokenView(Out):
    """A token as listed: its SHA-256, never the plaintext."""

    token_hash: str
    label: str
    scope: TokenScopeName
    project_id: str | None
    expires_at: str | None
    created_at: str
    last_used_at: str | None
    revoked: bool


class TokenList(Out):
    tokens: list[TokenView]


class MintedToken(Out):
    token: str = Field(description="the plaintext, shown this once only")
    user_id: str
    created_at: str
    scope: TokenScopeName
    project_id: str | None
    expires_at: str | None
    warning: str


class RotatedToken(Out):
    token: str = Field(description="the replacement's plaintext, shown this once only")
    user_id: str
    created_at: str
    warning: str


class TokenDeleted(Out):
    deleted: bool


class AdminTokenRevoked(Out):
    revoked: bool
