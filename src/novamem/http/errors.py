"""Mapping of the error tree (and framework errors) to the contract's JSON envelopes."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

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
BODY_PARSE_FAILED = "There was an error parsing the body"
EMPTY_JSON_BODY = "Body cannot be empty when content-type is set to 'application/json'"


def _status_for(exc: NovamemError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def error_response(exc: NovamemError) -> JSONResponse:
    status = _status_for(exc)
    body: dict[str, Any] = {"error": exc.message if status != 500 else "internal server error"}
    if isinstance(exc, InvalidInput) and exc.issues is not None:
        body["issues"] = exc.issues
    if exc.code:
        body["code"] = exc.code
    headers = {}
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    return JSONResponse(body, status_code=status, headers=headers)


def route_not_found(method: str, path: str) -> JSONResponse:
    return JSONResponse(
        {"message": f"Route {method}:{path} not found", "error": "Not Found", "statusCode": 404},
        status_code=404,
    )


def _issues(exc: RequestValidationError) -> list[dict[str, Any]]:
    issues = []
    for err in exc.errors():
        loc = [p for p in err.get("loc", ()) if p != "body"]
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        issues.append({"path": loc, "message": message, "code": err.get("type", "invalid")})
    return issues


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(InvalidInput(issues=[{"path": [], "message": "malformed JSON", "code": "invalid_json"}]))
    body_missing = any(e.get("type") == "missing" and tuple(e.get("loc", ())) == ("body",) for e in errors)
    if body_missing and "json" in request.headers.get("content-type", ""):
        return error_response(InvalidInput(EMPTY_JSON_BODY, code="FST_ERR_CTP_EMPTY_JSON_BODY"))
    return error_response(InvalidInput(issues=_issues(exc)))


async def _novamem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NovamemError)
    if _status_for(exc) >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc.message)
    return error_response(exc)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code in (404, 405):
        return route_not_found(request.method, request.url.path)
    if exc.status_code == 400 and str(exc.detail) == BODY_PARSE_FAILED:
        # bytes FastAPI could not even decode as JSON: the same answer as any other malformed JSON
        return error_response(InvalidInput(issues=[{"path": [], "message": "malformed JSON", "code": "invalid_json"}]))
    return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"error": "internal server error"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(NovamemError, _novamem)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
