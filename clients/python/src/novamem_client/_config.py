"""Connection settings: where the server is, how to authenticate, how long to wait."""

from __future__ import annotations

from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

__all__ = ["DEFAULT_TIMEOUT", "ClientConfig", "TokenSource"]

DEFAULT_TIMEOUT = 15.0
"""Seconds a request may take (connect, send and read) before it counts as unavailable."""


@runtime_checkable
class TokenSource(Protocol):
    """Anything that hands out the current bearer token (for example `OBOTokenSource`)."""

    def token(self) -> str:
        """The bearer token to send now; called before every request."""
        ...


class ClientConfig:
    """Validated connection settings. The credential is kept out of `repr()` and `str()`."""

    __slots__ = ("_token", "base_url", "timeout", "token_source")

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        token_source: TokenSource | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("base_url must be an http:// or https:// URL with a host")
        if parts.query or parts.fragment:
            raise ValueError("base_url must not carry a query or fragment")
        if token is not None and token_source is not None:
            raise ValueError("give either token= or token_source=, not both")
        if token is not None and (not token or any(c in token for c in "\r\n")):
            raise ValueError("token must be a non-empty single line")
        if not timeout > 0:
            raise ValueError("timeout must be a positive number of seconds")
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.token_source = token_source
        self.timeout = float(timeout)

    def bearer(self) -> str | None:
        """The token for the next request: the static one, or a fresh one from the token source."""
        if self.token_source is not None:
            return self.token_source.token()
        return self._token

    @property
    def authenticated(self) -> bool:
        """Whether requests carry a credential."""
        return self._token is not None or self.token_source is not None

    def __repr__(self) -> str:
        if self.token_source is not None:
            credential = f"token_source={type(self.token_source).__name__}"
        else:
            credential = "token=<redacted>" if self._token is not None else "token=None"
        return f"ClientConfig(base_url={self.base_url!r}, {credential}, timeout={self.timeout})"

    __str__ = __repr__
