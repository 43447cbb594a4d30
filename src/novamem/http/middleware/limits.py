"""Request size limits, answered with the contract's error envelope before any route runs.

| Limit | Answer |
|---|---|
| request target (path + query) over 2048 bytes | 414 `{"error":"request URI too long"}` |
| one header (name + value) over 8 KiB, or all headers over 16 KiB | 431 `{"error":"request headers too large"}` |
| body over 2 MiB (announced by Content-Length or streamed) | 413 `{"error":"request body is too large"}` |
| JSON body nested deeper than 32 arrays/objects | 400 `{"error":"JSON nesting too deep"}` |

They hold for every route, `/mcp` included (its 2 MB body limit is this one), and the answers are the
same there.

The depth is measured without parsing (string contents skipped, brackets counted with numpy), so a
100 000-deep `[[[[...` costs milliseconds and can never reach a recursive parser. Bodies count as JSON when
they declare a JSON content type or none (FastAPI parses both as JSON). The uvicorn in front of this
refuses a request head it cannot buffer (`UVICORN_MAX_HEAD_BYTES`) with a bare 400 before we see it.
"""

from __future__ import annotations

import anyio.to_thread
import numpy as np
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from novamem.error_messages import BODY_TOO_LARGE, HEADERS_TOO_LARGE, JSON_TOO_DEEP, URI_TOO_LONG
from novamem.http.middleware.responses import send_error

__all__ = [
    "DEFAULT_MAX_BODY",
    "MAX_HEADER_BYTES",
    "MAX_HEADERS_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_URI_BYTES",
    "UVICORN_MAX_HEAD_BYTES",
    "RequestLimitsMiddleware",
    "json_depth_exceeds",
]

DEFAULT_MAX_BODY = 2 * 1024 * 1024
MAX_URI_BYTES = 2048
MAX_HEADER_BYTES = 8 * 1024
MAX_HEADERS_BYTES = 16 * 1024
MAX_JSON_DEPTH = 32
# uvicorn (h11) buffers at most this much of an incomplete request head: above our header limits, so
# oversized heads up to it get our 431/414 rather than uvicorn's plain-text 400.
UVICORN_MAX_HEAD_BYTES = 64 * 1024
SCAN_INLINE_BYTES = 64 * 1024  # bigger bodies are scanned on a worker thread

_NOT_STRUCTURAL = bytes(b for b in range(256) if b not in b'"[]{}')
_QUOTE, _OPENS, _CLOSES = ord('"'), (ord("["), ord("{")), (ord("]"), ord("}"))


class _ClientGone(Exception):
    """The client disconnected before sending its whole body."""


def json_depth_exceeds(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether arrays/objects in `body` nest deeper than `limit` (brackets inside strings do not count).

    Vectorised, no parsing: escapes are dropped (`\\\\` first, then `\\"`, left to right as JSON reads
    them), only quotes and brackets are kept, a running count of quotes says which brackets sit inside
    strings, and the running sum of the others is the depth.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # too few brackets to nest that deep: the common case, no scan
    kept = body.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_STRUCTURAL)
    tokens = np.frombuffer(kept, dtype=np.uint8)
    outside = (np.cumsum(tokens == _QUOTE, dtype=np.int64) & 1) == 0
    steps = np.zeros(tokens.size, dtype=np.int32)
    steps[((tokens == _OPENS[0]) | (tokens == _OPENS[1])) & outside] = 1
    steps[((tokens == _CLOSES[0]) | (tokens == _CLOSES[1])) & outside] = -1
    return tokens.size > 0 and int(np.cumsum(steps).max()) > limit


async def _too_deep(body: bytes) -> bool:
    if len(body) <= SCAN_INLINE_BYTES:
        return json_depth_exceeds(body)
    return await anyio.to_thread.run_sync(json_depth_exceeds, body)  # keeps the event loop free


def _uri_bytes(scope: Scope) -> int:
    path = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string", b"")
    return len(path) + (1 + len(query) if query else 0)


def _headers_too_large(scope: Scope) -> bool:
    total = 0
    for name, value in scope.get("headers", ()):
        size = len(name) + len(value)
        if size > MAX_HEADER_BYTES:
            return True
        total += size + 4  # ": " and CRLF, as on the wire
    return total > MAX_HEADERS_BYTES


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            media = bytes(value).split(b";", 1)[0].strip().lower()
            return media.endswith(b"/json") or media.endswith(b"+json")
    return True


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class RequestLimitsMiddleware:
    """URI, header, body and JSON-depth limits; a request over any of them never reaches a route."""

    def __init__(self, app: ASGIApp, max_body: int = DEFAULT_MAX_BODY) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _uri_bytes(scope) > MAX_URI_BYTES:
            await send_error(send, 414, URI_TOO_LONG)
            return
        if _headers_too_large(scope):
            await send_error(send, 431, HEADERS_TOO_LARGE)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_body:
            await send_error(send, 413, BODY_TOO_LARGE)
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        # Read the whole (bounded) body first, so an over-long stream is refused before any handler runs.
        try:
            body = await self._read_body(receive)
        except _ClientGone:
            return
        if body is None:
            await send_error(send, 413, BODY_TOO_LARGE)
            return
        if _is_json(scope) and await _too_deep(body):
            await send_error(send, 400, JSON_TOO_DEEP)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _read_body(self, receive: Receive) -> bytes | None:
        """The whole body, or None once it grows past the limit (nothing more is read then)."""
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                raise _ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)
