"""The served `/openapi.json` over HTTP against a real user-mode server: the bearer and session-cookie
security schemes are declared and required by every authenticated operation, public operations require
nothing, and every public route of the contract that the server serves is listed (and answers)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import RunningServer
from tests.http.identity_helpers import start_user_server

BOTH: list[dict[str, list[str]]] = [{"UserBearer": []}, {"SessionCookie": []}]
# the reference's public routes and the MCP endpoint (Appendix C), as (method, path)
PUBLIC = {
    ("get", "/live"),
    ("get", "/ready"),
    ("get", "/health"),
    ("get", "/openapi.json"),
    ("get", "/api-docs"),
    ("get", "/.well-known/oauth-protected-resource"),
    ("get", "/favicon.ico"),
    ("post", "/api/auth/sign-in/email"),
}
MCP = {("post", "/mcp"), ("get", "/mcp"), ("delete", "/mcp")}


@pytest.fixture(scope="module")
def srv(make_database: Callable[[], str]) -> Iterator[RunningServer]:
    running = start_user_server(make_database())
    yield running
    running.stop()


@pytest.fixture(scope="module")
def spec(srv: RunningServer) -> dict[str, Any]:
    with srv.client() as c:
        r = c.get("/openapi.json")
    assert r.status_code == 200
    return dict(r.json())


def operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(method, path): op for path, ops in spec["paths"].items() for method, op in ops.items()}


def test_the_bearer_and_session_cookie_schemes_are_declared(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert set(schemes) == {"UserBearer", "SessionCookie"}
    assert (schemes["UserBearer"]["type"], schemes["UserBearer"]["scheme"]) == ("http", "bearer")
    assert "nm_" in schemes["UserBearer"]["description"]
    cookie = schemes["SessionCookie"]
    # this server runs with NOVAMEM_INSECURE_COOKIES=1, so its cookie has no __Secure- prefix
    assert (cookie["type"], cookie["in"], cookie["name"]) == ("apiKey", "cookie", "nm.session_token")
    assert "__Secure-nm.session_token" in cookie["description"]


def test_every_authenticated_operation_requires_a_declared_credential(spec: dict[str, Any]) -> None:
    ops = operations(spec)
    assert PUBLIC | MCP <= set(ops), sorted(PUBLIC | MCP - set(ops))
    for (method, path), op in ops.items():
        if (method, path) in PUBLIC or path in {"/api/auth/jwks", "/api/auth/verify-email"}:
            assert op.get("security") == [], (method, path)
        elif path.startswith("/v1/") or path == "/mcp":
            assert op["security"] == BOTH, (method, path)
        elif path == "/api/auth/get-session":
            assert op["security"] == [{}, {"SessionCookie": []}]
        elif path.startswith("/api/auth/") and "password" not in path and "verification" not in path:
            assert op["security"] == [{"SessionCookie": []}], (method, path)


def test_authenticated_operations_refuse_anonymous_callers(srv: RunningServer, spec: dict[str, Any]) -> None:
    """What the document says needs a credential does: each `/v1` operation answers 401 without one."""
    with srv.client() as c:
        for (method, path), op in operations(spec).items():
            if op.get("security") != BOTH or path == "/mcp":
                continue
            url = re.sub(r"\{[^}]+\}", "x", path)
            r = c.request(method.upper(), url, json={} if method in ("post", "put") else None)
            assert (r.status_code, r.json()) == (401, {"error": "unauthorized"}), (method, path, r.text)


def test_every_listed_route_without_parameters_is_served(srv: RunningServer, spec: dict[str, Any]) -> None:
    """The document lists no route the server does not answer (anonymous calls get anything but 404)."""
    with srv.client() as c:
        for method, path in operations(spec):
            if "{" in path or (method, path) == ("get", "/mcp"):  # GET /mcp with a session opens a stream
                continue
            r = c.request(method.upper(), path, json={} if method in ("post", "put") else None)
            not_routed = r.status_code == 404 and r.json().get("message", "").startswith("Route ")
            assert not not_routed, (method, path)
        assert c.get("/mcp", headers={"accept": "text/event-stream"}).status_code == 401


def test_api_docs_links_to_the_contract(srv: RunningServer) -> None:
    with srv.client() as c:
        page = c.get("/api-docs")
    assert page.status_code == 200
    assert re.search(r'<header class="contract">.*<a href="/openapi.json">/openapi.json</a>', page.text, re.S)
