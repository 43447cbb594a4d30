"""`novamem mcp-stdio` as a real subprocess: against a real user-mode server, a closed port, and a small
SSE-speaking stand-in (the real server answers JSON only) that records the headers the relay sends."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import RunningServer, free_port
from tests.http.identity_helpers import add_user, mint, start_user_server

ANA = "ana@example.com"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "stdio-test", "version": "0"},
    },
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


class Relay:
    """`python -m novamem mcp-stdio` with pipes; stdout is read by a thread so a missing line fails, not hangs."""

    def __init__(self, base_url: str, token: str | None) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NOVAMEM_")}
        env["NOVAMEM_BASE_URL"] = base_url
        if token is not None:
            env["NOVAMEM_TOKEN"] = token
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "novamem", "mcp-stdio"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.lines: queue.Queue[bytes] = queue.Queue()
        self.stdout: list[bytes] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.stdout.append(line)
            self.lines.put(line)

    def send(self, message: Any) -> None:
        self.send_raw(json.dumps(message).encode())

    def send_raw(self, line: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + b"\n")
        self.proc.stdin.flush()

    def read(self) -> dict[str, Any]:
        line = self.lines.get(timeout=60)
        assert line.endswith(b"\n") and b"\n" not in line[:-1]
        value = json.loads(line)
        assert isinstance(value, dict)
        return value

    def call(self, message: Any) -> dict[str, Any]:
        self.send(message)
        return self.read()

    def close(self) -> tuple[int, str, str]:
        """EOF on stdin; returns (exit code, all stdout, all stderr)."""
        assert self.proc.stdin is not None and self.proc.stderr is not None
        self.proc.stdin.close()
        code = self.proc.wait(timeout=30)
        self.reader.join(timeout=10)
        return code, b"".join(self.stdout).decode(), self.proc.stderr.read().decode()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def relay_to() -> Iterator[Callable[[str, str | None], Relay]]:
    started: list[Relay] = []

    def start(base_url: str, token: str | None) -> Relay:
        started.append(Relay(base_url, token))
        return started[-1]

    yield start
    for relay in started:
        relay.kill()


@pytest.fixture(scope="module")
def srv(make_database: Callable[[], str]) -> Iterator[RunningServer]:
    server = start_user_server(make_database())
    add_user(server, ANA)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def token(srv: RunningServer) -> str:
    return mint(srv, ANA)


def tool_call(request_id: int, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }


def test_full_session_through_the_relay(srv: RunningServer, token: str, relay_to: Callable[..., Relay]) -> None:
    relay = relay_to(srv.base_url, token)
    init = relay.call(INIT)
    assert init["id"] == 1 and init["result"]["serverInfo"]["name"] == "novamem"
    assert init["result"]["capabilities"]["tools"] is not None
    # the notification is answered 202 with no body: nothing is written, so the next line answers id 2
    relay.send(INITIALIZED)
    listed = relay.call({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    assert listed["id"] == 2
    names = {tool["name"] for tool in listed["result"]["tools"]}
    assert {"memory_remember", "memory_search", "memory_forget"} <= names

    fact = "The relay test cluster named quillwort keeps its backups on volume vol-8841 for ninety days."
    stored = relay.call(tool_call(3, "memory_remember", {"content": fact, "namespace": "stdio"}))
    assert stored["id"] == 3 and stored["result"]["isError"] is False
    entry_id = stored["result"]["structuredContent"]["id"]
    assert isinstance(entry_id, str) and entry_id

    # a garbage line in the middle: a parse error with a null id, and the relay keeps going
    relay.send_raw(b"this is {not json")
    garbage = relay.read()
    assert garbage["id"] is None and garbage["error"]["code"] == -32700

    found = relay.call(tool_call("four", "memory_search", {"query": "quillwort backups volume", "k": 5}))
    assert found["id"] == "four"
    hits = found["result"]["structuredContent"]["results"]
    assert [h["content"] for h in hits if h["id"] == entry_id] == [fact]

    # a server-side JSON-RPC error is relayed as the server wrote it, with the request id
    unknown = relay.call({"jsonrpc": "2.0", "id": 5, "method": "no/such/method"})
    assert unknown["id"] == 5 and unknown["error"]["code"] == -32601

    code, out, err = relay.close()
    assert code == 0
    assert len(out.splitlines()) == 6
    assert token not in out and token not in err
    assert "Traceback" not in err


def test_bad_token_answers_with_the_request_id(srv: RunningServer, relay_to: Callable[..., Relay]) -> None:
    bogus = "nm_" + "x" * 43
    relay = relay_to(srv.base_url, bogus)
    answer = relay.call(dict(INIT, id=41))
    assert answer["id"] == 41
    assert answer["error"]["code"] == -32603 and "401" in answer["error"]["message"]
    assert "result" not in answer
    # no token at all: the same, and nothing written for the refused notification
    relay.send(INITIALIZED)
    again = relay.call({"jsonrpc": "2.0", "id": "42", "method": "tools/list"})
    assert again["id"] == "42" and again["error"]["code"] == -32603
    code, out, err = relay.close()
    assert code == 0 and len(out.splitlines()) == 2
    assert bogus not in out and bogus not in err
    assert "401" in err  # the refused notification is reported on stderr only


def test_unreachable_server(relay_to: Callable[..., Relay]) -> None:
    port = free_port()  # nothing listens there
    secret = "nm_" + "s" * 43
    relay = relay_to(f"http://127.0.0.1:{port}/", secret)
    answer = relay.call(dict(INIT, id=7))
    assert answer["id"] == 7 and answer["error"]["code"] == -32603
    assert f"127.0.0.1:{port}" in answer["error"]["message"]
    relay.send(INITIALIZED)  # no id to answer: stderr only
    later = relay.call({"jsonrpc": "2.0", "id": 8, "method": "tools/list"})
    assert later["id"] == 8 and later["error"]["code"] == -32603
    code, out, err = relay.close()
    assert code == 0 and len(out.splitlines()) == 2
    assert secret not in out and secret not in err and "Traceback" not in err + out


class SseServer(BaseHTTPRequestHandler):
    """Answers every request as an SSE stream (a progress notification, then the response), hands out a
    session id on initialize, and records each request's method, headers and body."""

    seen: list[tuple[str, dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        self.seen.append(("POST", {k.lower(): v for k, v in self.headers.items()}, body))
        message = json.loads(body)
        if "id" not in message:
            self.send_response(202)
            self.send_header("content-length", "0")
            self.end_headers()
            return
        result: dict[str, Any] = {"echo": message["method"], "text": "two\nlines"}
        if message["method"] == "initialize":
            result["protocolVersion"] = "2025-06-18"
        events = [
            {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": 1, "progress": 1}},
            {"jsonrpc": "2.0", "id": message["id"], "result": result},
        ]
        payload = b"".join(
            b"event: message\ndata: " + json.dumps(e, indent=1).replace("\n", "\ndata: ").encode() + b"\n\n"
            for e in events
        )
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(payload)))
        if message["method"] == "initialize":
            self.send_header("mcp-session-id", "sess-123")
        self.end_headers()
        self.wfile.write(payload)

    def do_DELETE(self) -> None:
        self.seen.append(("DELETE", {k.lower(): v for k, v in self.headers.items()}, b""))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def sse_server() -> Iterator[tuple[str, list[tuple[str, dict[str, str], bytes]]]]:
    SseServer.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), SseServer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", SseServer.seen
    httpd.shutdown()
    httpd.server_close()


