"""MCP configuration of agent hosts: what each host's configuration says for a server URL and an API token.

One source for `novamem connect` (which merges these entries into the host's own file, with backups and
`--dry-run`) and the dashboard's "Connect an agent" page (which shows the same text with copy buttons).
JSON hosts get a `novamem` entry under their own top-level key (`mcpServers` for most, `servers` for GitHub
Copilot in VS Code, `mcp` for OpenCode); those that speak remote HTTP reach `<url>/mcp` with a bearer header,
each in its own dialect (`url`, `serverUrl`, `httpUrl`, a `type` or not); Claude Desktop and Cline run the local
stdio bridge `novamem mcp-stdio`; Codex gets a `[mcp_servers.novamem]` TOML table for the same bridge; `generic`
is a remote-HTTP snippet for any other host. Pure: no files, no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = [
    "HOSTS",
    "MCP_PATH",
    "SERVER_NAME",
    "TOKEN_PLACEHOLDER",
    "AgentHost",
    "HostConfig",
    "codex_table",
    "host_config",
    "host_configs",
    "json_config",
    "mcp_endpoint",
    "server_entry",
    "servers_key",
    "stdio_env",
    "toml_string",
]

SERVER_NAME = "novamem"
MCP_PATH = "/mcp"
# what a configuration shows where the person's own token goes
TOKEN_PLACEHOLDER = "nm_…paste-your-token"


class AgentHost(StrEnum):
    """The agent hosts `novamem connect` knows."""

    CLAUDE_CODE = "claude-code"
    CLAUDE_DESKTOP = "claude-desktop"
    CURSOR = "cursor"
    CODEX = "codex"
    KILO_CODE = "kilo-code"
    ROO_CODE = "roo-code"
    CLINE = "cline"
    VSCODE = "vscode"
    WINDSURF = "windsurf"
    GEMINI_CLI = "gemini-cli"
    OPENCODE = "opencode"
    GENERIC = "generic"


HOSTS: tuple[str, ...] = tuple(host.value for host in AgentHost)

_TITLES = {
    AgentHost.CLAUDE_CODE: "Claude Code",
    AgentHost.CLAUDE_DESKTOP: "Claude Desktop",
    AgentHost.CURSOR: "Cursor",
    AgentHost.CODEX: "Codex",
    AgentHost.KILO_CODE: "Kilo Code",
    AgentHost.ROO_CODE: "Roo Code",
    AgentHost.CLINE: "Cline",
    AgentHost.VSCODE: "GitHub Copilot in VS Code",
    AgentHost.WINDSURF: "Windsurf",
    AgentHost.GEMINI_CLI: "Gemini CLI",
    AgentHost.OPENCODE: "OpenCode",
    AgentHost.GENERIC: "Any other MCP host",
}
_LOCATIONS = {
    AgentHost.CLAUDE_CODE: "~/.claude.json",
    AgentHost.CLAUDE_DESKTOP: "claude_desktop_config.json",
    AgentHost.CURSOR: "~/.cursor/mcp.json",
    AgentHost.CODEX: "~/.codex/config.toml",
    AgentHost.KILO_CODE: ".kilocode/mcp.json (in the project)",
    AgentHost.ROO_CODE: ".roo/mcp.json (in the project)",
    AgentHost.CLINE: "cline_mcp_settings.json",
    AgentHost.VSCODE: ".vscode/mcp.json (in the project)",
    AgentHost.WINDSURF: "~/.codeium/windsurf/mcp_config.json",
    AgentHost.GEMINI_CLI: "~/.gemini/settings.json",
    AgentHost.OPENCODE: "~/.config/opencode/opencode.json",
    AgentHost.GENERIC: "",
}
_BRIDGE = "{} starts the novamem command on your computer, which relays to this server: install novamem there first."
_NOTES = {
    AgentHost.CLAUDE_CODE: "",
    AgentHost.CLAUDE_DESKTOP: "Settings → Developer → Edit Config opens the file. " + _BRIDGE.format("Claude Desktop"),
    AgentHost.CURSOR: "",
    AgentHost.CODEX: _BRIDGE.format("Codex"),
    AgentHost.KILO_CODE: "Run `novamem connect` from the project's root folder.",
    AgentHost.ROO_CODE: "Run `novamem connect` from the project's root folder.",
    AgentHost.CLINE: "Cline's MCP Servers panel → Configure MCP Servers opens the file. " + _BRIDGE.format("Cline"),
    AgentHost.VSCODE: "Run `novamem connect` from the workspace's root folder; Copilot Chat's agent mode uses it.",
    AgentHost.WINDSURF: "Refresh the servers in Cascade's MCP panel after writing it.",
    AgentHost.GEMINI_CLI: "",
    AgentHost.OPENCODE: "",
    AgentHost.GENERIC: "For any host that reaches MCP servers over streamable HTTP with a bearer header.",
}
_STDIO_HOSTS = frozenset({AgentHost.CLAUDE_DESKTOP, AgentHost.CODEX, AgentHost.CLINE})
# the top-level key a JSON host keeps its servers under (every other JSON host: mcpServers)
_SERVERS_KEYS = {AgentHost.VSCODE: "servers", AgentHost.OPENCODE: "mcp"}


@dataclass(frozen=True, slots=True)
class HostConfig:
    """One host's configuration as text, with where it goes and how the host reaches the server."""

    host: AgentHost
    title: str  # the product's name, "Claude Code"
    location: str  # the file the host reads, as people know it ("" for generic hosts)
    note: str  # what else to know to use it ("" when nothing)
    transport: str  # "remote HTTP" or "stdio bridge"
    language: str  # "json" or "toml"
    text: str  # exactly what `novamem connect HOST` writes into a host file that does not exist yet
    command: str  # the `novamem connect` call that writes it (the token comes from NOVAMEM_TOKEN)


