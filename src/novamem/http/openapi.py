"""The served OpenAPI document: FastAPI's, corrected to the contract's error envelopes."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

__all__ = ["install_openapi"]

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string", "description": "human-readable message; clients may match on it"},
        "code": {"type": "string", "description": "machine-readable code, when there is one"},
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


def _ref(*names: str) -> dict[str, Any]:
    refs = [{"$ref": f"#/components/schemas/{name}"} for name in names]
    return {"content": {"application/json": {"schema": refs[0] if len(refs) == 1 else {"anyOf": refs}}}}


def _rewrite(spec: dict[str, Any], auth: bool) -> dict[str, Any]:
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Error"] = _ERROR
    schemas["InvalidRequest"] = _INVALID
    schemas["AuthError"] = _AUTH_ERROR
    if auth:
        spec["components"]["securitySchemes"] = {"BearerToken": {"type": "http", "scheme": "bearer"}}
    for path, operations in spec.get("paths", {}).items():
        auth_path = path.startswith("/api/auth/")
        error = _ref("AuthError", "Error") if auth_path else _ref("Error")
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            had_body = responses.pop("422", None) is not None or "requestBody" in operation
            if auth_path:
                for status, response in responses.items():
                    if status[0] in "45" and status != "413":
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
            if auth and (path.startswith("/v1/") or auth_path):
                if path.startswith("/v1/"):
                    operation["security"] = [{"BearerToken": []}]
                responses.setdefault("401", {"description": "missing or wrong credentials", **error})
                responses.setdefault("403", {"description": "the credential may not do this", **error})
    return spec


def install_openapi(app: FastAPI, *, auth: bool) -> None:
    """Replace FastAPI's 422 validation responses with the contract's 400 envelope, and add errors."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            app.openapi_schema = _rewrite(spec, auth)
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]
