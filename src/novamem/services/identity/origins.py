"""Origin rules: the CSRF rule of cookie-bearing requests (`/api/auth/*` and the dashboard), and the
browser-origin allowlist (`NOVAMEM_CORS_ORIGINS`) that CORS and `/mcp` share.

`origin_allowed`: CORS gives an allowed origin the allow headers; `/mcp` refuses any other origin outright
(DNS-rebinding defence: the `Origin` is compared with the list, never with `Host`). `*` allows every origin.

A browser sends the session cookie with every request to this server, whoever's page started it. A
state-changing request (any method but GET, HEAD and OPTIONS) that carries a cookie must therefore say
where it comes from: its `Origin` header (else the origin of its `Referer`) must be one of the trusted
origins (`Settings.trusted_origins`: the public base URL, `http://localhost:5173` and the CORS origins).
Requests without cookies (curl, servers, bearer tokens) carry no ambient credential and pass.
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlsplit

from novamem.error_messages import BA_INVALID_ORIGIN, BA_MISSING_OR_NULL_ORIGIN
from novamem.errors import Forbidden

__all__ = ["ANY_ORIGIN", "SAFE_METHODS", "check_origin", "origin_allowed", "request_origin"]

ANY_ORIGIN = "*"

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def request_origin(origin: str | None, referer: str | None) -> str | None:
    """The `Origin` header; without one, the origin of the `Referer` ("null" when it names none); else None."""
    if origin is not None:
        return origin
    if not referer:
        return None
    parts = urlsplit(referer)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else "null"


def check_origin(
    method: str, *, origin: str | None, referer: str | None, has_cookie: bool, trusted: Collection[str]
) -> None:
    """Raise Forbidden when a cookie-bearing, state-changing request comes from an untrusted origin.

    Codes (Better Auth's): `MISSING_OR_NULL_ORIGIN` without an origin (or "null"), `INVALID_ORIGIN` for
    one not in `trusted` (origins without a trailing slash).
    """
    if method.upper() in SAFE_METHODS or not has_cookie:
        return
    found = request_origin(origin, referer)
    if found is None or found == "null":
        raise Forbidden(BA_MISSING_OR_NULL_ORIGIN, code="MISSING_OR_NULL_ORIGIN")
    if found.rstrip("/") not in trusted:
        raise Forbidden(BA_INVALID_ORIGIN, code="INVALID_ORIGIN")


def origin_allowed(origin: str, allowed: Collection[str]) -> bool:
    """Whether the `Origin` header value is in the allowlist (origins without a trailing slash) or `*` is."""
    return ANY_ORIGIN in allowed or origin.rstrip("/") in allowed
