"""The dashboard switch: `NOVAMEM_ADMIN_DASHBOARD=0` hides the dashboard and the metrics routes.

`/admin`, `/admin/...`, `/v1/admin/metrics` and `/v1/admin/metrics/prom` then answer
404 `{"error":"admin disabled"}` to everyone, before authentication and before the rate limiter, so the
answer says nothing about the caller's credentials. Other admin routes (`/v1/admin/users`, ...) stay.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from novamem.error_messages import ADMIN_DISABLED
from novamem.http.middleware.responses import send_error

__all__ = ["DashboardSwitchMiddleware", "is_dashboard_path"]

_METRICS = frozenset({"/v1/admin/metrics", "/v1/admin/metrics/prom"})


def is_dashboard_path(path: str) -> bool:
    return path == "/admin" or path.startswith("/admin/") or path.rstrip("/") in _METRICS


class DashboardSwitchMiddleware:
    """Answers the dashboard's paths with 404 while the dashboard is switched off."""

    def __init__(self, app: ASGIApp, enabled: bool = True) -> None:
        self.app = app
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.enabled and is_dashboard_path(scope["path"]):
            await send_error(send, 404, ADMIN_DISABLED)
            return
        await self.app(scope, receive, send)
