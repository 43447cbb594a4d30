"""Connect an agent: the ready MCP configuration of each agent host, the same text `novamem connect` writes,
and the slash commands `novamem connect HOST --skills` installs for the hosts that take them.

The server URL is the configured public base URL; the token is a placeholder here (a freshly minted
token's page shows the configurations with the real token, once).
"""

from __future__ import annotations

from starlette.responses import Response

from novamem.services.agents.connect import TOKEN_PLACEHOLDER, AgentHost, host_config, host_configs
from novamem.services.agents.skills import SKILL_HOSTS, host_files
from novamem.web.routing import Screen
from novamem.web.visit import Visit

__all__ = ["CONNECT", "SCREENS"]

CONNECT = "/admin/connect"


def _skill_rows(base_url: str) -> list[tuple[str, str, list[str]]]:
    """(host title, the install command, its slash commands) for each host that takes skills."""
    rows = []
    for host in AgentHost:
        if host in SKILL_HOSTS:
            commands = sorted(
                "/" + path[len("commands/") : -3] for path in host_files(host) if path.startswith("commands/")
            )
            rows.append(
                (host_config(host, base_url).title, host_config(host, base_url).command + " --skills", commands)
            )
    return rows


async def connect_page(visit: Visit) -> Response:
    """Every host's configuration for this server, with a placeholder where the token goes."""
    base_url = visit.container.settings.public_base_url
    return visit.render(
        "connect.html",
        configs=host_configs(base_url),
        base_url=base_url,
        placeholder=TOKEN_PLACEHOLDER,
        skill_rows=_skill_rows(base_url),
    )


# the page shows what a token holder pastes into a host: it stands with the token listing
SCREENS = (Screen(CONNECT, connect_page, ("GET", "/v1/me/tokens")),)
