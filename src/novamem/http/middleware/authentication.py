"""Authentication, once per request, for every door: REST routes, `/mcp` and the dashboard.

The container's `Authenticator` resolves the presented credential (the session cookie, then an `nm_`
bearer token; the shared token in `bearer` mode; everyone in `none` mode) and the outcome is kept in the
ASGI scope's state (`services/identity/authn.py`: `AUTHENTICATION_KEY`). Each door reads it there
(`require_caller`, `caller_from_state`, ...) and answers refusals in its own shape: nothing authenticates
a second time. Nothing is refused here, so routes that need no caller answer whatever was presented; a
refused credential (403) or one that could not be checked (database down) is raised only by routes that
need the caller.

Runs after the rate limiter and the request limits, so refused and over-budget requests cost no lookup.
Public paths whose routes never read a caller (probes, the OpenAPI document, hashed static assets,
`/.well-known/`) are not authenticated at all: a browser sends its session cookie with every asset.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from novamem.container import Container
from novamem.services.identity.authn import AUTHENTICATION_KEY

__all__ = ["PUBLIC_PATHS", "PUBLIC_PREFIXES", "AuthenticationMiddleware"]

PUBLIC_PATHS = frozenset({"/live", "/ready", "/health", "/openapi.json", "/api-docs", "/favicon.ico"})
PUBLIC_PREFIXES = ("/admin/assets/", "/api-docs/assets/", "/.well-known/")


class AuthenticationMiddleware:
    """Resolves the request's credential once and keeps the outcome in the scope's state."""

    def __init__(
        self,
        app: ASGIApp,
        public_paths: Collection[str] = PUBLIC_PATHS,
        public_prefixes: Sequence[str] = PUBLIC_PREFIXES,
    ) -> None:
        self.app = app
        self.public_paths = frozenset(public_paths)
        self.public_prefixes = tuple(public_prefixes)

    def _public(self, path: str) -> bool:
        return path in self.public_paths or path.startswith(self.public_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._public(scope["path"]):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        container: Container | None = state.get("container")
        if container is not None:
            auth = container.authenticator
            headers = Headers(scope=scope)
            cookie = None
            if auth.cookies is not None:
                cookie = cookie_parser(headers.get("cookie", "")).get(auth.cookies.name)
            state[AUTHENTICATION_KEY] = await auth.authenticate_request(headers.get("authorization"), cookie)
        await self.app(scope, receive, send)
