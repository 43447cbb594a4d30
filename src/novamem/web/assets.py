"""The dashboard's static files, served under content-hashed names (`/admin/assets/<name>.<hash>.<ext>`).

The files in `web/static/` are read once at start-up; each is published under a name that carries the
first 12 hex digits of the SHA-256 of its bytes, so a changed file gets a new URL and every published URL
may be cached for a year (`immutable`). Only published names are served; anything else is 404. Text files
are also kept gzipped and sent that way to browsers that accept it (the stylesheet shrinks about fivefold).
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from starlette.responses import JSONResponse, Response

__all__ = ["ASSETS_PREFIX", "CACHE_FOREVER", "Asset", "AssetCatalog"]

ASSETS_PREFIX = "/admin/assets/"
CACHE_FOREVER = "public, max-age=31536000, immutable"
HASH_DIGITS = 12
_COMPRESSIBLE = frozenset({"css", "js", "svg"})
_MEDIA_TYPES = {
    "css": "text/css; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "svg": "image/svg+xml",
    "png": "image/png",
    "woff2": "font/woff2",
}


@dataclass(frozen=True, slots=True)
class Asset:
    """One published file: its bytes, their gzip form (text files) and its media type."""

    body: bytes
    gzipped: bytes | None
    media_type: str


class AssetCatalog:
    """Hashed names of the static files, and the responses that serve them."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self._urls: dict[str, str] = {}
        self._published: dict[str, Asset] = {}
        for name, body in sorted(files.items()):
            stem, dot, ext = name.rpartition(".")
            if not dot or ext not in _MEDIA_TYPES:
                raise ValueError(f"unsupported dashboard asset: {name}")
            digest = hashlib.sha256(body).hexdigest()[:HASH_DIGITS]
            published = f"{stem}.{digest}.{ext}"
            self._urls[name] = ASSETS_PREFIX + published
            gzipped = gzip.compress(body, mtime=0) if ext in _COMPRESSIBLE else None
            self._published[published] = Asset(body, gzipped, _MEDIA_TYPES[ext])

    @classmethod
    def load(cls) -> AssetCatalog:
        """The catalogue of the package's `web/static/` directory."""
        root = resources.files("novamem.web") / "static"
        return cls({entry.name: entry.read_bytes() for entry in _files(root)})

    def url(self, name: str) -> str:
        """The published URL of a static file (`dashboard.css` → `/admin/assets/dashboard.<hash>.css`)."""
        return self._urls[name]

    def response(self, published: str, method: str, accept_encoding: str = "") -> Response:
        """The file under its published name (GET and HEAD), cacheable for a year; 404 when unknown.

        Sent gzipped when the file has a gzip form and `accept_encoding` admits gzip.
        """
        asset = self._published.get(published)
        if asset is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        if method not in ("GET", "HEAD"):
            return JSONResponse({"error": "method not allowed"}, status_code=405, headers={"Allow": "GET, HEAD"})
        headers = {"Cache-Control": CACHE_FOREVER, "Vary": "Accept-Encoding"}
        if asset.gzipped is not None and _admits_gzip(accept_encoding):
            headers["Content-Encoding"] = "gzip"
            return Response(asset.gzipped, media_type=asset.media_type, headers=headers)
        return Response(asset.body, media_type=asset.media_type, headers=headers)


def _admits_gzip(accept_encoding: str) -> bool:
    """True when an Accept-Encoding header lists gzip (or `*`) without `q=0`."""
    for part in accept_encoding.split(","):
        coding, _, params = part.partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            return params.replace(" ", "").lower() not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _files(root: Traversable) -> list[Traversable]:
    return [entry for entry in root.iterdir() if entry.is_file() and not entry.name.startswith(".")]
