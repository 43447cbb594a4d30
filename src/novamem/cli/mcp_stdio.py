"""`novamem mcp-stdio`: a stdio relay for MCP hosts that only run local processes (Claude Desktop).

Each newline-delimited JSON-RPC message read from stdin is POSTed to `{NOVAMEM_BASE_URL}/mcp` with the
`NOVAMEM_TOKEN` bearer; the answer (a JSON body, or the `data:` messages of an SSE stream) is written back as
one line per message. Notifications the server accepts with 202 produce no output. Transport failures are
answered as JSON-RPC errors carrying the request id, so the host never waits on a request forever, and nothing
but JSON-RPC ever reaches stdout. The token never appears in any output.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from typing import Any, BinaryIO

import httpx

__all__ = ["DEFAULT_BASE_URL", "PARSE_ERROR", "TRANSPORT_ERROR", "Relay", "add_parser", "run"]

DEFAULT_BASE_URL = "http://127.0.0.1:7778"
TIMEOUT_SECONDS = 120.0
PARSE_ERROR = -32700
TRANSPORT_ERROR = -32603  # JSON-RPC "internal error", as the reference relay answers
SESSION_HEADER = "mcp-session-id"
VERSION_HEADER = "mcp-protocol-version"

HELP = "relay MCP over stdio to a novamem server (for hosts like Claude Desktop)"
DESCRIPTION = """\
Relay the Model Context Protocol between stdin/stdout and a novamem server, for MCP hosts that
only launch local processes (Claude Desktop). Reads one JSON-RPC message per line on stdin,
POSTs it to {NOVAMEM_BASE_URL}/mcp and writes each answer as one line on stdout. Transport
failures are answered as JSON-RPC errors (-32603; -32700 for a line that is not JSON) carrying
the request id. Exits 0 at end of input.

Environment:
  NOVAMEM_BASE_URL  the server's base URL (default http://127.0.0.1:7778)
  NOVAMEM_TOKEN     an nm_ API token (`novamem token create`), sent as a bearer token

Claude Desktop entry:
  {"mcpServers": {"novamem": {"command": "novamem", "args": ["mcp-stdio"],
    "env": {"NOVAMEM_BASE_URL": "https://memory.example.com", "NOVAMEM_TOKEN": "nm_..."}}}}
