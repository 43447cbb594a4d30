"""The request id of the HTTP request being served, carried by a contextvar into every log record."""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar

__all__ = ["REQUEST_ID_HEADER", "current_request_id", "new_request_id", "request_id_var", "sane_request_id"]

REQUEST_ID_HEADER = "x-request-id"
MAX_REQUEST_ID = 128
_SANE = re.compile(rf"[A-Za-z0-9._-]{{1,{MAX_REQUEST_ID}}}")

#: set by the request-context middleware for the lifetime of one request (each request runs in its own task)
request_id_var: ContextVar[str | None] = ContextVar("novamem_request_id", default=None)


def new_request_id() -> str:
    """A fresh id: 16 random bytes as 32 hex characters."""
    return secrets.token_hex(16)


def sane_request_id(value: str | None) -> str | None:
    """`value` when it is safe to echo and log (1-128 of `A-Za-z0-9._-`), else None."""
    if value is None or not _SANE.fullmatch(value):
        return None
    return value


def current_request_id() -> str | None:
    """The id of the request being served in this context, if any."""
    return request_id_var.get()
