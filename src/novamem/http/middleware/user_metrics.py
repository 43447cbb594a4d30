"""Pure ASGI middleware: counts a user's answered data-plane requests for `GET /v1/me/metrics`.

The classified routes (`classify_request`: query, remember, forget) are counted for the caller that
`AuthenticationMiddleware` resolved, under the credential used, when the answer is 2xx. Counting is an
in-process dict update (`UserMetricsService.count`); the service's background flush writes it to
PostgreSQL, so no request waits for a metrics write. Every other route passes straight through.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from novamem.container import Container
from novamem.services.identity.authn import caller_from_state
from novamem.services.operations.user_metrics import classify_request

__all__ = ["UserMetricsMiddleware"]


class UserMetricsMiddleware:
    """Counts 2xx answers of the classified routes for the authenticated user and credential."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = classify_request(scope["method"], scope["path"]) if scope["type"] == "http" else None
        if kind is None:
            await self.app(scope, receive, send)
            return
        status = 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        await self.app(scope, receive, sending)
        if not 200 <= status < 300:
            return
        state = scope.get("state") or {}
        container: Container | None = state.get("container")
        caller = caller_from_state(state)
        if container is not None and caller is not None:
            container.user_metrics.count(caller, kind)
