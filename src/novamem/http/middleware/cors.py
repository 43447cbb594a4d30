"""CORS from `NOVAMEM_CORS_ORIGINS`, as the reference (section 8.5) describes it.

- A list of origins: an allowed `Origin` is echoed with `Access-Control-Allow-Credentials: true`; every
  response carries `Vary: Origin` (the answer depends on it). Other origins get no allow header: the
  request still runs (it may be a same-origin or non-browser call), and the browser withholds the answer
  from the calling page. `/mcp` refuses foreign origins itself (403), by the same rule
  (`services/identity/origins.py`).
- `*`: `Access-Control-Allow-Origin: *` for any origin, never with credentials (browsers then send no
  cookies cross-origin).
- Empty or `self`: off. No CORS headers at all, and `OPTIONS` goes to the routes (404): same-origin only.

Preflights (`OPTIONS`, when CORS is on) are answered here and never reach the routes, the rate limiter
or authentication: a missing `Origin` or `Access-Control-Request-Method` gets 400 text
"Invalid Preflight Request"; a foreign origin 204 with `Vary: Origin` and no `Access-Control-Allow-*`
header at all (the browser then refuses the real request); an allowed one 204 with
`Access-Control-Allow-Methods: GET,HEAD,POST` (the reference's list: browsers then refuse cross-origin
`PUT` and `DELETE`, which only the same-origin dashboard and non-browser clients use), the requested
headers echoed and `Access-Control-Max-Age`.

Allowed simple requests also get `Access-Control-Expose-Headers` (`EXPOSE_HEADERS`), so a calling page can
read the MCP session id, the rate-limit headers and the request id; the reference does not list it.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from novamem.error_messages import INVALID_PREFLIGHT
from novamem.http.middleware.responses import send_response
from novamem.services.identity.origins import ANY_ORIGIN, origin_allowed

__all__ = ["ALLOW_METHODS", "EXPOSE_HEADERS", "MAX_AGE_SECONDS", "CorsMiddleware"]

ALLOW_METHODS = "GET,HEAD,POST"
# response headers a calling page may read besides the safelisted ones (not in the reference; additive)
EXPOSE_HEADERS = (
    "Mcp-Session-Id, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, X-Request-Id"
)
MAX_AGE_SECONDS = 600
_VARY = (b"vary", b"Origin")


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return None


def _add_vary_origin(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Append `Origin` to an existing `Vary` header, or add one."""
    for i, (key, value) in enumerate(headers):
        if key.lower() == b"vary":
            items = [v.strip().lower() for v in value.split(b",")]
            if b"origin" not in items and b"*" not in items:
                headers[i] = (key, value + b", Origin")
            return headers
    headers.append(_VARY)
    return headers


class CorsMiddleware:
    """Answers preflights and adds the allow headers; does nothing when `origins` is empty."""

    def __init__(self, app: ASGIApp, origins: Sequence[str] = ()) -> None:
        self.app = app
        self.origins = frozenset(o.strip().rstrip("/") for o in origins if o.strip() and o.strip() != "self")
        self.any_origin = ANY_ORIGIN in self.origins
        self.enabled = bool(self.origins)

    def _allow(self, origin: bytes | None) -> list[tuple[bytes, bytes]]:
        """The allow headers for `origin` (empty when it is not allowed)."""
        if origin is None or not origin_allowed(origin.decode("latin-1"), self.origins):
            return []
        if self.any_origin:
            return [(b"access-control-allow-origin", b"*")]
        return [(b"access-control-allow-origin", origin), (b"access-control-allow-credentials", b"true")]

    async def _preflight(self, scope: Scope, send: Send) -> None:
        origin = _header(scope, b"origin")
        method = _header(scope, b"access-control-request-method")
        if origin is None or method is None:
            await send_response(send, 400, INVALID_PREFLIGHT.encode(), b"text/plain; charset=utf-8")
            return
        allow = self._allow(origin)
        if not allow:  # answered, but without allow headers: the browser then blocks the real request
            await send_response(send, 204, b"", None, [_VARY])
            return
        headers = [*allow, (b"access-control-allow-methods", ALLOW_METHODS.encode())]
        requested = _header(scope, b"access-control-request-headers")
        if requested:
            headers.append((b"access-control-allow-headers", requested))
        headers += [(b"access-control-max-age", str(MAX_AGE_SECONDS).encode()), _VARY]
        await send_response(send, 204, b"", None, headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.enabled:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            await self._preflight(scope, send)
            return
        allow = self._allow(_header(scope, b"origin"))
        if allow:
            allow.append((b"access-control-expose-headers", EXPOSE_HEADERS.encode()))
        vary = not self.any_origin

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if not k.lower().startswith(b"access-control-allow-")  # the policy is decided here only
                ]
                headers.extend(allow)
                if vary:
                    headers = _add_vary_origin(headers)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_cors)
