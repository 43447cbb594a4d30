"""The validation envelope over plain HTTP, route by route (reference section 3.1).

`400 {"error":"invalid request body","issues":[{"path","message","code"}]}`: `path` is the dotted field
path as one string (`""` for the body itself; a query or path parameter by its name in the OpenAPI
document). Bytes that are not JSON answer a string `error` and no `issues` at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer, start_server
from tests.http.identities import USER_MODE, add_user, client, mint

JSON = {"content-type": "application/json"}
INVALID_JSON = {
    "error": "Body is not valid JSON but content-type is set to 'application/json'",
    "code": "FST_ERR_CTP_INVALID_JSON_BODY",
}
ANY_ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


@pytest.fixture(scope="module")
def srv(make_database: Callable[[], str]) -> Iterator[RunningServer]:
    running = start_server(make_database(), **USER_MODE, embeddings_provider="none")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def admin(srv: RunningServer) -> str:
    return mint(srv, add_user(srv, "envelope-admin", role="admin"))


def _issues(r: httpx.Response) -> list[dict[str, Any]]:
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"] == "invalid request body" and set(body) == {"error", "issues"}, body
    assert body["issues"], body
    for issue in body["issues"]:
        assert set(issue) == {"path", "message", "code"} and isinstance(issue["path"], str), issue
    return list(body["issues"])


def _json_routes(api: httpx.Client) -> list[tuple[str, str]]:
    """Every contract route (not the Better Auth ones) that takes a JSON body, as the server documents it."""
    paths = api.get("/openapi.json").json()["paths"]
    return [
        (method.upper(), path.replace("{id}", ANY_ID).replace("{project}", "p").replace("{", "").replace("}", ""))
        for path, operations in paths.items()
        for method, operation in operations.items()
        if "requestBody" in operation and path.startswith("/v1/") and path != "/v1/admin/tenants"
    ]


def test_every_json_route_names_a_non_object_body_at_the_empty_path(srv: RunningServer, admin: str) -> None:
    with client(srv, admin) as api:
        routes = _json_routes(api)
        assert ("POST", "/v1/remember") in routes and ("POST", "/v1/me/import") in routes
        for method, path in routes:
            for raw, received in [(b"[]", "array"), (b'"text"', "string"), (b"7", "number"), (b"false", "boolean")]:
                r = api.request(method, path, content=raw, headers=JSON)
                assert _issues(r) == [
                    {"path": "", "message": f"expected object, received {received}", "code": "invalid_type"}
                ], (method, path, raw)


def test_every_json_route_answers_malformed_json_without_issues(srv: RunningServer, admin: str) -> None:
    with client(srv, admin) as api:
        for method, path in _json_routes(api):
            for raw in (b'{"content": "abc', b"\xff\xfe\x00", b"{bad}"):
                r = api.request(method, path, content=raw, headers=JSON)
                assert (r.status_code, r.json()) == (400, INVALID_JSON), (method, path, raw)


@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        ("/v1/remember", {"content": 42}, "content"),
        ("/v1/remember", {"content": "fine content here", "sourceRefs": ["ok", "a\nb"]}, "sourceRefs.1"),
        ("/v1/search", {"query": "q", "includeNamespaces": ["Bad Name"]}, "includeNamespaces.0"),
        ("/v1/search", {"query": "q", "weights": {"vector": -1}}, "weights.vector"),
        ("/v1/session-recap", {"decisions": ["We chose PostgreSQL everywhere"], "bogus": 1}, "bogus"),
        ("/v1/me/import", {"entries": [{"content": "fine"}, {"content": 5}]}, "entries.1.content"),
        ("/v1/me/tokens", {"scope": "admin"}, "scope"),
        ("/v1/admin/users", {"email": "new-user@example.com", "password": "short"}, "password"),
    ],
)
def test_field_paths_are_dotted_strings(
    srv: RunningServer, admin: str, path: str, body: dict[str, Any], where: str
) -> None:
    with client(srv, admin) as api:
        issues = _issues(api.post(path, json=body))
    assert issues[0]["path"] == where, issues


def test_a_service_check_is_located_the_same_way(srv: RunningServer, admin: str) -> None:
    """Checks made past the request models (the trimmed content of an update) use the same string path."""
    with client(srv, admin) as api:
        stored = api.post("/v1/remember", json={"content": "A memory we will try to blank out"})
        assert stored.status_code == 201, stored.text
        issues = _issues(api.put(f"/v1/memories/{stored.json()['id']}", json={"content": "   "}))
    assert issues[0]["path"] == "content"


@pytest.mark.parametrize(
    ("method", "url", "where"),
    [
        ("GET", "/v1/me/export?limit=0", "limit"),
        ("GET", "/v1/me/changes?limit=501", "limit"),
        ("GET", "/v1/admin/audit-log?limit=x", "limit"),
        ("DELETE", "/v1/admin/users/someone?dryRun=maybe", "dryRun"),
        ("DELETE", "/v1/me/tokens/not-a-hash", "token_hash"),
        ("PUT", "/v1/memories/%20", "id"),
    ],
)
def test_query_and_path_parameters_are_named_alone(
    srv: RunningServer, admin: str, method: str, url: str, where: str
) -> None:
    with client(srv, admin) as api:
        r = api.request(method, url, json={"namespace": "x"} if method == "PUT" else None)
    assert [issue["path"] for issue in _issues(r)] == [where]


def test_the_document_declares_a_string_path(srv: RunningServer) -> None:
    with srv.client() as api:
        schema = api.get("/openapi.json").json()["components"]["schemas"]["InvalidRequest"]
    assert schema["properties"]["issues"]["items"]["properties"]["path"]["type"] == "string"
