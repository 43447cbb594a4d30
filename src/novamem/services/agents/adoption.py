"""The adoption report: does a client see the tools and instructions this server publishes now?

Hosts cache the tool list and the instructions of an MCP server, often until a new session. The report compares
what a client says it sees with what the server would publish to it, and says how to refresh each host.
"""

from __future__ import annotations

from novamem import __version__
from novamem.config import AuthMode
from novamem.domain.scope import Caller
from novamem.services.agents.adoption_models import (
    AdoptionReport,
    AdoptionRequest,
    Features,
    InstructionsCheck,
    McpSurface,
    ProtocolCheck,
    Refresh,
    RefreshRecipes,
    ServerInfo,
    Status,
    ToolSurfaceCheck,
)
from novamem.services.agents.guide import INSTRUCTIONS, INSTRUCTIONS_HASH, REQUIRED_TOOLS, exposed_tools

__all__ = ["AdoptionService", "ADOPTION_SCHEMA"]

ADOPTION_SCHEMA = 1
PREVIEW_CHARS = 240

_REFRESH = RefreshRecipes(
    hermes=Refresh(
        commands=["/reload-mcp", "/reload-skills", "/reset"],
        requires_new_session=True,
        note="Reload the MCP servers and skills, then start a new conversation.",
    ),
    claude_code=Refresh(
        commands=["novamem connect claude-code", "/mcp"],
        requires_new_session=True,
        note="Re-run novamem connect if the URL or token changed, reconnect novamem from /mcp, then start a "
        "new session so the new instructions are read.",
    ),
    claude_desktop=Refresh(
        commands=["novamem connect claude-desktop"],
        requires_new_session=True,
        note="Quit Claude Desktop completely and open it again; it starts MCP servers only at launch.",
    ),
    cursor=Refresh(
        commands=["novamem connect cursor"],
        requires_new_session=True,
        note="Turn the novamem server off and on in Cursor's MCP settings, then open a new chat.",
    ),
    codex=Refresh(
        commands=["novamem connect codex"],
        requires_new_session=True,
        note="Restart Codex; it reads ~/.codex/config.toml only at start-up.",
    ),
    generic=Refresh(
        commands=["novamem connect generic"],
        requires_new_session=True,
        note="Restart the host or reconnect its MCP client, then start a new session.",
    ),
)
# the recipes by the client names hosts pass (the wire names: claudeCode, claudeDesktop, ...)
_RECIPES: dict[str, Refresh] = {
    (info.alias or name): getattr(_REFRESH, name) for name, info in RefreshRecipes.model_fields.items()
}
_FEATURES = Features(
    proactive_context=True,
    durable_capture=True,
    session_recap=True,
    hygiene=True,
    evaluation=True,
    sensitivity=True,
    project_aware_context_packs=True,
    retention_decay=True,
)
_PROTOCOL = ProtocolCheck(
    name="mandatory_protocol",
    ok=True,
    verifiable_at_runtime=False,
    action="The server cannot see whether the agent calls memory_context before answering and "
    "memory_capture after work; keep the server instructions enabled in the host.",
)


class AdoptionService:
    """Compares what a client sees of the MCP surface with what the server publishes to it."""

    def __init__(self, mode: AuthMode) -> None:
        self._mode = mode

    async def report(self, caller: Caller, req: AdoptionRequest) -> AdoptionReport:
        """The tools and instructions the caller should see, each compared with what the client observed."""
        expected = sorted(exposed_tools(self._mode, caller))
        return AdoptionReport(
            server=ServerInfo(name="novamem", version=__version__, adoption_schema=ADOPTION_SCHEMA),
            mcp=McpSurface(
                tool_count=len(expected),
                tools=expected,
                instructions_hash=INSTRUCTIONS_HASH,
                instructions_preview=INSTRUCTIONS[:PREVIEW_CHARS],
                list_changed=False,
            ),
            required_tools=list(REQUIRED_TOOLS),
            features=_FEATURES,
            refresh=_REFRESH,
            requested_client=req.client,
            diagnostics=[
                _tool_surface(expected, req.observed_tools, req.client),
                _instructions(req.observed_instructions_hash, req.client),
                _PROTOCOL,
            ],
        )


def _refresh_hint(client: str | None) -> str:
    return _RECIPES.get(client or "", _REFRESH.generic).note


def _tool_surface(expected: list[str], observed: list[str] | None, client: str | None) -> ToolSurfaceCheck:
    if observed is None:
        return ToolSurfaceCheck(
            name="tool_surface",
            ok=True,
            status="unknown",
            expected_count=len(expected),
            observed_count=None,
            missing_required_tools=[],
            missing_tools=[],
            extra_tools=[],
            action="Pass observedTools (the novamem tool names this client sees) to check them.",
        )
    seen = set(observed)
    missing = [name for name in expected if name not in seen]
    extra = sorted(seen - set(expected))
    stale = bool(missing or extra)
    return ToolSurfaceCheck(
        name="tool_surface",
        ok=not stale,
        status="stale" if stale else "ok",
        expected_count=len(expected),
        observed_count=len(seen),
        missing_required_tools=[name for name in REQUIRED_TOOLS if name not in seen],
        missing_tools=missing,
        extra_tools=extra,
        action=_refresh_hint(client) if stale else "Nothing to do.",
    )


def _instructions(observed: str | None, client: str | None) -> InstructionsCheck:
    status: Status
    if observed is None:
        status, action = "unknown", "Pass observedInstructionsHash (SHA-256 of the instructions you hold) to check it."
    elif observed.lower() == INSTRUCTIONS_HASH:
        status, action = "ok", "Nothing to do."
    else:
        status, action = "stale", _refresh_hint(client)
    return InstructionsCheck(
        name="instructions_hash",
        ok=status != "stale",
        status=status,
        expected=INSTRUCTIONS_HASH,
        observed=observed.lower() if observed else None,
        action=action,
    )
