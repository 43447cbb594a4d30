"""Requests per minute per client IP, one budget for the whole deployment (`NOVAMEM_RATE_LIMIT_PER_MINUTE`).

Each request counts into a PostgreSQL fixed window (`container.counters.hit`, 60 s from the first request
of the window, the database clock decides), so every replica draws on the same budget. The client is the
address `ClientAddressMiddleware` resolved (trusted-proxy rule). Runs before authentication.

Never counted: `/health`, `/live`, `/ready` (probes) and `GET /mcp` (the long-lived MCP keep-alive
stream). Preflights never get here (the CORS middleware answers them). Every counted response carries
`X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (seconds until the window ends, rounded
up); beyond the budget the answer is 429 with `Retry-After` and
`{"error":"Rate limit exceeded, retry in N seconds"}`. When the database cannot count, requests pass
(fail open) and a warning is logged at most once a minute.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from novamem.error_messages import RATE_LIMIT_EXCEEDED
from novamem.http.middleware.responses import send_error
from novamem.services.identity.authn import client_ip_from_state

__all__ = ["EXEMPT_PATHS", "WINDOW_SECONDS", "RateLimitMiddleware", "is_exempt"]

log = logging.getLogger("novamem.http.ratelimit")

WINDOW_SECONDS = 60
EXEMPT_PATHS = frozenset({"/health", "/live", "/ready"})
WARN_EVERY_S = 60.0


def is_exempt(method: str, path: str) -> bool:
    return path in EXEMPT_PATHS or (method == "GET" and path == "/mcp")


class RateLimitMiddleware:
    """Counts each request against its client's budget; 429 beyond it."""

    def __init__(self, app: ASGIApp, per_minute: int = 0) -> None:
        self.app = app
        self.per_minute = per_minute
        self._warned_at: float | None = None

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if self._warned_at is None or now - self._warned_at >= WARN_EVERY_S:
            self._warned_at = now
            log.warning("rate limit not enforced, the counter is unavailable (%s); requests pass", type(exc).__name__)

    async def _count(self, scope: Scope) -> tuple[int, int] | None:
        """(requests in this window including this one, seconds until it resets); None: cannot count."""
        container: Any = (scope.get("state") or {}).get("container")
        if container is None:
            return None
        client = client_ip_from_state(scope.get("state") or {})
        key = f"rate:{client or '-'}"
        try:
            window = await container.counters.hit(key, WINDOW_SECONDS, hot=True)
        except Exception as exc:  # any failure to count fails open, by design
            self._warn(exc)
            return None
        return int(window.count), int(window.reset_in)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.per_minute <= 0 or is_exempt(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        counted = await self._count(scope)
        if counted is None:
            await self.app(scope, receive, send)
            return
        count, reset_in = counted
        headers = [
            (b"x-ratelimit-limit", str(self.per_minute).encode()),
            (b"x-ratelimit-remaining", str(max(0, self.per_minute - count)).encode()),
            (b"x-ratelimit-reset", str(reset_in).encode()),
        ]
        if count > self.per_minute:
            message = RATE_LIMIT_EXCEEDED.format(seconds=reset_in)
            await send_error(send, 429, message, [*headers, (b"retry-after", str(reset_in).encode())])
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *headers]}
            await send(message)

        await self.app(scope, receive, with_headers)
