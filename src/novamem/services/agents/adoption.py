"""The adoption report: does a client see the tools and instructions this server publishes now?

Hosts cache the tool list and the instructions of an MCP server, often until a new session. The report compares
what a client says it sees with what the server would publish to it, and says how to refresh each host.
"""

from __future__ import annotations

from typing import Any

from novamem import __version__
from novamem.config import AuthMode
from novamem.domain.scope import Caller
from novamem.services.agents.adoption_models import AdoptionRequest
from novamem.services.agents.guide import INSTRUCTIONS, INSTRUCTIONS_HASH, REQUIRED_TOOLS, exposed_tools

__all__ = ["AdoptionService", "ADOPTION_SCHEMA"]

ADOPTION_SCHEMA = 1
PREVIEW_CHARS = 240

_REFRESH: dict[str, dict[str, Any]] = {
    "hermes": {
        "commands": ["/reload-mcp", "/reload-skills", "/reset"],
        "requiresNewSession": True,
        "note": "Reload the MCP servers and skills, then start a new conversation.",
    },
    "claudeCode": {
        "commands": ["novamem connect claude-code", "/mcp"],
        "requiresNewSession": True,
        "note": "Re-run novamem connect if the URL or token changed, reconnect novamem from /mcp, then start a "
        "new session so the new instructions are read.",
    },
    "claudeDesktop": {
        "commands": ["novamem connect claude-desktop"],
        "requiresNewSession": True,
        "note": "Quit Claude Desktop completely and open it again; it starts MCP servers only at launch.",
    },
    "cursor": {
        "commands": ["novamem connect cursor"],
        "requiresNewSession": True,
        "note": "Turn the novamem server off and on in Cursor's MCP settings, then open a new chat.",
    },
    "codex": {
        "commands": ["novamem connect codex"],
        "requiresNewSession": True,
        "note": "Restart Codex; it reads ~/.codex/config.toml only at start-up.",
    },
    "generic": {
        "commands": ["novamem connect generic"],
        "requiresNewSession": True,
        "note": "Restart the host or reconnect its MCP client, then start a new session.",
    },
}


class AdoptionService:
    def __init__(self, mode: AuthMode) -> None:
        self._mode = mode

    async def report(self, caller: Caller, req: AdoptionRequest) -> dict[str, Any]:
        expected = sorted(exposed_tools(self._mode, caller))
        return {
            "server": {"name": "novamem", "version": __version__, "adoptionSchema": ADOPTION_SCHEMA},
            "mcp": {
                "toolCount": len(expected),
                "tools": expected,
                "instructionsHash": INSTRUCTIONS_HASH,
                "instructionsPreview": INSTRUCTIONS[:PREVIEW_CHARS],
                "listChanged": False,
            },
            "requiredTools": list(REQUIRED_TOOLS),
            "features": {
                "proactiveContext": True,
                "durableCapture": True,
                "sessionRecap": True,
                "hygiene": True,
                "evaluation": True,
                "sensitivity": True,
                "projectAwareContextPacks": True,
                "retentionDecay": True,
            },
            "refresh": _REFRESH,
            "requestedClient": req.client,
            "diagnostics": [
                _tool_surface(expected, req.observed_tools, req.client),
                _instructions(req.observed_instructions_hash, req.client),
                {
                    "name": "mandatory_protocol",
                    "ok": True,
                    "verifiableAtRuntime": False,
                    "action": "The server cannot see whether the agent calls memory_context before answering and "
                    "memory_capture after work; keep the server instructions enabled in the host.",
                },
            ],
        }


def _refresh_hint(client: str | None) -> str:
    recipe = _REFRESH.get(client or "", _REFRESH["generic"])
    return str(recipe["note"])


def _tool_surface(expected: list[str], observed: list[str] | None, client: str | None) -> dict[str, Any]:
    if observed is None:
        return {
            "name": "tool_surface",
            "ok": True,
            "status": "unknown",
            "expectedCount": len(expected),
            "observedCount": None,
            "missingRequiredTools": [],
            "missingTools": [],
            "extraTools": [],
            "action": "Pass observedTools (the novamem tool names this client sees) to check them.",
        }
    seen = set(observed)
    missing = [name for name in expected if name not in seen]
    extra = sorted(seen - set(expected))
    stale = bool(missing or extra)
    return {
        "name": "tool_surface",
        "ok": not stale,
        "status": "stale" if stale else "ok",
        "expectedCount": len(expected),
        "observedCount": len(seen),
        "missingRequiredTools": [name for name in REQUIRED_TOOLS if name not in seen],
        "missingTools": missing,
        "extraTools": extra,
        "action": _refresh_hint(client) if stale else "Nothing to do.",
    }


def _instructions(observed: str | None, client: str | None) -> dict[str, Any]:
    if observed is None:
        status, action = "unknown", "Pass observedInstructionsHash (SHA-256 of the instructions you hold) to check it."
    elif observed.lower() == INSTRUCTIONS_HASH:
        status, action = "ok", "Nothing to do."
    else:
        status, action = "stale", _refresh_hint(client)
    return {
        "name": "instructions_hash",
        "ok": status != "stale",
        "status": status,
        "expected": INSTRUCTIONS_HASH,
        "observed": observed.lower() if observed else None,
        "action": action,
    }
