"""MCP configuration of agent hosts: what each host's configuration says for a server URL and an API token.

One source for `novamem connect` (which merges these entries into the host's own file, with backups and
`--dry-run`) and the dashboard's "Connect an agent" page (which shows the same text with copy buttons).
JSON hosts get a `novamem` entry under their own top-level key (`mcpServers` for most, `servers` for GitHub
Copilot in VS Code, `mcp` for OpenCode); those that speak remote HTTP reach `<url>/mcp` with a bearer header,
each in its own dialect (`url`, `serverUrl`, `httpUrl`, a `type` or not); Goose (`extensions.novamem`, a
`streamable_http` extension) and Continue (an item of the `mcpServers` list, `streamable-http`) keep YAML files;
Claude Desktop runs the local stdio bridge `novamem mcp-stdio`; Codex gets a `[mcp_servers.novamem]` TOML table
for the same bridge; `generic` is a remote-HTTP snippet for any other host. Pure: no files, no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from novamem.services.agents.yaml_merge import YamlMerge, merge_list_item, merge_mapping_entry

__all__ = [
    "HOSTS",
    "MCP_PATH",
    "SERVER_NAME",
    "TOKEN_PLACEHOLDER",
    "YAML_HOSTS",
    "AgentHost",
    "HostConfig",
    "codex_table",
    "host_config",
    "host_configs",
    "host_json_config",
    "json_config",
    "mcp_endpoint",
    "server_entry",
    "servers_key",
    "stdio_env",
    "toml_string",
    "yaml_config",
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
    GOOSE = "goose"
    CONTINUE = "continue"
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
    AgentHost.GOOSE: "Goose",
    AgentHost.CONTINUE: "Continue",
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
    AgentHost.GOOSE: "~/.config/goose/config.yaml",
    AgentHost.CONTINUE: "~/.continue/config.yaml",
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
    AgentHost.CLINE: "Cline's MCP Servers panel → Configure MCP Servers opens the file.",
    AgentHost.VSCODE: "Run `novamem connect` from the workspace's root folder; Copilot Chat's agent mode uses it.",
    AgentHost.WINDSURF: "Refresh the servers in Cascade's MCP panel after writing it.",
    AgentHost.GEMINI_CLI: "",
    AgentHost.OPENCODE: "OpenCode 2 still reads this form; `opencode mcp list` shows the server.",
    AgentHost.GOOSE: "Merged under `extensions` as a remote extension; your comments and other extensions are kept.",
    AgentHost.CONTINUE: "Merged into the `mcpServers` list; MCP tools work in Continue's agent mode.",
    AgentHost.GENERIC: "For any host that reaches MCP servers over streamable HTTP with a bearer header.",
}
_STDIO_HOSTS = frozenset({AgentHost.CLAUDE_DESKTOP, AgentHost.CODEX})
YAML_HOSTS = frozenset({AgentHost.GOOSE, AgentHost.CONTINUE})
# the top-level key a host keeps its servers under (every other host: mcpServers)
_SERVERS_KEYS = {AgentHost.VSCODE: "servers", AgentHost.OPENCODE: "mcp", AgentHost.GOOSE: "extensions"}
# Goose's own default for an extension's timeout, in seconds
GOOSE_TIMEOUT = 300
# the header keys Continue requires of a config.yaml it reads (what its own default file starts with)
CONTINUE_NEW_FILE = {"name": "Local Config", "version": "1.0.0", "schema": "v1"}


@dataclass(frozen=True, slots=True)
class HostConfig:
    """One host's configuration as text, with where it goes and how the host reaches the server."""

    host: AgentHost
    title: str  # the product's name, "Claude Code"
    location: str  # the file the host reads, as people know it ("" for generic hosts)
    note: str  # what else to know to use it ("" when nothing)
    transport: str  # "remote HTTP" or "stdio bridge"
    language: str  # "json", "toml" or "yaml"
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
    if host is AgentHost.CLINE:
        # without `type` Cline takes a `url` for the old SSE transport
        return {"type": "streamableHttp", "url": endpoint, "headers": headers}
    if host is AgentHost.GOOSE:
        # Goose's extension entry: `enabled` beside the flattened streamable_http extension config
        return {
            "enabled": True,
            "type": "streamable_http",
            "name": SERVER_NAME,
            "description": "novamem long-term memory",
            "uri": endpoint,
            "headers": headers,
            "timeout": GOOSE_TIMEOUT,
        }
    if host is AgentHost.CONTINUE:
        return {"name": SERVER_NAME, "type": "streamable-http", "url": endpoint, "requestOptions": {"headers": headers}}
    # Claude Code, VS Code and generic hosts need the transport named; Cursor infers it from `url`
    return _http_entry(base_url, token, typed=host is not AgentHost.CURSOR)


def json_config(existing: Mapping[str, Any], entry: Mapping[str, Any], key: str = "mcpServers") -> str:
    """A JSON host's configuration with `<key>.novamem` set to `entry`; every other key is kept."""
    data = dict(existing)
    data[key] = {**data.get(key, {}), SERVER_NAME: dict(entry)}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def host_json_config(host: AgentHost, existing: Mapping[str, Any], base_url: str, token: str) -> str:
    """A JSON host's configuration with our entry merged into `existing`.

    An OpenCode file already in OpenCode 2's native form (`mcp.servers`) gets the entry there, without the
    version 1 `enabled` flag (version 2 servers connect unless `disabled`); otherwise `<servers key>.novamem`."""
    entry = server_entry(host, base_url, token)
    mcp = existing.get("mcp")
    servers = mcp.get("servers") if isinstance(mcp, dict) else None
    # (a version 1 server that happens to be named "servers" has its own `type`)
    if host is AgentHost.OPENCODE and isinstance(mcp, dict) and isinstance(servers, dict) and "type" not in servers:
        native = {key: value for key, value in entry.items() if key != "enabled"}
        data = {**existing, "mcp": {**mcp, "servers": {**servers, SERVER_NAME: native}}}
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return json_config(existing, entry, servers_key(host))


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


def yaml_config(host: AgentHost, existing: str, base_url: str, token: str) -> YamlMerge:
    """A YAML host's configuration text (Goose, Continue) with our entry merged into `existing`."""
    entry = server_entry(host, base_url, token)
    if host is AgentHost.GOOSE:
        return merge_mapping_entry(existing, servers_key(host), SERVER_NAME, entry)
    return merge_list_item(existing, servers_key(host), SERVER_NAME, entry, new_file=CONTINUE_NEW_FILE)


def host_config(host: AgentHost, base_url: str, token: str = TOKEN_PLACEHOLDER) -> HostConfig:
    """One host's configuration for a server and a token (a placeholder when the token is not known)."""
    if host is AgentHost.CODEX:
        text, language = "".join(codex_table(base_url, token)), "toml"
    elif host in YAML_HOSTS:
        text, language = yaml_config(host, "", base_url, token).text, "yaml"
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
