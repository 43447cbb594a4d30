"""One operation described as data (`Call`), and the two steps around the network that every client
shares: `prepare` (URL, headers, JSON body) and `finish` (status and body → result or exception).

The sync and async clients differ only in how they wait for `send`; everything else happens here once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote, urlencode

from ._config import ClientConfig
from ._errors import (
    NovamemBadRequest,
    NovamemConflict,
    NovamemError,
    NovamemForbidden,
    NovamemNotFound,
    NovamemRequestError,
    NovamemUnauthorized,
    NovamemUnavailable,
)
from ._transport import HTTPRequest, HTTPResponse
from ._version import __version__
from ._wire import MalformedAnswer, decode

__all__ = ["Call", "field_of", "finish", "path", "prepare", "result"]

T = TypeVar("T")

USER_AGENT = f"novamem-client-python/{__version__}"
_BY_STATUS: dict[int, type[NovamemError]] = {
    400: NovamemBadRequest,
    401: NovamemUnauthorized,
    403: NovamemForbidden,
    404: NovamemNotFound,
    409: NovamemConflict,
}


@dataclass(frozen=True)
class Call(Generic[T]):
    """A request and how to read its answer.

    `parse` turns the decoded JSON (None for an empty answer) into the result. `tolerate` lists non-2xx
    statuses whose body is still a result when it is not an error envelope (a deep-health report with 503,
    an import where every entry failed). `degraded` says whether an answer is "degraded with no results",
    which is reported as unavailable, never as "nothing stored".
    """

    method: str
    path: str
    parse: Callable[[Any], T]
    body: Mapping[str, Any] | None = None
    query: Mapping[str, str | int | bool | None] = field(default_factory=dict)
    tolerate: frozenset[int] = frozenset()
    degraded: Callable[[Any], bool] | None = None


def path(template: str, *segments: str) -> str:
    """A route path with each `{}` filled by a percent-encoded segment."""
    return template.format(*(quote(s, safe="") for s in segments))


def result(tp: type[T]) -> Callable[[Any], T]:
    """A parser of the whole answer as `tp`."""
    return lambda data: decode(tp, data)


def field_of(key: str, tp: Any) -> Callable[[Any], Any]:
    """A parser of one member of the answer (`{"tokens": [...]}` → the list)."""
    return lambda data: decode(tp, data[key] if isinstance(data, Mapping) and key in data else None)


def prepare(config: ClientConfig, call: Call[Any], bearer: str | None) -> HTTPRequest:
    """The HTTP request for a call under a configuration, authenticated with `bearer` if given."""
    query = {k: _query_value(v) for k, v in call.query.items() if v is not None}
    url = config.base_url + call.path + (f"?{urlencode(query)}" if query else "")
    headers = {"accept": "application/json", "user-agent": USER_AGENT}
    if bearer is not None:
        headers["authorization"] = f"Bearer {bearer}"
    body = None
    if call.body is not None:
        body = json.dumps(call.body, separators=(",", ":")).encode()
        headers["content-type"] = "application/json"
    return HTTPRequest(call.method, url, body, headers, config.timeout)


def finish(call: Call[T], response: HTTPResponse, secret: str | None = None) -> T:
    """The call's result, or the exception its answer means. `secret` is scrubbed from every message."""
    context: dict[str, Any] = {"method": call.method, "path": call.path}
    status = response.status
    if status == 204 or (200 <= status < 300 and not response.body):
        return _parse(call, None, context)
    data, readable = _json(response.body)
    envelope = isinstance(data, Mapping) and "error" in data
    if 200 <= status < 300 or (status in call.tolerate and readable and not envelope):
        if not readable:
            raise NovamemUnavailable("the server's answer is not JSON", status=status, **context)
        if call.degraded is not None and call.degraded(data):
            raise NovamemUnavailable("search degraded and found nothing", status=status, **context)
        return _parse(call, data, context)
    message = _redact(_message(data, status), secret)
    if status == 429:
        raise NovamemUnavailable(message, status=status, retry_after=_retry_after(response, data), **context)
    if status >= 500 or status < 400:
        raise NovamemUnavailable(message, status=status, **context)
    code = data.get("code") if isinstance(data, Mapping) and isinstance(data.get("code"), str) else None
    if status == 400:
        issues = data.get("issues") if isinstance(data, Mapping) else None
        raise NovamemBadRequest(
            message, issues=issues if isinstance(issues, list) else None, status=status, code=code, **context
        )
    raise _BY_STATUS.get(status, NovamemRequestError)(message, status=status, code=code, **context)


def _parse(call: Call[T], data: Any, context: dict[str, Any]) -> T:
    try:
        return call.parse(data)
    except MalformedAnswer as exc:
        raise NovamemUnavailable(f"unexpected answer from the server: {exc}", **context) from exc


def _json(body: bytes) -> tuple[Any, bool]:
    try:
        return json.loads(body), True
    except ValueError:
        return None, False


def _message(data: Any, status: int) -> str:
    if isinstance(data, Mapping):
        for key in ("error", "message"):
            if isinstance(data.get(key), str) and data[key]:
                return str(data[key])
    return f"HTTP {status}"


def _retry_after(response: HTTPResponse, data: Any) -> float | None:
    raw = response.headers.get("retry-after") or response.headers.get("x-retry-after")
    if raw is None and isinstance(data, Mapping):
        raw = data.get("retryAfter")
    try:
        return float(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


def _redact(text: str, secret: str | None) -> str:
    return text.replace(secret, "<redacted>") if secret else text


def _query_value(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
