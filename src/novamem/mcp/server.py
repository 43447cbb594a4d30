"""Streamable HTTP MCP endpoint at `/mcp`, built on the official MCP SDK's low-level server.

The HTTP stack in front has already done the shared work, once for every door: the client address
(trusted-proxy rule), the body limit (2 MiB; 413 before this endpoint runs) and authentication with the
REST credentials (cookie, then `nm_` bearer). The results sit in the request scope's state, where this
endpoint and the tool handlers read them (`services/identity/authn.py`); the endpoint only answers
refusals in MCP's shape (origin rule shared with CORS, `services/identity/origins.py`). The session manager runs
stateless with JSON responses: each request is self-contained, so any replica can answer it (no session
ids, no sticky routing).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import mcp_types as types
from mcp.server.caching import CacheHint
from mcp.server.lowlevel import Server
from mcp.server.streamable_http import check_accept_headers
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.exceptions import MCPError
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, KNOWN_PROTOCOL_VERSIONS
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from novamem import __version__
from novamem.config import Settings
from novamem.container import Container
from novamem.domain.policy import route_refusal
from novamem.domain.scope import Caller
from novamem.error_messages import (
    INTERNAL_ERROR,
    INVALID_ARGUMENT,
    MCP_MISSING_SESSION,
    MCP_ORIGIN_NOT_ALLOWED,
    MCP_UNKNOWN_CURSOR,
    MCP_UNKNOWN_SESSION,
    MCP_UNKNOWN_TOOL,
    MCP_UNSUPPORTED_PROTOCOL_VERSION,
    UNAUTHORIZED,
)
from novamem.errors import NovamemError, RateLimited
from novamem.mcp.tools import ADMIN_TOOLS, MEMORY_TOOLS, PROJECT_TOOLS, ToolSpec
from novamem.services.agents.guide import INSTRUCTIONS, TOOL_DOCS, exposed_tools
from novamem.services.identity.authn import authentication_from_state, caller_from_state, client_ip_from_state
from novamem.services.identity.mcp_sessions import McpSessions
from novamem.services.identity.origins import origin_allowed

__all__ = ["McpEdge", "WELL_KNOWN_PATH"]

log = logging.getLogger("novamem.mcp")

WELL_KNOWN_PATH = "/.well-known/oauth-protected-resource"
INVALID_PARAMS = -32602
UNSUPPORTED_VERSION = -32022
MCP_SESSION_ID_HEADER = "mcp-session-id"
# the reference's freshness hint for `server/discover` and `tools/list` results (stateless revision): one hour
CACHE_TTL_MS = 3_600_000


def _caller(request: Request) -> Caller:
    """The caller the HTTP stack authenticated (`_endpoint` lets no request without one reach the SDK)."""
    caller = caller_from_state(request.scope.get("state") or {})
    assert caller is not None, "the /mcp endpoint answers 401 before the SDK runs"
    return caller


def _tool(spec: ToolSpec) -> types.Tool:
    return types.Tool(
        name=spec.name,
        description=spec.doc.description,
        input_schema=spec.input_model.model_json_schema(by_alias=True, mode="validation"),
        output_schema=spec.output_model.model_json_schema(by_alias=True, mode="serialization"),
        annotations=types.ToolAnnotations(
            read_only_hint=spec.doc.read_only,
            destructive_hint=spec.doc.destructive,
            idempotent_hint=spec.doc.idempotent,
            open_world_hint=False,
        ),
    )


def _invalid(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err.get("loc", ())) or "(arguments)"
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(INVALID_ARGUMENT.format(path=path, message=message))
    return "; ".join(parts)


def _error(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=f"error: {message}")], is_error=True)


def _valid_id(value: object) -> bool:
    """JSON-RPC ids are strings or integers; absent (None) marks a notification."""
    return value is None or isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _rpc_error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


def _unknown_session() -> JSONResponse:
    """The reference's answer to an unknown, expired, closed or foreign `Mcp-Session-Id` (any method):
    a plain 404 error envelope, not a JSON-RPC body, so clients open a new session."""
    return JSONResponse({"error": MCP_UNKNOWN_SESSION}, status_code=404)


def _replayed(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the already-read body over once, then waits for the disconnect as usual."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _with_session_header(send: Send, session_id: str) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != MCP_SESSION_ID_HEADER.encode()]
            headers.append((MCP_SESSION_ID_HEADER.encode(), session_id.encode()))
            message = {**message, "headers": headers}
        await send(message)

    return sending


class _Asgi:
    """A raw ASGI endpoint (Starlette treats plain functions and methods as request handlers)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


