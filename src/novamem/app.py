"""create_app(settings): middleware, REST routers and the lifespan that builds the container."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.middleware import Middleware

from novamem import __version__
from novamem.config import AuthMode, Settings
from novamem.container import Container
from novamem.http.errors import install_error_handlers
from novamem.http.middleware.authentication import AuthenticationMiddleware
from novamem.http.middleware.client import ClientAddressMiddleware
from novamem.http.middleware.cors import CorsMiddleware
from novamem.http.middleware.dashboard import DashboardSwitchMiddleware
from novamem.http.middleware.headers import SecurityHeadersMiddleware
from novamem.http.middleware.limits import RequestLimitsMiddleware
from novamem.http.middleware.ratelimit import RateLimitMiddleware
from novamem.http.middleware.request_context import RequestContextMiddleware
from novamem.http.middleware.user_metrics import UserMetricsMiddleware
from novamem.http.openapi import install_openapi
from novamem.http.routers import (
    admin,
    admin_ops,
    admin_quotas,
    adoption,
    api_docs,
    auth,
    diagnostics,
    health,
    me_data,
    me_metrics,
    memories,
    observer,
    operator,
    projects,
    provisioning,
    recall,
    service_keys,
    telemetry,
    tokens,
)
from novamem.jobs.scheduler import build_scheduler
from novamem.mcp.server import McpEdge
from novamem.services.identity.authn import CookiePolicy
from novamem.web import DashboardEdge

__all__ = ["ACCOUNT_ROUTERS", "ROUTERS", "create_app"]

ROUTERS = (
    health.router,
    api_docs.router,
    memories.router,
    recall.router,
    diagnostics.router,
    adoption.router,
    tokens.rotation_router,
    operator.router,
    observer.router,
)
# routes that exist only when users have accounts (`user` and `tenant` modes)
ACCOUNT_ROUTERS = (
    auth.router,
    admin.router,
    admin_ops.router,
    tokens.router,
    projects.router,
    me_data.router,
    me_metrics.router,
    admin_quotas.router,
    telemetry.router,
    service_keys.router,
)

DESCRIPTION = (
    "Long-term memory for AI agents. Store durable facts with `/v1/remember` or `/v1/capture`, "
    'find them with `/v1/search` and `/v1/context`. Errors use `{"error": message}`; validation '
    "errors add `issues`."
)


def _to_console(text: str) -> None:
    """Show a one-time secret to whoever started the server: stderr, never a log handler."""
    sys.stderr.write(text)
    sys.stderr.flush()


def create_app(settings: Settings) -> FastAPI:
    """The ASGI application; the container is built in the lifespan and reached via request state."""

    mcp_edge = McpEdge(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        container = await Container.build(settings, serving=True)
        if settings.auth_mode.has_accounts:
            password = settings.bootstrap_admin_password
            try:
                await container.bootstrap.ensure_first_admin(
                    settings.bootstrap_admin_email,
                    password.get_secret_value() if password else None,
                    announce=_to_console,
                )
            except BaseException:
                await container.close()
                raise
        container.metrics.start()
        container.user_metrics.start()
        if container.index_sync is not None:
            container.index_sync.start()  # feeds Qdrant/FalkorDB from the index outbox
        scheduler = build_scheduler(container)
        scheduler.start()
        app.state.container = container
        try:
            async with mcp_edge.run():
                yield {"container": container}
        finally:
            await scheduler.stop()
            await container.close()

    trusted = settings.trusted_proxy_networks
    # outermost first; each is pure ASGI and small (src/novamem/http/middleware/)
    middleware = [
        Middleware(RequestContextMiddleware),  # request id, completion log line, server span
        Middleware(ClientAddressMiddleware, trusted=trusted),  # client IP + TLS into scope["state"]
        Middleware(SecurityHeadersMiddleware, trusted=trusted),  # on every response, refusals included
        Middleware(CorsMiddleware, origins=settings.cors_origin_list),  # answers preflights
        Middleware(DashboardSwitchMiddleware, enabled=settings.admin_dashboard),  # before auth and counting
        Middleware(RateLimitMiddleware, per_minute=settings.rate_limit_per_minute),  # before auth
        Middleware(RequestLimitsMiddleware),  # URI, headers, body size, JSON depth
        Middleware(AuthenticationMiddleware),  # once per request, into scope["state"] for REST, MCP, dashboard
        Middleware(UserMetricsMiddleware),  # 2xx data-plane answers, per user and credential (no I/O)
    ]
    app = FastAPI(
        title="novamem",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        middleware=middleware,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        # spans come from our request-context middleware; FastAPI's own OpenTelemetry (a second server span,
        # unredacted exception logs, exporters from FASTAPI_OTEL_* variables) stays off
        telemetry={"tracing": False, "metrics": False, "logs": False, "auto_configure": False},
    )
    install_error_handlers(app)
    install_openapi(
        app,
        auth=settings.auth_mode is not AuthMode.NONE,
        session_cookie=CookiePolicy(secret="", secure=settings.secure_cookies).name
        if settings.auth_mode.has_accounts
        else None,
        tenant_mode=settings.auth_mode is AuthMode.TENANT,
    )
    for router in ROUTERS:
        app.include_router(router)
    if settings.auth_mode.has_accounts:
        for router in ACCOUNT_ROUTERS:
            app.include_router(router)
    else:
        app.include_router(provisioning.router)  # 404 "user auth not enabled"
    app.router.routes.extend(mcp_edge.routes())
    app.router.routes.extend(DashboardEdge(settings).routes())  # /admin (404 while switched off)
    return app