"""


def add_parser(sub: Any) -> None:
    sub.add_parser(
        "mcp-stdio",
        help=HELP,
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def run(args: argparse.Namespace | None = None) -> int:
    base_url = os.environ.get("NOVAMEM_BASE_URL", "").strip() or DEFAULT_BASE_URL
    token = os.environ.get("NOVAMEM_TOKEN", "").strip() or None
    relay = Relay(base_url, token)
    try:
        return relay.serve(sys.stdin.buffer, sys.stdout.buffer)
    except KeyboardInterrupt:
        return 0
    finally:
        relay.close()


def error_message(request_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


def is_jsonrpc(value: Any) -> bool:
    """A JSON-RPC message (or batch) as opposed to a REST-style error envelope such as {"error": "..."}."""
    if isinstance(value, list):
        return bool(value) and all(is_jsonrpc(item) for item in value)
    return isinstance(value, dict) and value.get("jsonrpc") == "2.0"


def sse_messages(lines: Iterator[str]) -> Iterator[str]:
    """The `data:` payloads of an SSE stream, one string per event (multi-line data joined by newlines)."""
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith("data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)


class Relay:
    """One HTTP client, the session headers learned from the server, and the stdin loop."""

    def __init__(self, base_url: str, token: str | None, *, timeout: float = TIMEOUT_SECONDS) -> None:
        self.base_url = base_url.rstrip("/")
        self.endpoint = f"{self.base_url}/mcp"
        headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self.client = httpx.Client(headers=headers, timeout=timeout, follow_redirects=False)
        self.session: dict[str, str] = {}
        self.out: BinaryIO | None = None

    def close(self) -> None:
        self.client.close()

    # -- the loop -------------------------------------------------------------------------------------------

    def serve(self, stdin: BinaryIO, stdout: BinaryIO) -> int:
        self.out = stdout
        try:
            for raw in stdin:
                line = raw.strip()
                if line:
                    self.relay(line)
        except BrokenPipeError:  # the host went away: nothing left to answer
            return 0
        self.end_session()
        return 0

    def relay(self, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            self.write(error_message(None, PARSE_ERROR, "Parse error: the line is not valid JSON"))
            return
        request_id = message.get("id") if isinstance(message, dict) else None
        expects_answer = isinstance(message, list) or (
            isinstance(message, dict) and "method" in message and message.get("id") is not None
        )
        try:
            self.post(line, message, request_id, expects_answer)
        except BrokenPipeError:
            raise
        except httpx.TimeoutException:
            self.fail(request_id, expects_answer, f"novamem at {self.base_url} did not answer in time")
        except httpx.ConnectError:
            self.fail(request_id, expects_answer, f"cannot connect to novamem at {self.base_url}")
        except httpx.HTTPError as exc:
            self.fail(request_id, expects_answer, f"transport error talking to {self.base_url}: {type(exc).__name__}")
        except Exception as exc:  # the relay answers every request, whatever went wrong
            self.fail(request_id, expects_answer, f"relay error: {type(exc).__name__}")

    def post(self, line: bytes, message: Any, request_id: Any, expects_answer: bool) -> None:
        with self.client.stream("POST", self.endpoint, content=line, headers=self.session) as response:
            self.remember_session(response)
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type == "text/event-stream" and response.is_success:
                answered = False
                for data in sse_messages(response.iter_lines()):
                    answered = self.write_body(data.encode(), message) or answered
                if expects_answer and not answered:
                    self.fail(request_id, True, "novamem closed the event stream without an answer")
                return
            body = response.read()
            if body.strip() and self.write_body(body, message):
                return
            if response.is_success and not expects_answer:
                return  # 202 Accepted for a notification or a response: nothing to write
            problem = (
                f"novamem answered HTTP {response.status_code}{detail(body)}"
                if not response.is_success
                else f"novamem answered HTTP {response.status_code} without a JSON-RPC message"
            )
            self.fail(request_id, expects_answer, problem)

    def write_body(self, body: bytes, sent: Any) -> bool:
        """Write the body as one line if it is a JSON-RPC message; False when it is not one."""
        try:
            value = json.loads(body)
        except ValueError:
            return False
        if not is_jsonrpc(value):
            return False
        self.learn_version(sent, value)
        self.write(value)
        return True

    # -- session headers ------------------------------------------------------------------------------------

    def remember_session(self, response: httpx.Response) -> None:
        for name, header in ((SESSION_HEADER, "Mcp-Session-Id"), (VERSION_HEADER, "MCP-Protocol-Version")):
            value = response.headers.get(name)
            if value:
                self.session[header] = value

    def learn_version(self, sent: Any, answer: Any) -> None:
        """After `initialize`, later requests carry the negotiated protocol version (as MCP clients must)."""
        if not (isinstance(sent, dict) and sent.get("method") == "initialize" and isinstance(answer, dict)):
            return
        result = answer.get("result")
        version = result.get("protocolVersion") if isinstance(result, dict) else None
        if isinstance(version, str) and version and "MCP-Protocol-Version" not in self.session:
            self.session["MCP-Protocol-Version"] = version

    def end_session(self) -> None:
        """Best effort: tell the server a stateful session is over."""
        if "Mcp-Session-Id" not in self.session:
            return
        try:
            self.client.delete(self.endpoint, headers=self.session, timeout=5)
        except httpx.HTTPError:
            pass

    # -- output -------------------------------------------------------------------------------------------------

    def fail(self, request_id: Any, expects_answer: bool, problem: str) -> None:
        if expects_answer:
            self.write(error_message(request_id, TRANSPORT_ERROR, problem))
        else:  # a notification has no id to answer: say so on stderr only
            print(f"novamem mcp-stdio: {problem}", file=sys.stderr)  # noqa: T201

    def write(self, value: Any) -> None:
        assert self.out is not None
        self.out.write(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
        self.out.flush()


def detail(body: bytes) -> str:
    """A short reason from a REST-style error body ({"error": "..."}), if there is one."""
    try:
        value = json.loads(body)
    except ValueError:
        return ""
    if isinstance(value, dict) and isinstance(value.get("error"), str):
        return f": {value['error'][:200]}"
    return ""
