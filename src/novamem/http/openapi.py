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
                    "path": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                    "message": {"type": "string"},
                    "code": {"type": "string"},
                },
            },
        },
    },
}


def _ref(name: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}


def _rewrite(spec: dict[str, Any], auth: bool) -> dict[str, Any]:
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Error"] = _ERROR
    schemas["InvalidRequest"] = _INVALID
    if auth:
        spec["components"]["securitySchemes"] = {"BearerToken": {"type": "http", "scheme": "bearer"}}
    for path, operations in spec.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            had_body = responses.pop("422", None) is not None or "requestBody" in operation
            if had_body:
                responses["400"] = {"description": "invalid request body", **_ref("InvalidRequest")}
                responses["413"] = {"description": "request body is too large", **_ref("Error")}
            if path.startswith("/v1/"):
                responses["503"] = {
                    "description": "a dependency is unavailable (or degraded and empty)",
                    **_ref("Error"),
                }
                if auth:
                    operation["security"] = [{"BearerToken": []}]
                    responses["401"] = {"description": "missing or wrong credentials", **_ref("Error")}
    return spec


def install_openapi(app: FastAPI, *, auth: bool) -> None:
    """Replace FastAPI's 422 validation responses with the contract's 400 envelope, and add errors."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            app.openapi_schema = _rewrite(spec, auth)
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]
