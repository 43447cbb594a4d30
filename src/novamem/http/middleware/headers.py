"""Hardening headers on every response, the middleware's own refusals (413, 429, 431 ...) included.

- Always: `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY`.
- HTML responses (`Content-Type: text/html`): the strict `Content-Security-Policy` below, unless the route
  set a policy of its own. No inline script is allowed: pages load their code from this server.
- `Strict-Transport-Security` only when the request arrived over TLS: the ASGI scheme is https, or a
  trusted proxy said `X-Forwarded-Proto: https` (see `client.arrived_over_tls`). Sent over plain HTTP,
  it would be ignored by browsers anyway, and it must not be believed from an untrusted peer.

An exception no handler answered becomes `500 {"error":"internal server error"}` here, with the headers
(Starlette's own last-resort 500 sits outside every middleware); the exception still travels up to be logged.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from novamem.error_messages import INTERNAL_ERROR
from novamem.http.middleware.client import VIA_TLS_KEY, Network, arrived_over_tls
from novamem.http.middleware.responses import send_error

__all__ = ["CONTENT_SECURITY_POLICY", "HSTS", "SecurityHeadersMiddleware"]

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; font-src 'self' data:; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"

_ALWAYS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]
_CSP = (b"content-security-policy", CONTENT_SECURITY_POLICY.encode())
_HSTS = (b"strict-transport-security", HSTS.encode())


class SecurityHeadersMiddleware:
    """Adds the hardening headers to every HTTP response that does not carry them already."""

    def __init__(self, app: ASGIApp, trusted: Sequence[Network] = ()) -> None:
        self.app = app
        self.trusted = list(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.get("state") or {}
        tls = state[VIA_TLS_KEY] if VIA_TLS_KEY in state else arrived_over_tls(scope, self.trusted)
        started = False

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                wanted = list(_ALWAYS)
                content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if content_type.lower().startswith(b"text/html"):
                    wanted.append(_CSP)
                if tls:
                    wanted.append(_HSTS)
                headers.extend(h for h in wanted if h[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except Exception:
            # Starlette's outermost error middleware would answer this 500 without these headers; answer it
            # here instead (the app's handler still logs the error, and the exception goes on up).
            if not started:
                await send_error(with_headers, 500, INTERNAL_ERROR)
            raise