class McpEdge:
    """The `/mcp` route, the RFC 9728 discovery route and the SDK session manager's lifetime."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        order = {doc.name: i for i, doc in enumerate(TOOL_DOCS)}
        specs = sorted(
            MEMORY_TOOLS + (PROJECT_TOOLS + ADMIN_TOOLS if settings.auth_mode.has_accounts else ()),
            key=lambda s: order[s.name],
        )
        self._specs = {spec.name: spec for spec in specs}
        self._tools = {spec.name: _tool(spec) for spec in specs}
        self._mode = settings.auth_mode
        self._origins = frozenset(settings.cors_origin_list)
        self._server: Server[Any] = Server(
            "novamem",
            version=__version__,
            instructions=INSTRUCTIONS,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
            get_tool_input_schema=self._input_schema,
            # discovery is the same for every caller; the tool list depends on the caller's role
            cache_hints={
                "server/discover": CacheHint(ttl_ms=CACHE_TTL_MS, scope="public"),
                "tools/list": CacheHint(ttl_ms=CACHE_TTL_MS, scope="private"),
            },
        )
        self._manager: StreamableHTTPSessionManager | None = None
        self._stopping = anyio.Event()

    @property
    def tool_names(self) -> list[str]:
        return list(self._specs)

    @asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        # stateless + JSON: every POST is self-contained and answered with one JSON body; a manager runs
        # once, so each application lifespan gets its own
        self._manager = StreamableHTTPSessionManager(app=self._server, json_response=True, stateless=True)
        self._stopping = anyio.Event()
        try:
            async with self._manager.run():
                try:
                    yield
                finally:
                    self._stopping.set()  # ends open keep-alive streams
        finally:
            self._manager = None

    def routes(self) -> list[Route]:
        return [
            Route(
                "/mcp",
                endpoint=_Asgi(self._endpoint),
                methods=["GET", "POST", "DELETE", "PUT", "PATCH"],
                include_in_schema=False,
            ),
            Route(WELL_KNOWN_PATH, endpoint=self._resource_metadata, methods=["GET"], include_in_schema=False),
        ]

    # ---- HTTP ---------------------------------------------------------------------------------------

    async def _resource_metadata(self, request: Request) -> JSONResponse:
        base = self._settings.public_base_url
        body = {
            "resource": base,
            "bearer_methods_supported": ["header"],
            "resource_name": "novamem",
            "resource_documentation": f"{base}/api-docs",
        }
        return JSONResponse(body, headers={"Cache-Control": "public, max-age=3600"})

    async def _endpoint(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        origin = request.headers.get("origin")
        if origin is not None and not origin_allowed(origin, self._origins):
            await _rpc_error(403, -32000, MCP_ORIGIN_NOT_ALLOWED.format(origin=origin))(scope, receive, send)
            return
        container: Container = request.state.container
        authentication = authentication_from_state(scope.get("state") or {})
        if authentication.failure is not None:
            raise authentication.failure  # the credential could not be checked: the app's error answer
        if authentication.refusal is not None:
            await _rpc_error(403, -32000, authentication.refusal)(scope, receive, send)
            return
        caller = authentication.caller
        if caller is None:
            metadata = f"{self._settings.public_base_url}{WELL_KNOWN_PATH}"
            headers = {"WWW-Authenticate": f'Bearer resource_metadata="{metadata}"'}
            await JSONResponse({"error": UNAUTHORIZED}, status_code=401, headers=headers)(scope, receive, send)
            return
        version = request.headers.get(MCP_PROTOCOL_VERSION_HEADER)
        if version is not None and version not in KNOWN_PROTOCOL_VERSIONS:
            error = {
                "code": UNSUPPORTED_VERSION,
                "message": MCP_UNSUPPORTED_PROTOCOL_VERSION,
                "data": {"supported": list(KNOWN_PROTOCOL_VERSIONS), "requested": version},
            }
            await JSONResponse({"jsonrpc": "2.0", "id": None, "error": error}, status_code=400)(scope, receive, send)
            return
        modern = version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS
        if request.method == "GET" and not modern:
            await self._keep_alive(request, caller, send)
            return
        if request.method == "DELETE" and not modern:
            await self._close(request, caller, send)
            return
        if request.method != "POST":
            # the stateless protocol revision has no GET stream and no session to delete
            await _rpc_error(405, -32000, "Method Not Allowed", {"Allow": "POST"})(scope, receive, send)
            return
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            message = "Unsupported Media Type: Content-Type must be application/json"
            await _rpc_error(415, -32000, message)(scope, receive, send)
            return
        body = await request.body()  # already read and capped by the request-limits middleware
        replay = _replayed(body, receive)
        if modern:
            # the stateless revision: self-contained requests, no session; the SDK validates envelope and headers
            await self._sdk(scope, replay, send)
            return
        try:
            message = json.loads(body)
        except ValueError:
            await _rpc_error(400, -32700, "Parse error: the body is not valid JSON")(scope, receive, send)
            return
        if isinstance(message, list):
            await _rpc_error(400, -32600, "Invalid Request: JSON-RPC batches are not supported")(scope, receive, send)
            return
        if isinstance(message, dict) and not _valid_id(message.get("id")):
            await _rpc_error(400, -32600, "Invalid Request: id must be a string or an integer")(scope, receive, send)
            return
        sessions = container.mcp_sessions
        session_id = request.headers.get(MCP_SESSION_ID_HEADER)
        if session_id is None:
            if not (isinstance(message, dict) and message.get("method") == "initialize"):
                await _rpc_error(400, -32000, MCP_MISSING_SESSION)(scope, receive, send)
                return
            accepts_json, _ = check_accept_headers(request)
            if not accepts_json:
                message = "Not Acceptable: the client must accept application/json"
                await _rpc_error(406, -32000, message)(scope, receive, send)
                return
            try:
                session_id = await sessions.open(caller)
            except RateLimited as exc:
                headers = {"Retry-After": str(exc.retry_after)}
                await JSONResponse({"error": exc.message}, status_code=429, headers=headers)(scope, receive, send)
                return
            status = await self._sdk(scope, replay, _with_session_header(send, session_id))
            if status != 200:
                await sessions.close(caller, session_id)
            return
        if not await sessions.owned(caller, session_id):
            await _unknown_session()(scope, receive, send)
            return
        await self._sdk(scope, replay, _with_session_header(send, session_id))

    async def _sdk(self, scope: Scope, receive: Receive, send: Send) -> int | None:
        """Hand the request to the SDK's stateless transport; returns the response status it sent."""
        assert self._manager is not None, "the MCP session manager runs in the application lifespan"
        status: int | None = None

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        await self._manager.handle_request(scope, receive, watch)
        return status

    async def _keep_alive(self, request: Request, caller: Caller, send: Send) -> None:
        """`GET /mcp`: a stream of SSE comments that keeps proxies from closing an idle session.

        The server never pushes messages on it. The stream ends when the client goes away, when the session is
        closed (on any replica) or when the server shuts down.
        """
        scope, receive = request.scope, request.receive
        sessions: McpSessions = request.state.container.mcp_sessions
        session_id = request.headers.get(MCP_SESSION_ID_HEADER)
        if session_id is None:
            await _rpc_error(400, -32000, MCP_MISSING_SESSION)(scope, receive, send)
            return
        if "text/event-stream" not in request.headers.get("accept", ""):
            message = "Not Acceptable: the client must accept text/event-stream"
            await _rpc_error(406, -32000, message)(scope, receive, send)
            return
        if not await sessions.owned(caller, session_id):
            await _unknown_session()(scope, receive, send)
            return
        headers = [
            (b"content-type", b"text/event-stream"),
            (b"cache-control", b"no-cache, no-transform"),
            (b"x-accel-buffering", b"no"),
            (MCP_SESSION_ID_HEADER.encode(), session_id.encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b": stream open\n\n", "more_body": True})
        interval = self._settings.sse_keepalive_ms / 1000
        async with anyio.create_task_group() as group:

            async def until_disconnect() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()

            group.start_soon(until_disconnect)
            try:
                while True:
                    with anyio.move_on_after(interval):
                        await self._stopping.wait()
                    if self._stopping.is_set() or not await sessions.owned(caller, session_id):
                        break
                    await send({"type": "http.response.body", "body": b": ping\n\n", "more_body": True})
            except (OSError, NovamemError):
                pass  # the client is gone or the database is unreachable: end the stream
            group.cancel_scope.cancel()
        with anyio.CancelScope(shield=True), contextlib.suppress(OSError):
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _close(self, request: Request, caller: Caller, send: Send) -> None:
        """`DELETE /mcp`: end a session for every replica."""
        scope, receive = request.scope, request.receive
        session_id = request.headers.get(MCP_SESSION_ID_HEADER)
        if session_id is None:
            await _rpc_error(400, -32000, MCP_MISSING_SESSION)(scope, receive, send)
            return
        sessions: McpSessions = request.state.container.mcp_sessions
        if not await sessions.close(caller, session_id):
            await _unknown_session()(scope, receive, send)
            return
        await Response(status_code=204)(scope, receive, send)

    # ---- MCP ----------------------------------------------------------------------------------------

    def _input_schema(self, name: str) -> dict[str, Any] | None:
        spec = self._specs.get(name)
        return None if spec is None else spec.input_model.model_json_schema(by_alias=True)

    async def _list_tools(self, ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        if params is not None and params.cursor is not None:
            raise MCPError(INVALID_PARAMS, MCP_UNKNOWN_CURSOR)  # the whole list is always one page
        caller = _caller(ctx.request)
        return types.ListToolsResult(tools=[self._tools[name] for name in exposed_tools(self._mode, caller)])

    async def _call_tool(self, ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        spec = self._specs.get(params.name)
        if spec is None:
            raise MCPError(INVALID_PARAMS, MCP_UNKNOWN_TOOL.format(name=params.name))
        request: Request = ctx.request
        caller = _caller(request)
        container: Container = request.state.container
        method, path = spec.route
        refusal = route_refusal(caller, method, path)
        if refusal is None and spec.needs_account and not caller.is_user:
            refusal = UNAUTHORIZED
        if refusal is None and spec.needs_admin and not caller.is_admin:
            refusal = spec.admin_refusal
        if refusal is not None:
            return _error(refusal)
        try:
            args = spec.input_model.model_validate_json(json.dumps(params.arguments or {}))
        except ValidationError as exc:
            return _error(_invalid(exc))
        try:
            result = await spec.handler(container, caller, args, client_ip_from_state(request.scope.get("state") or {}))
        except NovamemError as exc:
            # where REST moved the reference's longer wording into `detail`, the tools keep it (reference 4.5)
            return _error(exc.detail or exc.message)
        except Exception:
            log.exception("MCP tool %s failed", spec.name)
            return _error(INTERNAL_ERROR)
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=json.dumps(result, default=str))],
            structured_content=result,
        )
