"""Which route classes a restricted credential may reach (pure; applied to every request)."""

from __future__ import annotations

from novamem.domain.scope import Caller, TokenScope

__all__ = ["READ_SHAPED_POSTS", "route_refusal"]

# POST routes that only read, so read-only tokens may call them (the reference's list, plus `/v1/evaluate`, whose
# self-checks run on synthetic data and never write)
READ_SHAPED_POSTS = frozenset(
    {"/v1/search", "/v1/recent", "/v1/neighbors", "/v1/context", "/v1/hygiene", "/v1/evaluate", "/v1/adoption"}
)
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def route_refusal(caller: Caller, method: str, path: str) -> str | None:
    """The 403 message for a restricted token on this route, or None when the call may proceed.

    Restricted tokens (read-only or project-confined) never reach admin or token-rotation routes and
    never mint tokens; read-only tokens never change anything. MCP enforces the same rules per tool.
    A session whose account must change its password reaches only the `/api/auth/*` routes (where
    the password is changed). API tokens are not held back: admins provision them for automation.
    """
    if caller.must_change_password and not path.startswith("/api/auth/"):
        return "password change required"
    if caller.is_restricted and (
        path.startswith(("/v1/admin/", "/v1/auth/"))
        or (path.startswith("/v1/me/tokens") and method not in _SAFE_METHODS)
    ):
        return "restricted token"
    if (
        caller.token_scope is TokenScope.READ_ONLY
        and method not in _SAFE_METHODS
        and path not in READ_SHAPED_POSTS
        and not path.startswith("/mcp")
    ):
        return "read-only token"
    return None
