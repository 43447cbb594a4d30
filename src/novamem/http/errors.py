"""Mapping of the error tree (and framework errors) to the contract's JSON envelopes."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from novamem.error_messages import (
    EMPTY_JSON_BODY,
    INTERNAL_ERROR,
    INVALID_JSON_BODY,
    LOCKED_CODE,
    ROUTE_NOT_FOUND,
)
from novamem.errors import (
    ConfigError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    NovamemError,
    PayloadTooLarge,
    RateLimited,
    Unauthenticated,
    Unavailable,
)

__all__ = ["install_error_handlers", "route_not_found"]

log = logging.getLogger("novamem.http")

STATUS: dict[type[NovamemError], int] = {
    InvalidInput: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    PayloadTooLarge: 413,
    RateLimited: 429,
    Unavailable: 503,
    ConfigError: 500,
}
BODY_PARSE_FAILED = "There was an error parsing the body"  # FastAPI's text, never sent to a client
INVALID_JSON_CODE = "FST_ERR_CTP_INVALID_JSON_BODY"
# RFC 9728 protected-resource metadata (served by the MCP edge), named in every 401's WWW-Authenticate
RESOURCE_METADATA_PATH = "/.well-known/oauth-protected-resource"
# the JSON name of each Python type a parsed body can have (zod's "expected object, received array")
_JSON_TYPES: dict[type, str] = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


def _status_for(exc: NovamemError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def dotted_path(path: object) -> str:
    """An issue's location on the wire: the dotted field path (`"includeNamespaces.0"`), `""` for the body.

    Services locate issues as lists (`["data", "name"]`, which the dashboard's forms read); the contract
    renders them as one string. Query and path parameters are named by their wire name alone (`"limit"`).
    """
    if isinstance(path, (list, tuple)):
        return ".".join(str(part) for part in path)
    return "" if path is None else str(path)


def _wire_issue(issue: dict[str, Any]) -> dict[str, Any]:
    return {**issue, "path": dotted_path(issue.get("path"))}


def error_response(exc: NovamemError, *, base_url: str | None = None) -> JSONResponse:
    """The contract's envelope for `exc`; with `base_url`, a 401 points at the resource metadata (RFC 9728)."""
    status = _status_for(exc)
    body: dict[str, Any] = {"error": exc.message if status != 500 else INTERNAL_ERROR}
    if isinstance(exc, InvalidInput) and exc.issues is not None:
        body["issues"] = [_wire_issue(issue) for issue in exc.issues]
    if exc.code == LOCKED_CODE and isinstance(exc, RateLimited):  # the lockout's `{error, retryAfter}`
        body["retryAfter"] = exc.retry_after
    elif exc.code:
        body["code"] = exc.code
    if exc.detail and status != 500:
        body["detail"] = exc.detail
    headers = {}
    if isinstance(exc, Unauthenticated):
        metadata = f' resource_metadata="{base_url}{RESOURCE_METADATA_PATH}"' if base_url else ""
        headers["WWW-Authenticate"] = f"Bearer{metadata}"
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    return JSONResponse(body, status_code=status, headers=headers)


def route_not_found(method: str, path: str) -> JSONResponse:
    return JSONResponse(
        {"message": f"Route {method}:{path} not found", "error": ROUTE_NOT_FOUND, "statusCode": 404},
        status_code=404,
    )


def malformed_json() -> JSONResponse:
    """Bytes that are not JSON at all: a plain error string, no `issues` (nothing inside can be located)."""
    return error_response(InvalidInput(INVALID_JSON_BODY, code=INVALID_JSON_CODE))


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _issues(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Pydantic's errors as the contract's issues. The location drops FastAPI's leading `body`, `query`
    or `path` (parameters are named by their wire name); a body that is not an object is located at `""`."""
    issues = []
    for err in exc.errors():
        raw = tuple(err.get("loc", ()))
        loc = list(raw[1:]) if raw and raw[0] in ("body", "query", "path", "header", "cookie") else list(raw)
        code = str(err.get("type", "invalid"))
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if not loc and code in ("model_attributes_type", "dict_type", "model_type"):
            message, code = f"expected object, received {_json_type(err.get('input'))}", "invalid_type"
        issues.append({"path": dotted_path(loc), "message": message, "code": code})
    return issues


async def _has_bytes(request: Request) -> bool:
    """Whether the request carried a non-blank body (FastAPI has read and kept it by now)."""
    try:
        return bool((await request.body()).strip())
    except RuntimeError:  # the stream was consumed elsewhere: nothing to tell
        return False


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return malformed_json()
    body_missing = any(e.get("type") == "missing" and tuple(e.get("loc", ())) == ("body",) for e in errors)
    if body_missing and "json" in request.headers.get("content-type", ""):
        if await _has_bytes(request):  # the JSON `null`: a body, just not an object
            issue = {"path": "", "message": "expected object, received null", "code": "invalid_type"}
            return error_response(InvalidInput(issues=[issue]))
        return error_response(InvalidInput(EMPTY_JSON_BODY, code="FST_ERR_CTP_EMPTY_JSON_BODY"))
    return error_response(InvalidInput(issues=_issues(exc)))


async def _novamem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NovamemError)
    if _status_for(exc) >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc.message)
    container = getattr(request.state, "container", None)
    return error_response(exc, base_url=container.settings.public_base_url if container is not None else None)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code in (404, 405):
        return route_not_found(request.method, request.url.path)
    if exc.status_code == 400 and str(exc.detail) == BODY_PARSE_FAILED:
        # bytes FastAPI could not even decode as JSON: the same answer as any other malformed JSON
        return malformed_json()
    return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"error": INTERNAL_ERROR}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(NovamemError, _novamem)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
