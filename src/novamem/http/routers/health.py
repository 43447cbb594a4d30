"""Probes and the self-hosted API reference page."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse, Response

from novamem.http.deps import ContainerDep
from novamem.services.memory.models import Probe

__all__ = ["router"]

router = APIRouter(tags=["health"])

# Read once; the page's code is a separate file, so the strict CSP the headers middleware puts on every
# HTML response (script-src 'self', no inline script) lets it run.
_STATIC = resources.files("novamem.http") / "static"
_API_DOCS_PAGE = (_STATIC / "api-docs.html").read_text(encoding="utf-8")
_API_DOCS_SCRIPT = (_STATIC / "api-docs.js").read_text(encoding="utf-8")


@router.get("/live", response_model=Probe)
async def live() -> dict[str, bool]:
    """The process is up (no dependency checks)."""
    return {"ok": True}


async def _ready(c: ContainerDep) -> JSONResponse:
    ok = await c.health.ready()
    return JSONResponse({"ok": ok}, status_code=200 if ok else 503)


@router.get("/ready", response_model=None, responses={200: {"model": Probe}, 503: {"model": Probe}})
async def ready(c: ContainerDep) -> JSONResponse:
    """The warm tier (PostgreSQL) and the cold tier (its vector index) each answer within five seconds."""
    return await _ready(c)


@router.get("/health", response_model=None, responses={200: {"model": Probe}, 503: {"model": Probe}})
async def health(c: ContainerDep) -> JSONResponse:
    """Same as /ready: a boolean only, no dependency detail for anonymous callers."""
    return await _ready(c)


@router.get("/favicon.ico", include_in_schema=False)
async def favicon() -> Response:
    return Response(status_code=204)


@router.get("/api-docs", include_in_schema=False)
async def api_docs() -> HTMLResponse:
    """The API reference page: renders `/openapi.json` in the browser, no third-party assets."""
    return HTMLResponse(_API_DOCS_PAGE)


@router.get("/api-docs.js", include_in_schema=False)
async def api_docs_script() -> Response:
    """The API reference page's code."""
    return Response(_API_DOCS_SCRIPT, media_type="text/javascript; charset=utf-8")