def mcp_endpoint(base_url: str) -> str:
    """The MCP endpoint of a server base URL."""
    return base_url.rstrip("/") + MCP_PATH


def _http_entry(base_url: str, token: str, *, typed: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": "http"} if typed else {}
    entry.update({"url": mcp_endpoint(base_url), "headers": {"Authorization": f"Bearer {token}"}})
    return entry


def stdio_env(base_url: str, token: str) -> dict[str, str]:
    """The environment the stdio bridge (`novamem mcp-stdio`) reads its server and token from."""
    return {"NOVAMEM_BASE_URL": base_url.rstrip("/"), "NOVAMEM_TOKEN": token}


def servers_key(host: AgentHost) -> str:
    """The top-level key under which a host's configuration lists its MCP servers."""
    if host is AgentHost.CODEX:
        return "mcp_servers"
    return _SERVERS_KEYS.get(host, "mcpServers")


def server_entry(host: AgentHost, base_url: str, token: str) -> dict[str, Any]:
    """The `novamem` server entry of a host's configuration (the Codex table's keys, for Codex)."""
    if host in _STDIO_HOSTS:
        return {"command": "novamem", "args": ["mcp-stdio"], "env": stdio_env(base_url, token)}
    headers = {"Authorization": f"Bearer {token}"}
    endpoint = mcp_endpoint(base_url)
    if host in (AgentHost.KILO_CODE, AgentHost.ROO_CODE):
        return {"type": "streamable-http", "url": endpoint, "headers": headers}
    if host is AgentHost.WINDSURF:
        return {"serverUrl": endpoint, "headers": headers}
    if host is AgentHost.GEMINI_CLI:
        return {"httpUrl": endpoint, "headers": headers}
    if host is AgentHost.OPENCODE:
        return {"type": "remote", "url": endpoint, "headers": headers, "enabled": True}
    # Claude Code, VS Code and generic hosts need the transport named; Cursor infers it from `url`
    return _http_entry(base_url, token, typed=host is not AgentHost.CURSOR)


def json_config(existing: Mapping[str, Any], entry: Mapping[str, Any], key: str = "mcpServers") -> str:
    """A JSON host's configuration with `<key>.novamem` set to `entry`; every other key is kept."""
    data = dict(existing)
    data[key] = {**data.get(key, {}), SERVER_NAME: dict(entry)}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def toml_string(value: str) -> str:
    """A TOML basic string (JSON string escapes are valid TOML basic-string escapes)."""
    return json.dumps(value, ensure_ascii=False)


def codex_table(base_url: str, token: str) -> list[str]:
    """The `[mcp_servers.novamem]` table of Codex's config.toml, as lines."""
    env = ", ".join(f"{key} = {toml_string(value)}" for key, value in stdio_env(base_url, token).items())
    return [
        f"[mcp_servers.{SERVER_NAME}]\n",
        'command = "novamem"\n',
        'args = ["mcp-stdio"]\n',
        f"env = {{ {env} }}\n",
    ]


def host_config(host: AgentHost, base_url: str, token: str = TOKEN_PLACEHOLDER) -> HostConfig:
    """One host's configuration for a server and a token (a placeholder when the token is not known)."""
    if host is AgentHost.CODEX:
        text, language = "".join(codex_table(base_url, token)), "toml"
    else:
        text, language = json_config({}, server_entry(host, base_url, token), servers_key(host)), "json"
    return HostConfig(
        host=host,
        title=_TITLES[host],
        location=_LOCATIONS[host],
        note=_NOTES[host],
        transport="stdio bridge (novamem mcp-stdio)" if host in _STDIO_HOSTS else "remote HTTP",
        language=language,
        text=text,
        command=f"novamem connect {host.value} --url {base_url.rstrip('/')}",
    )


def host_configs(base_url: str, token: str = TOKEN_PLACEHOLDER) -> tuple[HostConfig, ...]:
    """Every host's configuration, in the order `novamem connect` lists them."""
    return tuple(host_config(host, base_url, token) for host in AgentHost)
