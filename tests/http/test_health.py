from __future__ import annotations

import httpx

from novamem.app import ROUTERS
from novamem.http.openapi import SERVED_ELSEWHERE
from tests.conftest import RunningServer


def test_live_ready_health_answer_ok(api: httpx.Client) -> None:
    assert api.get("/live").json() == {"ok": True}
    assert api.get("/ready").json() == {"ok": True}
    health = api.get("/health")
    assert health.status_code == 200 and health.json() == {"ok": True}


def test_unknown_route_gets_the_404_envelope(api: httpx.Client) -> None:
    r = api.get("/v1/nope")
    assert r.status_code == 404
    assert r.json() == {"message": "Route GET:/v1/nope not found", "error": "Not Found", "statusCode": 404}
    r = api.delete("/v1/search")
    assert r.status_code == 404 and r.json()["message"] == "Route DELETE:/v1/search not found"


def test_every_response_carries_hardening_headers(api: httpx.Client) -> None:
    for r in (api.get("/live"), api.get("/missing"), api.post("/v1/search", json={})):
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"


def test_openapi_lists_every_public_route_with_schemas(server: RunningServer, api: httpx.Client) -> None:
    spec = api.get("/openapi.json").json()
    expected = {
        ("post", "/v1/remember"),
        ("post", "/v1/capture"),
        ("post", "/v1/session-recap"),
        ("post", "/v1/recent"),
        ("post", "/v1/search"),
        ("post", "/v1/context"),
        ("post", "/v1/neighbors"),
        ("post", "/v1/forget"),
        ("put", "/v1/memories/{id}"),
        ("get", "/v1/stats"),
        ("post", "/v1/hygiene"),
        ("post", "/v1/evaluate"),
        ("get", "/live"),
        ("get", "/ready"),
        ("get", "/health"),
    }
    listed = {(m, p) for p, ops in spec["paths"].items() for m in ops}
    assert expected <= listed
    registered = {
        (m.lower(), r.path)
        for router in ROUTERS
        for r in router.routes
        if getattr(r, "include_in_schema", False)
        for m in getattr(r, "methods", ())
        if m != "HEAD"
    }
    # plus what the server answers outside the routers (documents, the MCP endpoint, discovery)
    elsewhere = {(m, p) for p, ops in SERVED_ELSEWHERE.items() for m in ops}
    assert registered | elsewhere == listed
    remember = spec["paths"]["/v1/remember"]["post"]
    assert "requestBody" in remember
    schema_ref = remember["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = spec["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
    assert "content" in schema["properties"] and "sourceRefs" in schema["properties"]


def test_openapi_documents_the_contract_error_envelopes(api: httpx.Client) -> None:
    spec = api.get("/openapi.json").json()
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            assert "422" not in op["responses"], (method, path)
            if path in SERVED_ELSEWHERE:
                continue  # documents, the MCP endpoint and discovery answer HTML, SSE or JSON-RPC
            if "requestBody" in op:
                schema = op["responses"]["400"]["content"]["application/json"]["schema"]
                refs = [option.get("$ref", "") for option in schema["anyOf"]]
                assert "#/components/schemas/InvalidRequest" in refs, (method, path)
                assert "#/components/schemas/Error" in refs, (method, path)
            if path not in ("/live", "/ready", "/health"):
                assert {"404", "429"} <= set(op["responses"]), (method, path)
            ok = op["responses"].get("200") or op["responses"].get("201")
            assert ok and ok["content"]["application/json"]["schema"], (method, path)
    assert "HTTPValidationError" not in spec["components"]["schemas"]