def test_sse_answers_and_session_headers(
    sse_server: tuple[str, list[tuple[str, dict[str, str], bytes]]], relay_to: Callable[..., Relay]
) -> None:
    base, seen = sse_server
    relay = relay_to(base, "nm_sse_token")
    relay.send(INIT)
    progress, answer = relay.read(), relay.read()
    assert progress["method"] == "notifications/progress"
    assert answer == {
        "jsonrpc": "2.0",
        "id": 1,
        "result": {"echo": "initialize", "text": "two\nlines", "protocolVersion": "2025-06-18"},
    }
    relay.send(INITIALIZED)
    relay.send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    assert relay.read()["method"] == "notifications/progress"
    assert relay.read()["result"]["echo"] == "tools/list"
    code, out, _ = relay.close()
    assert code == 0 and len(out.splitlines()) == 4

    methods = [(method, json.loads(body).get("method") if body else None) for method, _, body in seen]
    assert methods == [
        ("POST", "initialize"),
        ("POST", "notifications/initialized"),
        ("POST", "tools/list"),
        ("DELETE", None),
    ]
    first = seen[0][1]
    assert first["authorization"] == "Bearer nm_sse_token"
    assert first["content-type"] == "application/json"
    assert first["accept"] == "application/json, text/event-stream"
    assert "mcp-session-id" not in first
    for _, headers, _ in seen[1:]:
        assert headers["mcp-session-id"] == "sess-123"
        assert headers["mcp-protocol-version"] == "2025-06-18"
    # the line is relayed byte for byte
    assert seen[2][2] == json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}).encode()
