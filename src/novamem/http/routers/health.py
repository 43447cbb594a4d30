"""Probes and the self-hosted API reference page."""

from __future__ import annotations

import asyncio
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse, Response

from novamem.http.deps import ContainerDep

router = APIRouter(tags=["health"])


@router.get("/live")
async def live() -> dict[str, bool]:
    """The process is up (no dependency checks)."""
    return {"ok": True}


async def _ready(c: ContainerDep) -> JSONResponse:
    try:
        ok = await asyncio.wait_for(c.database.ping(), timeout=5)
    except TimeoutError:
        ok = False
    return JSONResponse({"ok": ok}, status_code=200 if ok else 503)


@router.get("/ready")
async def ready(c: ContainerDep) -> JSONResponse:
    """The database answers within five seconds."""
    return await _ready(c)


@router.get("/health")
async def health(c: ContainerDep) -> JSONResponse:
    """Same as /ready: a boolean only, no dependency detail for anonymous callers."""
    return await _ready(c)


@router.get("/favicon.ico", include_in_schema=False)
async def favicon() -> Response:
    return Response(status_code=204)


@router.get("/api-docs", include_in_schema=False)
async def api_docs() -> HTMLResponse:
    page = resources.files("novamem.http") / "static" / "api-docs.html"
    return HTMLResponse(page.read_text(encoding="utf-8"))
