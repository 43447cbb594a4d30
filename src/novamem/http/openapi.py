"""The served OpenAPI document: FastAPI's, corrected to the contract's error envelopes."""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

__all__ = ["BEARER", "COOKIE", "EMPTY_BODY", "SERVED_ELSEWHERE", "install_openapi"]

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string", "description": "the contract's exact message; clients may match on it"},
        "code": {"type": "string", "description": "machine-readable code, when there is one"},
        "detail": {"type": "string", "description": "extra help for people, when there is some; never matched on"},
    },
}
_INVALID = {
    "type": "object",
    "required": ["error", "issues"],
    "properties": {
        "error": {"type": "string", "enum": ["invalid request body"]},
        "issues": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["path", "message", "code"],
                "properties": {
                    "path": {
                        "type": "string",
                        "description": 'dotted field path ("includeNamespaces.0"); "" for the body itself',
                    },
                    "message": {"type": "string"},
                    "code": {"type": "string"},
                },
            },
        },
    },
}


# `/api/auth/*` speaks Better Auth's envelope: `message` and a machine `code` (validation adds `issues`)
_AUTH_ERROR = {
    "type": "object",
    "required": ["message"],
    "properties": {
        "message": {"type": "string"},
        "code": {"type": "string"},
        "issues": {"type": "array", "items": {"type": "object"}},
    },
}


# public probes: never rate-limited, never authenticated
_PROBES = frozenset({"/live", "/ready", "/health"})
# `/api/auth/*` routes anyone may call (sign-in, the disabled email flows, the public keys)
_PUBLIC_AUTH = frozenset(
    {
        "/api/auth/sign-in/email",
        "/api/auth/forget-password",
        "/api/auth/reset-password",
        "/api/auth/verify-email",
        "/api/auth/send-verification-email",
        "/api/auth/jwks",
    }
)
# served only in `tenant` auth mode (elsewhere they answer the unknown-route 404, so they are not listed)
_TENANT_MODE_ONLY = frozenset({"/v1/admin/tenants"})
# answers `null` without a session, the session with one
_OPTIONAL_SESSION = frozenset({"/api/auth/get-session"})
# an `/api/auth/*` error a route declares without content and with this ending answers no body at all
# (Better Auth's bare 401); every other error there carries Better Auth's JSON envelope
EMPTY_BODY = "(empty body)"
BEARER = "UserBearer"
COOKIE = "SessionCookie"


def _any(description: str, *media: str) -> dict[str, Any]:
    return {"description": description, "content": {m: {"schema": {}} for m in media}}


# routes the server answers outside FastAPI's router (documents, the MCP endpoint, discovery)
SERVED_ELSEWHERE: dict[str, dict[str, Any]] = {
    "/openapi.json": {
        "get": {
            "summary": "This document",
            "description": "The served contract (OpenAPI 3.1).",
            "responses": {"200": _any("the contract", "application/json")},
        }
    },
    "/api-docs": {
        "get": {
            "summary": "The API reference",
            "description": "This document rendered by the vendored Swagger UI, linking to /openapi.json.",
            "responses": {"200": _any("the rendered reference", "text/html")},
        }
    },
    "/.well-known/oauth-protected-resource": {
        "get": {
            "summary": "Protected-resource metadata (RFC 9728)",
            "description": "`{resource, bearer_methods_supported, resource_name, resource_documentation}`; "
            "no authorization servers (novamem mints its own tokens).",
            "responses": {"200": _any("the metadata", "application/json")},
        }
    },
    "/favicon.ico": {
        "get": {
            "summary": "No icon",
            "description": "An empty answer, so browsers do not log a 404.",
            "responses": {"204": {"description": "no content"}},
        }
    },
    "/mcp": {
        method: {
            "summary": f"MCP Streamable HTTP ({method.upper()})",
            "description": "The Model Context Protocol endpoint (JSON-RPC over Streamable HTTP); see the MCP "
            "section of the documentation for the tools. Not fuzzable as REST: speak MCP to it.",
            "responses": {
                "200": _any("a JSON-RPC answer or an event stream", "application/json", "text/event-stream"),
                "202": {"description": "a notification or response was accepted"},
                "400": _any("a JSON-RPC error (malformed message, unsupported protocol version)", "application/json"),
                "404": _any('an unknown or foreign session: `{"error":"unknown sessionId"}`', "application/json"),
                "406": _any("the Accept header allows neither JSON nor an event stream", "application/json"),
            },
        }
        for method in ("post", "get", "delete")
    },
}


def _ref(*names: str) -> dict[str, Any]:
    refs = [{"$ref": f"#/components/schemas/{name}"} for name in names]
    return {"content": {"application/json": {"schema": refs[0] if len(refs) == 1 else {"anyOf": refs}}}}


