"""Streamable HTTP MCP endpoint at `/mcp`, built on the official MCP SDK's low-level server.

Every HTTP request is authenticated here with the REST credentials (cookie, then `nm_` bearer) before the
SDK sees it; the Caller travels in the request scope's state to the tool handlers. The session manager
runs stateless with JSON responses: each request is self-contained, so any replica can answer it (no
session ids, no sticky routing).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from novamem import __version__
from novamem.config import Settings
from novamem.container import Container
from novamem.domain.policy import route_refusal
from novamem.domain.scope import Caller
from novamem.errors import NovamemError
from novamem.mcp.tools import INSTRUCTIONS, MEMORY_TOOLS, PROJECT_TOOLS, ToolSpec

__all__ = ["McpEdge", "WELL_KNOWN_PATH"]

log = logging.getLogger("novamem.mcp")

WELL_KNOWN_PATH = "/.well-known/oauth-protected-resource"
_CALLER = "novamem_caller"
INVALID_PARAMS = -32602


def _tool(spec: ToolSpec) -> types.Tool:
    return types.Tool(
        name=spec.name,
        description=spec.description,
        input_schema=spec.input_model.model_json_schema(by_alias=True, mode="validation"),
        output_schema=spec.output_model.model_json_schema(by_alias=True, mode="serialization"),
        annotations=types.ToolAnnotations(
            read_only_hint=spec.read_only,
            destructive_hint=spec.destructive,
            idempotent_hint=spec.idempotent,
            open_world_hint=False,
        ),
    )


def _invalid(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err.get("loc", ())) or "(arguments)"
        parts.append(f"invalid argument '{path}': {str(err.get('msg', 'invalid')).removeprefix('Value error, ')}")
    return "; ".join(parts)


def _error(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=f"error: {message}")], is_error=True)


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
        specs = MEMORY_TOOLS + (PROJECT_TOOLS if settings.auth_mode.has_accounts else ())
        self._specs = {spec.name: spec for spec in specs}
        self._tools = [_tool(spec) for spec in specs]
        self._server: Server[Any] = Server(
            "novamem",
            version=__version__,
            instructions=INSTRUCTIONS,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
            get_tool_input_schema=self._input_schema,
        )
        self._manager: StreamableHTTPSessionManager | None = None

    @property
    def tool_names(self) -> list[str]:
        return list(self._specs)

    @asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        # stateless + JSON: every POST is self-contained and answered with one JSON body; a manager runs
        # once, so each application lifespan gets its own
        self._manager = StreamableHTTPSessionManager(app=self._server, json_response=True, stateless=True)
        try:
            async with self._manager.run():
                yield
        finally:
            self._manager = None

    def routes(self) -> list[Route]:
        return [
            Route("/mcp", endpoint=_Asgi(self._endpoint), methods=["GET", "POST", "DELETE"], include_in_schema=False),
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
        allowed = self._settings.cors_origin_list
        if origin is not None and "*" not in allowed and origin.rstrip("/") not in allowed:
            body = {
                "jsonrpc": "2.0",
                "id": None,
                "error": {"code": -32000, "message": f"Forbidden: origin '{origin}' not in allowlist"},
            }
            await JSONResponse(body, status_code=403)(scope, receive, send)
            return
        container: Container = request.state.container
        auth = container.authenticator
        cookie = request.cookies.get(auth.cookies.name) if auth.cookies is not None else None
        caller = await auth.authenticate(request.headers.get("authorization"), cookie)
        if caller is None:
            metadata = f"{self._settings.public_base_url}{WELL_KNOWN_PATH}"
            headers = {"WWW-Authenticate": f'Bearer resource_metadata="{metadata}"'}
            await JSONResponse({"error": "unauthorized"}, status_code=401, headers=headers)(scope, receive, send)
            return
        scope.setdefault("state", {})[_CALLER] = caller
        assert self._manager is not None, "the MCP session manager runs in the application lifespan"
        await self._manager.handle_request(scope, receive, send)

    # ---- MCP ----------------------------------------------------------------------------------------

    def _input_schema(self, name: str) -> dict[str, Any] | None:
        spec = self._specs.get(name)
        return None if spec is None else spec.input_model.model_json_schema(by_alias=True)

    async def _list_tools(self, ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=self._tools)

    async def _call_tool(self, ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        spec = self._specs.get(params.name)
        if spec is None:
            raise MCPError(INVALID_PARAMS, f"Unknown tool: {params.name}")
        request: Request = ctx.request
        caller: Caller = request.state.novamem_caller
        container: Container = request.state.container
        method, path = spec.route
        refusal = route_refusal(caller, method, path)
        if refusal is None and spec.needs_account and not caller.is_user:
            refusal = "unauthorized"
        if refusal is not None:
            return _error(refusal)
        try:
            args = spec.input_model.model_validate_json(json.dumps(params.arguments or {}))
        except ValidationError as exc:
            return _error(_invalid(exc))
        try:
            result = await spec.handler(container, caller, args, request.client.host if request.client else None)
        except NovamemError as exc:
            return _error(exc.message)
        except Exception:
            log.exception("MCP tool %s failed", spec.name)
            return _error("internal server error")
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=json.dumps(result, default=str))],
            structured_content=result,
        )
