"""Pure ASGI middleware, outermost: the request id, one "request completed" log line and the server span.

The request id comes from a sane incoming `X-Request-Id` (at most 128 of `A-Za-z0-9._-`) or is made
here; a contextvar carries it into every log record of the request, and it is echoed in the response's
`X-Request-Id`. An exception nothing else handled is logged here once (traceback, request id) and
answered with the contract's 500, so even that response carries the id.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from novamem.error_messages import INTERNAL_ERROR
from novamem.observability import tracing
from novamem.observability.context import REQUEST_ID_HEADER, new_request_id, request_id_var, sane_request_id
from novamem.services.identity.authn import client_ip_from_state

__all__ = ["RequestContextMiddleware"]

log = logging.getLogger("novamem.http")

_HEADER = REQUEST_ID_HEADER.encode()
_INTERNAL_ERROR_BODY = json.dumps({"error": INTERNAL_ERROR}).encode()
CLIENT_CLOSED = 499


@dataclass
class _Exchange:
    request_id: str
    status: int | None = None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _route(scope: Scope) -> str | None:
    """The matched route's whole pattern (`/v1/memories/{id}`), or None when no route matched.

    FastAPI keeps the routes of included routers relative to their router and records the combined
    pattern in its own scope entry; a plain Starlette route carries its whole pattern itself.
    """
    fastapi_scope = scope.get("fastapi")
    if isinstance(fastapi_scope, dict):
        context = fastapi_scope.get("effective_route_context")
        pattern = getattr(getattr(context, "starlette_route", None), "path_format", None) or getattr(
            context, "path_format", None
        )
        if isinstance(pattern, str):
            return pattern
    route = scope.get("route")
    if route is None and scope.get("endpoint") is not None:
        # a plain Starlette route at the top (`/mcp`): FastAPI's router records only its endpoint
        routes = getattr(scope.get("router"), "routes", ())
        route = next((r for r in routes if getattr(r, "endpoint", None) is scope["endpoint"]), None)
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else None


class RequestContextMiddleware:
    """Request id, completion log line and (when tracing is on) the server span of every HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exchange = _Exchange(sane_request_id(_header(scope, _HEADER)) or new_request_id())
        reset = request_id_var.set(exchange.request_id)
        scope.setdefault("state", {})["request_id"] = exchange.request_id
        started = time.perf_counter()
        log.debug("request started", extra={"method": scope["method"], "path": scope["path"]})
        try:
            if tracing.enabled():
                await self._traced(scope, receive, send, exchange)
            else:
                await self._serve(scope, receive, send, exchange)
        finally:
            # also for a request cut short by the client going away (499, as proxies log it)
            log.info(
                "request completed",
                extra={
                    "method": scope["method"],
                    "path": _route(scope) or scope["path"],
                    "status": exchange.status if exchange.status is not None else CLIENT_CLOSED,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "client_ip": client_ip_from_state(scope.get("state") or {}),
                },
            )
            request_id_var.reset(reset)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, exchange: _Exchange) -> None:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.status = int(message["status"])
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != _HEADER]
                headers.append((_HEADER, exchange.request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            # the one place an unexpected error is logged; the client learns nothing about it
            if tracing.enabled():
                trace.get_current_span().record_exception(exc)
            log.exception("unhandled error on %s %s", scope["method"], _route(scope) or scope["path"])
            if exchange.status is None:
                await sending(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(_INTERNAL_ERROR_BODY)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": _INTERNAL_ERROR_BODY})
            else:
                exchange.status = 500  # the response was cut short

    async def _traced(self, scope: Scope, receive: Receive, send: Send, exchange: _Exchange) -> None:
        method = scope["method"]
        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        parent = tracing.extract_context(carrier)
        attributes = {"http.request.method": method, "novamem.request_id": exchange.request_id}
        # named by the route pattern once it is known (never by a raw path with ids in it)
        server = tracing.span(
            method, kind=SpanKind.SERVER, context=parent, attributes=attributes, record_exception=False
        )
        with server as span:
            await self._serve(scope, receive, send, exchange)
            if span is None:
                return
            route = _route(scope)
            if route is not None:
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
            if exchange.status is not None:
                span.set_attribute("http.response.status_code", exchange.status)
                if exchange.status >= 500:
                    span.set_status(StatusCode.ERROR)