def _security_schemes(session_cookie: str | None) -> dict[str, Any]:
    schemes: dict[str, Any] = {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "description": "An `nm_` API token (`Authorization: Bearer nm_…`); in `bearer` auth mode the "
            "deployment's one shared token.",
        }
    }
    if session_cookie is not None:
        schemes[COOKIE] = {
            "type": "apiKey",
            "in": "cookie",
            "name": session_cookie,
            "description": "The dashboard session cookie that `POST /api/auth/sign-in/email` sets (HttpOnly, "
            "SameSite=Lax): `__Secure-nm.session_token` behind TLS, `nm.session_token` when the deployment "
            "sets NOVAMEM_INSECURE_COOKIES=1.",
        }
    return schemes


def _security(path: str, schemes: dict[str, Any]) -> list[dict[str, list[str]]]:
    """Who may call the route: `[]` for public routes, else any one of the declared credentials."""
    if not path.startswith(("/v1/", "/api/auth/", "/mcp")) or path in _PUBLIC_AUTH:
        return []
    if path.startswith("/api/auth/"):  # Better Auth's routes read the session cookie only
        session: list[dict[str, list[str]]] = [{COOKIE: []}] if COOKIE in schemes else []
        return [{}, *session] if path in _OPTIONAL_SESSION else session
    return [{name: []} for name in schemes]


def _rewrite(spec: dict[str, Any], auth: bool, session_cookie: str | None, tenant_mode: bool) -> dict[str, Any]:
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Error"] = _ERROR
    schemas["InvalidRequest"] = _INVALID
    schemas["AuthError"] = _AUTH_ERROR
    paths = spec.setdefault("paths", {})
    if not tenant_mode:
        for path in _TENANT_MODE_ONLY:
            paths.pop(path, None)
    for path, operations in SERVED_ELSEWHERE.items():
        paths.setdefault(path, {}).update(deepcopy(operations))
    schemes = _security_schemes(session_cookie) if auth else {}
    if schemes:
        spec["components"]["securitySchemes"] = schemes
    for path, operations in paths.items():
        auth_path = path.startswith("/api/auth/")
        error = _ref("AuthError", "Error") if auth_path else _ref("Error")
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            had_body = responses.pop("422", None) is not None or "requestBody" in operation
            if auth_path:
                for status, response in responses.items():
                    bare = "content" not in response and response.get("description", "").endswith(EMPTY_BODY)
                    if status[0] in "45" and status != "413" and not bare:
                        response.update(error)
            if had_body or operation.get("parameters"):
                # a body or parameters the models refuse (InvalidRequest), or that the operation refuses (Error)
                invalid = _ref("AuthError", "InvalidRequest", "Error") if auth_path else _ref("InvalidRequest", "Error")
                declared = responses.get("400", {}).get("content", {}).get("application/json", {}).get("schema")
                if declared is not None:  # the operation's own 400 body, or any of the error envelopes
                    invalid["content"]["application/json"]["schema"] = {
                        "anyOf": [declared, *invalid["content"]["application/json"]["schema"]["anyOf"]]
                    }
                responses["400"] = {
                    "description": responses.get("400", {}).get("description", "invalid request"),
                    **invalid,
                }
            if had_body:
                responses["413"] = {"description": "request body is too large", **_ref("Error")}
            # the edge limits apply to every request
            responses.setdefault("414", {"description": "request URI too long", **_ref("Error")})
            responses.setdefault("431", {"description": "request headers too large", **_ref("Error")})
            if schemes:
                operation["security"] = _security(path, schemes)
            if path in _PROBES:
                continue
            # every other route is rate-limited per client IP, and may not know the resource asked for
            responses.setdefault("429", {"description": "rate limit exceeded (see Retry-After)", **error})
            responses.setdefault("404", {"description": "no such resource in your scope", **error})
            if method in ("post", "put", "patch", "delete"):
                responses.setdefault("409", {"description": "the change collides with stored state", **error})
            if path.startswith("/v1/"):
                responses["503"] = {
                    "description": "a dependency is unavailable (or degraded and empty)",
                    **_ref("Error"),
                }
            if auth and (path.startswith(("/v1/", "/mcp")) or auth_path):
                responses.setdefault("401", {"description": "missing or wrong credentials", **error})
                responses.setdefault("403", {"description": "the credential may not do this", **error})
    return spec


def install_openapi(app: FastAPI, *, auth: bool, session_cookie: str | None = None, tenant_mode: bool = False) -> None:
    """Replace FastAPI's 422 validation responses with the contract's 400 envelope, add errors, the routes
    served outside the router, and the security schemes (`session_cookie` names the dashboard's cookie when
    the deployment has accounts) applied to every authenticated operation; the tenant routes are listed only
    in `tenant_mode`, the only mode that serves them."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            app.openapi_schema = _rewrite(spec, auth, session_cookie, tenant_mode)
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]
