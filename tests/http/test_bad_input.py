"""Every malformed request gets the contract's envelope, never a 500, and stores nothing."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import RunningServer

JSON = {"content-type": "application/json"}
EMPTY_BODY = "Body cannot be empty when content-type is set to 'application/json'"
INVALID_JSON = "Body is not valid JSON but content-type is set to 'application/json'"

ROUTES = [
    ("POST", "/v1/remember"),
    ("POST", "/v1/remember/batch"),
    ("POST", "/v1/capture"),
    ("POST", "/v1/session-recap"),
    ("POST", "/v1/search"),
    ("POST", "/v1/context"),
    ("POST", "/v1/neighbors"),
    ("POST", "/v1/forget"),
    ("PUT", "/v1/memories/01ARZ3NDEKTSV4RRFFQ69G5FAV"),
]


def assert_envelope(r: httpx.Response) -> None:
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"] in {"invalid request body", EMPTY_BODY, INVALID_JSON}
    if body["error"] == "invalid request body":
        assert isinstance(body["issues"], list) and body["issues"]
        for issue in body["issues"]:
            assert set(issue) == {"path", "message", "code"}
            assert isinstance(issue["path"], str)
    else:
        assert "issues" not in body


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_malformed_json(api: httpx.Client, method: str, path: str) -> None:
    r = api.request(method, path, content=b'{"content": "abc', headers=JSON)
    assert_envelope(r)
    assert r.json() == {"error": INVALID_JSON, "code": "FST_ERR_CTP_INVALID_JSON_BODY"}


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("body", [b"\x05W%\x7fe\t\x04\xff\x15\xfe", b"\x00"])
def test_undecodable_bytes(api: httpx.Client, method: str, path: str, body: bytes) -> None:
    """Bytes that are not even text get the same answer as malformed JSON (found by schemathesis)."""
    r = api.request(method, path, content=body, headers=JSON)
    assert_envelope(r)
    assert r.json() == {"error": INVALID_JSON, "code": "FST_ERR_CTP_INVALID_JSON_BODY"}


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize(
    ("body", "received"), [(b"[]", "array"), (b'"text"', "string"), (b"42", "number"), (b"true", "boolean")]
)
def test_body_that_is_not_an_object(api: httpx.Client, method: str, path: str, body: bytes, received: str) -> None:
    r = api.request(method, path, content=body, headers=JSON)
    assert_envelope(r)
    assert r.json()["issues"] == [
        {"path": "", "message": f"expected object, received {received}", "code": "invalid_type"}
    ]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_null_body(api: httpx.Client, method: str, path: str) -> None:
    r = api.request(method, path, content=b"null", headers=JSON)
    assert_envelope(r)
    assert r.json()["issues"] == [{"path": "", "message": "expected object, received null", "code": "invalid_type"}]


@pytest.mark.parametrize(("method", "path"), [r for r in ROUTES if not r[1].startswith("/v1/memories")])
def test_empty_body_with_json_content_type(api: httpx.Client, method: str, path: str) -> None:
    r = api.request(method, path, content=b"", headers=JSON)
    assert r.status_code == 400
    if path not in {"/v1/forget", "/v1/session-recap"}:
        assert r.json()["error"] == "Body cannot be empty when content-type is set to 'application/json'"


@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        ("/v1/remember", {"content": 42}, "content"),
        ("/v1/remember", {"content": "valid enough content", "force": "yes"}, "force"),
        ("/v1/remember", {"content": "valid enough content", "confidence": 2}, "confidence"),
        ("/v1/remember", {"content": "valid enough content", "metadata": []}, "metadata"),
        ("/v1/remember", {"content": "valid enough content", "sensitivity": "secret"}, "sensitivity"),
        ("/v1/remember", {"content": "valid enough content", "sourceRefs": ["a\nb"]}, "sourceRefs.0"),
        ("/v1/remember", {"content": "valid enough content", "sourceRefs": ["r"] * 33}, "sourceRefs"),
        ("/v1/remember", {"content": "valid enough content", "namespace": "n" * 129}, "namespace"),
        ("/v1/remember", {"content": "x" * 262_145}, "content"),
        ("/v1/remember", {"content": ""}, "content"),
        ("/v1/remember", {}, "content"),
        ("/v1/search", {"query": "q", "k": 0}, "k"),
        ("/v1/search", {"query": "q", "k": 201}, "k"),
        ("/v1/search", {"query": "q", "k": "5"}, "k"),
        ("/v1/search", {"query": "q" * 8193}, "query"),
        ("/v1/search", {"query": "q", "weights": {"vector": -1}}, "weights.vector"),
        ("/v1/search", {"query": "q", "maxTokens": 0}, "maxTokens"),
        ("/v1/search", {"query": "q", "minVectorScore": 1.5}, "minVectorScore"),
        ("/v1/search", {"query": "q", "includeProjects": ["p"] * 17}, "includeProjects"),
        ("/v1/context", {"message": "m", "k": 51}, "k"),
        ("/v1/recent", {"k": 500}, "k"),
        ("/v1/neighbors", {"id": "x", "k": 51}, "k"),
        ("/v1/forget", {"sourceRef": "s" * 513}, "sourceRef"),
        ("/v1/session-recap", {"decisions": "not a list"}, "decisions"),
        (
            "/v1/remember/batch",
            {"entries": [{"content": "valid enough content"}, {"content": 42}]},
            "entries.1.content",
        ),
        ("/v1/remember/batch", {"entries": [{"content": "valid enough content", "force": "yes"}]}, "entries.0.force"),
    ],
)
def test_wrong_types_and_out_of_range_fields(
    api: httpx.Client, server: RunningServer, path: str, body: dict[str, object], where: str
) -> None:
    r = api.post(path, json=body)
    assert_envelope(r)
    assert r.json()["issues"][0]["path"] == where
    assert server.sql("SELECT count(*) FROM memory_entries") == [(0,)]


def test_oversized_body_is_413(api: httpx.Client, server: RunningServer) -> None:
    big = b'{"content": "' + b"a" * (2 * 1024 * 1024 + 10) + b'"}'
    r = api.post("/v1/remember", content=big, headers=JSON)
    assert r.status_code == 413 and r.json() == {"error": "request body is too large"}

    def chunks() -> object:
        yield b'{"content": "'
        for _ in range(3):
            yield b"b" * (1024 * 1024)
        yield b'"}'

    r = api.post("/v1/remember", content=chunks(), headers=JSON)  # streamed, no Content-Length
    assert r.status_code == 413
    assert server.sql("SELECT count(*) FROM memory_entries") == [(0,)]


def test_update_with_bad_id_and_empty_content(api: httpx.Client) -> None:
    long_id = "x" * 65
    assert api.put(f"/v1/memories/{long_id}", json={}).status_code == 400
    r = api.post("/v1/remember", json={"content": "A memory we will try to blank out"})
    mid = r.json()["id"]
    assert api.put(f"/v1/memories/{mid}", json={"content": "   "}).status_code == 400
    assert api.put(f"/v1/memories/{mid}", json={"content": "y" * 5000}).status_code == 400
    recent = api.post("/v1/recent").json()["results"]
    assert recent[0]["content"] == "A memory we will try to blank out"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"content": "nul \\u0000 byte inside the content"}',
        b'{"content": "lone \\ud800 surrogate in the text"}',
        b'{"content": "fine text for storage", "metadata": {"k": ["\\u0000"]}}',
        b'{"content": "fine text for storage", "sourceRefs": ["\\udfff"]}',
    ],
)
def test_text_postgres_cannot_store_is_refused(api: httpx.Client, server: RunningServer, raw: bytes) -> None:
    r = api.post("/v1/remember", content=raw, headers=JSON)
    assert_envelope(r)
    assert "NUL character or an unpaired surrogate" in r.json()["issues"][0]["message"]
    assert server.sql("SELECT count(*) FROM memory_entries") == [(0,)]


@pytest.mark.parametrize("query", ["!!!", "a & b | !c <-> (d", '"unterminated', "-", "the of and", "''", "*:*"])
def test_odd_queries_are_just_queries(api: httpx.Client, query: str) -> None:
    api.post("/v1/remember", json={"content": "A memory about tsquery syntax and operators"})
    r = api.post("/v1/search", json={"query": query})
    assert r.status_code == 200 and r.json()["degraded"] is False


@pytest.mark.parametrize("bad_id", ["%00", "a%20b", "x" * 65, "%F0%9F%98%80"])
def test_memory_ids_are_validated(api: httpx.Client, bad_id: str) -> None:
    assert api.put(f"/v1/memories/{bad_id}", json={"namespace": "x"}).status_code == 400
    assert api.post("/v1/neighbors", json={"id": bad_id}).status_code == 400
    assert api.post("/v1/forget", json={"id": bad_id}).status_code == 400
