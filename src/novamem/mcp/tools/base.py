"""What every MCP tool is: its argument and result models, the service call, and the REST route it mirrors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from novamem.container import Container
from novamem.domain.scope import Caller
from novamem.error_messages import ADMIN_ONLY
from novamem.services.agents.guide import ToolDoc, tool_doc
from novamem.services.wire import Wire

__all__ = ["Handler", "NoArgs", "ToolSpec"]


class NoArgs(Wire):
    pass


Handler = Callable[[Container, Caller, Any, str | None], Awaitable[dict[str, Any]]]
"""A tool's body: (container, caller, validated arguments, client address) → the wire JSON of the service's
result model, rendered by `Out.to_wire()` exactly as the backing REST route renders it."""


@dataclass(frozen=True)
class ToolSpec:
    """One MCP tool: its argument and result models, the service call, and the REST route it mirrors.

    The description and annotations come from `novamem.services.agents.guide`, the one source of what agents
    are told.
    """

    name: str
    input_model: type[BaseModel]
    output_model: type[BaseModel]  # the backing REST route's response model
    handler: Handler
    route: tuple[str, str]  # the backing REST route (method, path): its refusals apply to the tool
    needs_account: bool = False
    needs_admin: bool = False
    admin_refusal: str = ADMIN_ONLY  # what a non-admin hears: the backing route's own refusal

    @property
    def doc(self) -> ToolDoc:
        return tool_doc(self.name)
