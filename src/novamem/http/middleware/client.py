"""Who sent the request: the one rule for the client address and for "arrived over TLS".

The socket peer is the client, unless the peer is a trusted reverse proxy (`NOVAMEM_TRUSTED_PROXIES`).
Then `X-Forwarded-For` is walked from the right, skipping trusted proxies, and the first address that is
not one is the client. Entries to the left of it were written by whoever the client is and prove nothing,
so a spoofed header changes nothing: from an untrusted peer the header is not read at all, and behind a
trusted proxy the proxy's own (rightmost) entry wins. A malformed entry ends the walk: the last good
address seen (a trusted proxy, or the peer) is the client then.

`ClientAddressMiddleware` resolves both once per request and stores them in the ASGI scope's state
(`scope["state"]["client_ip"]`, `scope["state"]["via_tls"]`). The address has one reader for every door:
`client_ip_from_state` (`services/identity/authn.py`), used by the rate limiter, request logs, REST routes,
MCP tools and the dashboard; the headers middleware reads the TLS flag.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import TypeAlias

from starlette.types import ASGIApp, Receive, Scope, Send

from novamem.services.identity.authn import CLIENT_IP_KEY

__all__ = [
    "VIA_TLS_KEY",
    "ClientAddressMiddleware",
    "Network",
    "arrived_over_tls",
    "client_address",
]

VIA_TLS_KEY = "via_tls"

Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
Address: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address


def _parse(text: str) -> Address | None:
    """An IP address as proxies write it: bare, `[v6]`, `[v6]:port` or `v4:port`; None when malformed."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, networks: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def _header_values(scope: Scope, name: bytes) -> list[str]:
    """Every comma-separated item of every `name` header, in order."""
    items: list[str] = []
    for key, value in scope.get("headers", ()):
        if key == name:
            items.extend(value.decode("latin-1").split(","))
    return items


def _trusted_peer(scope: Scope, networks: Sequence[Network]) -> bool:
    peer = scope.get("client")
    if not peer or not networks:
        return False
    address = _parse(str(peer[0]))
    return address is not None and _trusted(address, networks)


def client_address(scope: Scope, networks: Sequence[Network]) -> str | None:
    """The client's IP address for this request (None when the server does not know the peer)."""
    peer = scope.get("client")
    if not peer:
        return None
    peer_host = str(peer[0])
    if not _trusted_peer(scope, networks):
        return peer_host
    client = peer_host
    for entry in reversed(_header_values(scope, b"x-forwarded-for")):
        address = _parse(entry)
        if address is None:
            break
        client = str(address)
        if not _trusted(address, networks):
            break
    return client


def arrived_over_tls(scope: Scope, networks: Sequence[Network]) -> bool:
    """TLS to this server, or `X-Forwarded-Proto: https` from a trusted proxy (its own, rightmost, value)."""
    if scope.get("scheme") == "https":
        return True
    if not _trusted_peer(scope, networks):
        return False
    values = _header_values(scope, b"x-forwarded-proto")
    return bool(values) and values[-1].strip().lower() == "https"


class ClientAddressMiddleware:
    """Resolves the client address and TLS once, into the scope's state, for everything inside it."""

    def __init__(self, app: ASGIApp, trusted: Sequence[Network] = ()) -> None:
        self.app = app
        self.trusted = list(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            state = scope.setdefault("state", {})
            state[CLIENT_IP_KEY] = client_address(scope, self.trusted)
            state[VIA_TLS_KEY] = arrived_over_tls(scope, self.trusted)
        await self.app(scope, receive, send)
