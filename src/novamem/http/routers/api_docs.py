"""The API reference at `/api-docs`: the vendored Swagger UI rendering `/openapi.json`, all served from here.

The page is a small HTML file; its code and styles are files under `/api-docs/assets/`, so the strict CSP
that the headers middleware puts on every HTML response (`script-src 'self'`, no inline script) lets them
run and nothing comes from a CDN. Asset URLs carry a prefix of the file's SHA-256, which makes them safe to
cache for a year as `immutable`: a changed file (a new Swagger UI version, an edit to our initializer) gets
a new URL. The vendored package, its pinned version and how to update it: `static/swagger-ui/README.md`.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

__all__ = ["ASSETS_PATH", "ASSET_CACHE_CONTROL", "router"]

ASSETS_PATH = "/api-docs/assets"
ASSET_CACHE_CONTROL = "public, max-age=31536000, immutable"
# the page names hashed assets, so it must be revalidated to pick up new ones
_PAGE_CACHE_CONTROL = "no-cache"
_MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# below this, compressing costs more than it saves
_GZIP_MIN_BYTES = 1024
# the weights that say "not this coding" (RFC 9110 qvalue zero)
_REFUSED = frozenset({"q=0", "q=0.", "q=0.0", "q=0.00", "q=0.000"})

# template placeholder -> file under static/
_SOURCES = {
    "swagger_ui_bundle_js": "swagger-ui/swagger-ui-bundle.js",
    "swagger_ui_css": "swagger-ui/swagger-ui.css",
    "api_docs_js": "api-docs.js",
    "api_docs_css": "api-docs.css",
}

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class _Asset:
    """One static file, ready to send: its bytes, their gzip form (when worth it) and its content type."""

    body: bytes
    gzipped: bytes | None
    media_type: str


@dataclass(frozen=True)
class _Site:
    """The rendered page and the assets it links to, by their hashed file names."""

    page: str
    assets: dict[str, _Asset]


def _hashed_name(source: str, body: bytes) -> str:
    stem, _, suffix = source.rpartition("/")[2].rpartition(".")
    return f"{stem}.{hashlib.sha256(body).hexdigest()[:16]}.{suffix}"


@cache
def _site() -> _Site:
    """Read and hash the files once, on the first request (not at import: the bundle is 1.7 MB)."""
    static = resources.files("novamem.http") / "static"
    urls: dict[str, str] = {}
    assets: dict[str, _Asset] = {}
    for placeholder, source in _SOURCES.items():
        body = static.joinpath(*source.split("/")).read_bytes()
        name = _hashed_name(source, body)
        gzipped = gzip.compress(body, mtime=0) if len(body) >= _GZIP_MIN_BYTES else None
        assets[name] = _Asset(body, gzipped, _MEDIA_TYPES["." + name.rpartition(".")[2]])
        urls[placeholder] = f"{ASSETS_PATH}/{name}"
    page = Template((static.joinpath("api-docs.html")).read_text(encoding="utf-8")).substitute(urls)
    return _Site(page, assets)


def _accepts_gzip(request: Request) -> bool:
    for part in request.headers.get("accept-encoding", "").split(","):
        coding, _, weight = part.partition(";")
        if coding.strip().lower() == "gzip":
            return weight.replace(" ", "").lower() not in _REFUSED
    return False


@router.get("/api-docs")
def api_docs() -> HTMLResponse:
    """The API reference page: Swagger UI over `/openapi.json`, no third-party assets."""
    return HTMLResponse(_site().page, headers={"Cache-Control": _PAGE_CACHE_CONTROL})


@router.get(ASSETS_PATH + "/{name}")
def api_docs_asset(name: str, request: Request) -> Response:
    """One of the page's files by its content-hashed name; any other name is 404."""
    asset = _site().assets.get(name)
    if asset is None:
        raise HTTPException(status_code=404)
    headers = {"Cache-Control": ASSET_CACHE_CONTROL, "Vary": "Accept-Encoding"}
    if asset.gzipped is not None and _accepts_gzip(request):
        headers["Content-Encoding"] = "gzip"
        return Response(asset.gzipped, media_type=asset.media_type, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)
