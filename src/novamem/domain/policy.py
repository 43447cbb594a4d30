"""Which route classes a restricted credential may reach (pure; applied to every request)."""

from __future__ import annotations

from novamem.domain.scope import Caller, TokenScope
from novamem.error_messages import ON_BEHALF_REFUSED, PASSWORD_CHANGE_REQUIRED, READ_ONLY_TOKEN, RESTRICTED_TOKEN

__all__ = ["READ_SHAPED_POSTS", "on_behalf_refusal", "route_refusal"]

# POST routes that only read, so read-only tokens may call them (the reference's list, plus `/v1/evaluate`, whose
# self-checks run on synthetic data and never write)
READ_SHAPED_POSTS = frozenset(
    {"/v1/search", "/v1/recent", "/v1/neighbors", "/v1/context", "/v1/hygiene", "/v1/evaluate", "/v1/adoption"}
)
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# what an on-behalf-of caller never reaches (reference 8.4): accounts, admin, self-service, the dashboard
_ON_BEHALF_CLOSED = ("/v1/admin", "/v1/auth", "/v1/me", "/api/auth", "/admin")


def on_behalf_refusal(caller: Caller | None, path: str) -> str | None:
    """The 403 message for an on-behalf-of caller on a route it never reaches (reference 8.4), or None."""
    if (
        caller is not None
        and caller.is_on_behalf
        and any(path == p or path.startswith(p + "/") for p in _ON_BEHALF_CLOSED)
    ):
        return ON_BEHALF_REFUSED
    return None


def route_refusal(caller: Caller, method: str, path: str) -> str | None:
    """The 403 message for a restricted token on this route, or None when the call may proceed.

    Restricted tokens (read-only or project-confined) never reach admin or token-rotation routes and
    never mint tokens; read-only tokens never change anything. On-behalf-of callers reach only the data
    plane and `/mcp` (never admin, auth, self-service or dashboard routes, so never the project tools
    either). MCP enforces the same rules per tool.
    A session whose account must change its password reaches only the `/api/auth/*` routes (where
    the password is changed). API tokens are not held back: admins provision them for automation.
    """
    if caller.must_change_password and not path.startswith("/api/auth/"):
        return PASSWORD_CHANGE_REQUIRED
    if (refused := on_behalf_refusal(caller, path)) is not None:
        return refused
    if caller.is_restricted and (
        path.startswith(("/v1/admin/", "/v1/auth/"))
        or (path.startswith("/v1/me/tokens") and method not in _SAFE_METHODS)
    ):
        return RESTRICTED_TOKEN
    if (
        caller.token_scope is TokenScope.READ_ONLY
        and method not in _SAFE_METHODS
        and path not in READ_SHAPED_POSTS
        and not path.startswith("/mcp")
    ):
        return READ_ONLY_TOKEN
    return None
