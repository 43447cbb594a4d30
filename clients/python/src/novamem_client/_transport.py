"""One HTTP exchange over the standard library (`http.client`), with network failures translated.

A new connection per request keeps the client thread-safe and free of pooled state; the async client
runs this same function in a worker thread.
"""

from __future__ import annotations

import contextlib
import http.client
import ssl
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ._errors import NovamemUnavailable

__all__ = ["HTTPRequest", "HTTPResponse", "send"]

_MAX_BODY = 64 * 1024 * 1024  # an answer larger than this is not novamem's


@dataclass(frozen=True)
class HTTPRequest:
    """What goes on the wire. `headers` may hold the credential, so they never appear in a repr."""

    method: str
    url: str
    body: bytes | None
    headers: Mapping[str, str] = field(repr=False)
    timeout: float


@dataclass(frozen=True)
class HTTPResponse:
    """A status, the response headers (lower-cased names) and the raw body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


@contextlib.contextmanager
def _network_errors(method: str, path: str) -> Iterator[None]:
    """Translate every way of not getting an answer into `NovamemUnavailable`, chaining the original."""
    context: dict[str, Any] = {"method": method, "path": path}
    try:
        yield
    except TimeoutError as exc:
        raise NovamemUnavailable("timed out waiting for the server", **context) from exc
    except ConnectionRefusedError as exc:
        raise NovamemUnavailable("connection refused", **context) from exc
    except ssl.SSLError as exc:
        raise NovamemUnavailable(f"TLS failure: {exc.reason or type(exc).__name__}", **context) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise NovamemUnavailable(f"could not reach the server ({type(exc).__name__})", **context) from exc


def send(request: HTTPRequest) -> HTTPResponse:
    """Perform one request; raises `NovamemUnavailable` when no complete answer arrives in time."""
    parts = urlsplit(request.url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(parts.hostname or "", parts.port, timeout=request.timeout)
    with _network_errors(request.method, parts.path):
        try:
            connection.request(request.method, target, body=request.body, headers=dict(request.headers))
            response = connection.getresponse()
            body = response.read(_MAX_BODY + 1)
            if len(body) > _MAX_BODY:
                raise NovamemUnavailable("answer too large", method=request.method, path=parts.path)
            headers = {name.lower(): value for name, value in response.getheaders()}
            return HTTPResponse(response.status, headers, body)
        finally:
            connection.close()
