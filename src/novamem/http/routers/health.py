"""Probes and the self-hosted API reference page."""

from __future__ import annotations

import base64
import hashlib
import re
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse, Response

from novamem.http.deps import ContainerDep
from novamem.services.schemas import Probe

__all__ = ["api_docs_csp", "router"]

router = APIRouter(tags=["health"])

_INLINE = re.compile(r"<(script|style)\b[^>]*>(.*?)</\1\s*>", re.DOTALL | re.IGNORECASE)


def api_docs_csp(page: str) -> str:
    """Content-Security-Policy for a page whose only code is its inline `<script>`/`<style>` blocks.

    Each block is allowed by its sha256 hash, so an injected script or style is refused; the page may
    fetch from its own origin only (the OpenAPI document).
    """
    allowed: dict[str, list[str]] = {"script": [], "style": []}
    for kind, body in _INLINE.findall(page):
        digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode("ascii")
        allowed[kind.lower()].append(f"'sha256-{digest}'")
    return "; ".join(
        [
            "default-src 'none'",
            "script-src " + (" ".join(allowed["script"]) or "'none'"),
            "style-src " + (" ".join(allowed["style"]) or "'none'"),
            "connect-src 'self'",
            "img-src 'self' data:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


# Read once so the hashes in the header always describe the exact bytes served.
_API_DOCS_PAGE = (resources.files("novamem.http") / "static" / "api-docs.html").read_text(encoding="utf-8")
_API_DOCS_CSP = api_docs_csp(_API_DOCS_PAGE)


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
    return HTMLResponse(_API_DOCS_PAGE, headers={"content-security-policy": _API_DOCS_CSP})
