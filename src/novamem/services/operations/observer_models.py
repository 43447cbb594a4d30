"""Wire models of the observer's read route, `GET /v1/context-prefix`."""

from __future__ import annotations

from pydantic import Field

from novamem.services.wire import Out

__all__ = ["ContextPrefix"]


class ContextPrefix(Out):
    """The caller's observer log (404 "observer disabled" when no observer is configured)."""

    prefix: str = Field(description="the observer's log of dated bullets, for a prompt-cacheable prefix")
