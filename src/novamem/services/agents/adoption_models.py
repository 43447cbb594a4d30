"""Request and response models of the adoption report (`POST /v1/adoption`, `memory_adoption`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from novamem.services.wire import Out, StrictWire

__all__ = [
    "AdoptionReport",
    "AdoptionRequest",
    "Features",
    "InstructionsCheck",
    "McpSurface",
    "ProtocolCheck",
    "Refresh",
    "RefreshRecipes",
    "ServerInfo",
    "Status",
    "ToolSurfaceCheck",
]

ToolName = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Status = Literal["ok", "stale", "unknown"]


class AdoptionRequest(StrictWire):
    client: str | None = Field(
        None, max_length=64, description="the host, e.g. claudeCode, claudeDesktop, cursor, codex, hermes"
    )
    observed_tools: list[ToolName] | None = Field(
        None, max_length=128, description="the novamem tool names this client currently sees"
    )
    observed_instructions_hash: str | None = Field(
        None, pattern=r"^[0-9a-fA-F]{64}$", description="SHA-256 (hex) of the server instructions this client holds"
    )


class ServerInfo(Out):
    name: str
    version: str
    adoption_schema: int


class McpSurface(Out):
    tool_count: int
    tools: list[str]
    instructions_hash: str
    instructions_preview: str
    list_changed: bool


class Features(Out):
    proactive_context: bool
    durable_capture: bool
    session_recap: bool
    hygiene: bool
    evaluation: bool
    sensitivity: bool
    project_aware_context_packs: bool
    retention_decay: bool


class Refresh(Out):
    commands: list[str]
    requires_new_session: bool
    note: str


class RefreshRecipes(Out):
    hermes: Refresh
    claude_code: Refresh
    claude_desktop: Refresh
    cursor: Refresh
    codex: Refresh
    generic: Refresh


class ToolSurfaceCheck(Out):
    name: Literal["tool_surface"]
    ok: bool
    status: Status
    expected_count: int
    observed_count: int | None
    missing_required_tools: list[str]
    missing_tools: list[str]
    extra_tools: list[str]
    action: str


class InstructionsCheck(Out):
    name: Literal["instructions_hash"]
    ok: bool
    status: Status
    expected: str
    observed: str | None
    action: str


class ProtocolCheck(Out):
    name: Literal["mandatory_protocol"]
    ok: bool
    verifiable_at_runtime: bool
    action: str


class AdoptionReport(Out):
    server: ServerInfo
    mcp: McpSurface
    required_tools: list[str]
    features: Features
    refresh: RefreshRecipes
    requested_client: str | None
    diagnostics: list[ToolSurfaceCheck | InstructionsCheck | ProtocolCheck]
