"""Whole responses sent straight from middleware, before any route runs."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from starlette.types import Send

__all__ = ["Headers", "send_error", "send_response"]

Headers = Iterable[tuple[bytes, bytes]]


async def send_response(
    send: Send, status: int, body: bytes, content_type: bytes | None, headers: Headers = ()
) -> None:
    raw = [] if status in (204, 304) else [(b"content-length", str(len(body)).encode())]
    if content_type is not None:
        raw.insert(0, (b"content-type", content_type))
    await send({"type": "http.response.start", "status": status, "headers": [*raw, *headers]})
    await send({"type": "http.response.body", "body": body})


async def send_error(send: Send, status: int, message: str, headers: Headers = (), **extra: Any) -> None:
    """The contract's error envelope `{"error": message}`."""
    body = json.dumps({"error": message, **extra}, separators=(",", ":")).encode()
    await send_response(send, status, body, b"application/json", headers)
