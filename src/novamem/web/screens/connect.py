"""Connect an agent: the ready MCP configuration of each agent host, the same text `novamem connect` writes.

The server URL is the configured public base URL; the token is a placeholder here (a freshly minted
token's page shows the configurations with the real token, once).
"""

from __future__ import annotations

from starlette.responses import Response

from novamem.services.agents.connect import TOKEN_PLACEHOLDER, host_configs
from novamem.web.routing import Screen
from novamem.web.visit import Visit

__all__ = ["CONNECT", "SCREENS"]

CONNECT = "/admin/connect"


async def connect_page(visit: Visit) -> Response:
    """Every host's configuration for this server, with a placeholder where the token goes."""
    base_url = visit.container.settings.public_base_url
    return visit.render(
        "connect.html", configs=host_configs(base_url), base_url=base_url, placeholder=TOKEN_PLACEHOLDER
    )


# the page shows what a token holder pastes into a host: it stands with the token listing
SCREENS = (Screen(CONNECT, connect_page, ("GET", "/v1/me/tokens")),)
