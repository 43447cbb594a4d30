"""Wire models of the observer's read route, `GET /v1/context-prefix` (the observer is not in this version)."""

from __future__ import annotations

from pydantic import Field

from novamem.services.wire import Out

__all__ = ["ContextPrefix"]


class ContextPrefix(Out):
    """The contract's result of `/v1/context-prefix` (this version answers 404: the observer is disabled)."""

    prefix: str = Field(description="the observer's log of dated bullets, for a prompt-cacheable prefix")
