"""Request limits over a real server: URI length, header sizes, body size, JSON depth and per-field lengths,
each answered with the contract's error envelope and never a 500."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from novamem.http.middleware.limits import (
    MAX_HEADER_BYTES,
    MAX_HEADERS_BYTES,
    MAX_JSON_DEPTH,
    MAX_URI_BYTES,
    UVICORN_MAX_HEAD_BYTES,
    json_depth_exceeds,
)
from tests.conftest import RunningServer

JSON = {"content-type": "application/json"}
TOO_DEEP = {"error": "JSON nesting too deep"}


def _nested(depth: int, leaf: str = "1") -> bytes:
    return ("[" * depth + leaf + "]" * depth).encode()


# ---- URI ----------------------------------------------------------------------------------------------


def test_uri_up_to_the_limit_passes_and_one_byte_more_is_414(api: httpx.Client) -> None:
    fill = MAX_URI_BYTES - len("/live?q=")
    assert api.get("/live?q=" + "a" * fill).status_code == 200
    r = api.get("/live?q=" + "a" * (fill + 1))
    assert r.status_code == 414 and r.json() == {"error": "request URI too long"}
    r = api.get("/v1/memories/" + "a" * MAX_URI_BYTES)  # the path alone
    assert r.status_code == 414 and r.json() == {"error": "request URI too long"}


# ---- headers ------------------------------------------------------------------------------------------


def test_one_header_up_to_8_kib_passes_and_one_byte_more_is_431(api: httpx.Client) -> None:
    name = "x-fill"
    assert api.get("/live", headers={name: "a" * (MAX_HEADER_BYTES - len(name))}).status_code == 200
    r = api.get("/live", headers={name: "a" * (MAX_HEADER_BYTES - len(name) + 1)})
    assert r.status_code == 431 and r.json() == {"error": "request headers too large"}


def test_all_headers_over_16_kib_is_431(api: httpx.Client) -> None:
    headers = {f"x-fill-{i}": "a" * 6000 for i in range(3)}  # each under the per-header limit
    r = api.get("/live", headers=headers)
    assert r.status_code == 431 and r.json() == {"error": "request headers too large"}
    assert 3 * 6000 > MAX_HEADERS_BYTES
    r = api.get("/live", headers={"cookie": "; ".join(f"c{i}={'v' * 900}" for i in range(10))})
    assert r.status_code == 431


def _raw_request(server: RunningServer, head: bytes) -> bytes:
    """Send raw bytes, in small pieces, and read the answer (as much as arrived if the server hung up early)."""
    url = urlsplit(server.base_url)
    chunks = []
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        try:
            for i in range(0, len(head), 4096):
                sock.sendall(head[i : i + 4096])
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (ConnectionResetError, BrokenPipeError):
            pass  # the server answered and closed while we were still sending
    return b"".join(chunks)


def test_a_large_head_sent_in_pieces_still_gets_our_431(server: RunningServer) -> None:
    """uvicorn buffers heads up to UVICORN_MAX_HEAD_BYTES, so a slowly sent 40 KB head reaches the limits."""
    head = b"GET /live HTTP/1.1\r\nhost: x\r\nconnection: close\r\n"
    head += b"".join(f"x-fill-{i}: {'a' * 4000}\r\n".encode() for i in range(10)) + b"\r\n"
    assert len(head) < UVICORN_MAX_HEAD_BYTES
    answer = _raw_request(server, head)
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert answer.endswith(b'{"error":"request headers too large"}')
    assert b"x-content-type-options: nosniff" in answer.lower()


def test_a_head_beyond_what_uvicorn_buffers_is_refused_either_way(server: RunningServer) -> None:
    """Past UVICORN_MAX_HEAD_BYTES it depends on how the bytes arrive: uvicorn's plain 400 when its buffer
    fills before the head is complete (it hangs up, so the answer may be lost to a reset), else our 431.
    Never a crash."""
    head = b"GET /live HTTP/1.1\r\nhost: x\r\nconnection: close\r\n"
    head += b"".join(f"x-fill-{i}: {'a' * 4000}\r\n".encode() for i in range(20)) + b"\r\n"
    assert len(head) > UVICORN_MAX_HEAD_BYTES
    answer = _raw_request(server, head)
    assert answer == b"" or answer.startswith((b"HTTP/1.1 400 ", b"HTTP/1.1 431 ")), answer[:100]
    assert httpx.get(server.base_url + "/live").status_code == 200


# ---- body ---------------------------------------------------------------------------------------------


def test_a_streamed_body_over_2_mib_is_413(api: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"content":"'
        for _ in range(40):
            yield b"a" * 65536
        yield b'"}'

    r = api.post("/v1/remember", content=chunks(), headers=JSON)  # chunked: no Content-Length
    assert r.status_code == 413 and r.json() == {"error": "request body is too large"}


# ---- JSON depth ---------------------------------------------------------------------------------------


def test_json_nested_deeper_than_32_is_400(api: httpx.Client) -> None:
    r = api.post("/v1/search", content=_nested(MAX_JSON_DEPTH + 1), headers=JSON)
    assert r.status_code == 400 and r.json() == TOO_DEEP
    # at the limit it is parsed, and refused by the model for what it is
    r = api.post("/v1/search", content=_nested(MAX_JSON_DEPTH), headers=JSON)
    assert r.status_code == 400 and r.json()["error"] == "invalid request body"
    body = {"query": "x", "filters": json.loads(_nested(MAX_JSON_DEPTH + 5))}
    r = api.post("/v1/search", content=json.dumps(body).encode(), headers=JSON)
    assert r.status_code == 400 and r.json() == TOO_DEEP


@pytest.mark.parametrize("path", ["/v1/remember", "/v1/search", "/mcp", "/api/auth/sign-in/email"])
def test_hundred_thousand_open_brackets_are_400_not_a_crash(api: httpx.Client, path: str) -> None:
    for body in (b"[" * 100_000, _nested(100_000), b'{"a":' * 100_000):
        r = api.post(path, content=body, headers={**JSON, "accept": "application/json, text/event-stream"})
        assert r.status_code == 400 and r.json() == TOO_DEEP, (path, r.text[:200])
    # no content type: FastAPI would parse it as JSON, so it is checked too
    r = api.post(path, content=b"[" * 100_000)
    assert r.status_code == 400 and r.json() == TOO_DEEP
    assert api.get("/live").status_code == 200


def test_brackets_inside_strings_do_not_count(api: httpx.Client) -> None:
    content = 'Brackets in text are just text: "[[[[' + "[" * 200 + '{{{{" and \\" quotes'
    r = api.post("/v1/remember", json={"content": content})
    assert r.status_code == 201, r.text


def test_other_content_types_are_not_parsed_as_json(api: httpx.Client) -> None:
    r = api.post("/v1/search", content=b"[" * 100_000, headers={"content-type": "text/plain"})
    assert 400 <= r.status_code < 500


@pytest.mark.parametrize(
    ("body", "deep"),
    [
        (b"", False),
        (b"{}", False),
        (b"[" * 32 + b"]" * 32, False),
        (b"[" * 33 + b"]" * 33, True),
        (b"[]" * 10_000, False),  # many brackets, never deep
        (b'["' + b"[" * 100 + b'"]', False),
        (b'["\\"' + b"[" * 100 + b'"]', False),  # an escaped quote does not end the string
        (b'["\\\\"' + b"[" * 40, True),  # an escaped backslash does
        (b'{"a":' * 33 + b"1" + b"}" * 33, True),
        (b"]" * 100 + b"[" * 20, False),  # unbalanced junk: the parser refuses it, not this check
    ],
)
def test_json_depth_scanner(body: bytes, deep: bool) -> None:
    assert json_depth_exceeds(body) is deep


# ---- per-field lengths (the request models) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/search", {"query": "q" * 8193}, "query"),
        ("/v1/remember", {"content": "c" * 262_145}, "content"),
        ("/v1/remember", {"content": "ok content", "namespace": "n" * 129}, "namespace"),
        ("/v1/remember", {"content": "ok content", "agentName": "a" * 129}, "agentName"),
        ("/v1/remember", {"content": "ok content", "sourceRefs": ["r"] * 33}, "sourceRefs"),
        ("/v1/context", {"message": "m" * 8193}, "message"),
    ],
)
def test_over_long_fields_are_400_with_issues(
    api: httpx.Client, path: str, body: dict[str, object], field: str
) -> None:
    r = api.post(path, json=body)
    assert r.status_code == 400, r.text[:300]
    answer = r.json()
    assert answer["error"] == "invalid request body"
    assert any(issue["path"].split(".")[0] == field for issue in answer["issues"]), answer
