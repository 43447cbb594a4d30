"""create_app(settings): middleware, REST routers and the lifespan that builds the container."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.middleware import Middleware

from novamem import __version__
from novamem.config import AuthMode, Settings
from novamem.container import Container
from novamem.http.errors import install_error_handlers
from novamem.http.middleware.limits import BodyLimitMiddleware, SecurityHeadersMiddleware
from novamem.http.openapi import install_openapi
from novamem.http.routers import health, memories, recall
from novamem.jobs.scheduler import build_scheduler

__all__ = ["ROUTERS", "create_app"]

ROUTERS = (health.router, memories.router, recall.router)

DESCRIPTION = (
    "Long-term memory for AI agents. Store durable facts with `/v1/remember` or `/v1/capture`, "
    'find them with `/v1/search` and `/v1/context`. Errors use `{"error": message}`; validation '
    "errors add `issues`."
)


def create_app(settings: Settings) -> FastAPI:
    """The ASGI application; the container is built in the lifespan and reached via request state."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        container = await Container.build(settings, serving=True)
        scheduler = build_scheduler(container)
        scheduler.start()
        app.state.container = container
        try:
            yield {"container": container}
        finally:
            await scheduler.stop()
            await container.close()

    middleware = [
        Middleware(SecurityHeadersMiddleware),
        Middleware(BodyLimitMiddleware),
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
    )
    install_error_handlers(app)
    install_openapi(app, auth=settings.auth_mode is not AuthMode.NONE)
    for router in ROUTERS:
        app.include_router(router)
    return app
