"""A round-robin HTTP/1.1 load balancer for replica tests: no affinity, one new upstream connection per request.

Each client request is read whole, sent to the next replica in turn with `Connection: close` and the
client's address appended to `X-Forwarded-For` (as a real reverse proxy does), and the answer is relayed
until the replica closes the connection; the client's connection is closed after it, so keep-alive can never
pin a client to one replica. A replica whose port refuses the connection (it is down) is skipped, as a load
balancer's health check would, because nothing reached it. A replica that drops a request it accepted (it
died with the request in flight) is not retried: the client gets 502 (or a cut answer) and the proxy records
the failure against that replica.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["TAG_HEADER", "RoundRobinProxy", "Routed"]

TAG_HEADER = "x-test-request"  # echoed into the routing record, to match a client's request to it
_MAX_HEAD = 64 * 1024
_HOP_BY_HOP = {b"connection", b"keep-alive", b"proxy-connection", b"te", b"upgrade"}
_BAD_GATEWAY = json.dumps({"error": "bad gateway"}).encode()


@dataclass
class Routed:
    """What happened to one client request: which replica got it and whether it answered in full."""

    tag: str | None
    method: str
    path: str
    client: str
    upstream: int | None = None  # index of the replica the request was sent to (None: none was reachable)
    refused: list[int] = field(default_factory=list)  # replicas skipped first because their port was closed
    status: int | None = None  # the replica's status code, when it answered
    failed: bool = False  # the replica took the request and did not answer it in full


@dataclass
class _Request:
    method: str
    path: str
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: bytes) -> bytes | None:
        return next((v for k, v in self.headers if k == name), None)

    def forwarded(self, client: str) -> bytes:
        """The request as sent upstream: hop-by-hop headers dropped, the client appended to X-Forwarded-For."""
        kept = [(k, v) for k, v in self.headers if k not in _HOP_BY_HOP and k != b"x-forwarded-for"]
        chain = [v for k, v in self.headers if k == b"x-forwarded-for"]
        kept.append((b"x-forwarded-for", b", ".join([*chain, client.encode()])))
        kept.append((b"connection", b"close"))
        lines = [f"{self.method} {self.path} HTTP/1.1".encode(), *(k + b": " + v for k, v in kept)]
        return b"\r\n".join(lines) + b"\r\n\r\n" + self.body


def _read_request(conn: socket.socket) -> _Request | None:
    """One request with its Content-Length body; None when the client closed or sent something unsupported."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk or len(data) > _MAX_HEAD:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    request_line, *header_lines = head.split(b"\r\n")
    method, path, _version = request_line.decode("latin-1").split(" ", 2)
    headers = []
    for line in header_lines:
        name, _, value = line.partition(b":")
        headers.append((name.strip().lower(), value.strip()))
    request = _Request(method, path, headers, body)
    if request.header(b"transfer-encoding") is not None:
        return None  # the test clients always send Content-Length
    length = int(request.header(b"content-length") or b"0")
    while len(request.body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        request.body += chunk
    return request


class _Answer:
    """Tracks a relayed response, to tell a complete answer from one cut short by a dying replica."""

    def __init__(self) -> None:
        self.head = b""
        self.body_bytes = 0
        self.tail = b""
        self._head_done = False

    def feed(self, chunk: bytes) -> None:
        if self._head_done:
            self.body_bytes += len(chunk)
        else:
            self.head += chunk
            if b"\r\n\r\n" in self.head:
                self.head, _, rest = self.head.partition(b"\r\n\r\n")
                self._head_done = True
                self.body_bytes = len(rest)
                chunk = rest
        self.tail = (self.tail + chunk)[-5:]

    @property
    def status(self) -> int | None:
        parts = self.head.split(b" ", 2)
        return int(parts[1]) if self._head_done and len(parts) > 1 and parts[1].isdigit() else None

    def complete(self) -> bool:
        if not self._head_done:
            return False
        fields = dict(
            (name.strip().lower(), value.strip())
            for name, _, value in (line.partition(b":") for line in self.head.split(b"\r\n")[1:])
        )
        if b"content-length" in fields:
            return self.body_bytes >= int(fields[b"content-length"])
        if fields.get(b"transfer-encoding", b"").lower() == b"chunked":
            return self.tail == b"0\r\n\r\n"
        return True  # delimited by the close itself


class RoundRobinProxy:
    """Listens on a free loopback port and spreads requests over `upstream_ports` in turn."""

    def __init__(self, upstream_ports: Sequence[int], *, timeout_s: float = 60.0) -> None:
        self._ports = list(upstream_ports)
        self._timeout_s = timeout_s
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._lock = threading.Lock()
        self._next = 0
        self._routed: list[Routed] = []
        self._active = 0
        self._thread = threading.Thread(target=self._accept_loop, name="round-robin-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(timeout=10)

    def routed(self) -> list[Routed]:
        """Every request received so far, in the order they arrived (the last ones may still be in flight)."""
        with self._lock:
            return list(self._routed)

    def find(self, tag: str) -> Routed:
        """The record of the request that carried `tag` in its `x-test-request` header."""
        return next(r for r in self.routed() if r.tag == tag)

    def wait_idle(self, timeout_s: float = 30.0) -> bool:
        """Wait until no request is in flight; False if some still are after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if self._active == 0:
                    return True
            time.sleep(0.02)
        return False

    def _accept_loop(self) -> None:
        while True:
            try:
                conn, peer = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn, str(peer[0])), daemon=True).start()

    def _turn(self) -> int:
        with self._lock:
            turn = self._next
            self._next += 1
            return turn % len(self._ports)

    def _connect(self, routed: Routed) -> socket.socket | None:
        first = self._turn()
        for step in range(len(self._ports)):
            index = (first + step) % len(self._ports)
            try:
                upstream = socket.create_connection(("127.0.0.1", self._ports[index]), timeout=5)
            except ConnectionRefusedError:
                routed.refused.append(index)
                continue
            upstream.settimeout(self._timeout_s)
            routed.upstream = index
            return upstream
        return None

    def _handle(self, conn: socket.socket, client: str) -> None:
        with conn:
            conn.settimeout(self._timeout_s)
            try:
                request = _read_request(conn)
            except OSError:
                return
            if request is None:
                return
            tag = request.header(TAG_HEADER.encode())
            routed = Routed(tag.decode() if tag else None, request.method, request.path, client)
            with self._lock:
                self._routed.append(routed)
                self._active += 1
            try:
                self._relay(conn, request, routed)
            finally:
                with self._lock:
                    self._active -= 1

    def _relay(self, conn: socket.socket, request: _Request, routed: Routed) -> None:
        upstream = self._connect(routed)
        answer = _Answer()
        if upstream is not None:
            with upstream:
                try:
                    upstream.sendall(request.forwarded(routed.client))
                    while chunk := upstream.recv(65536):
                        answer.feed(chunk)
                        conn.sendall(chunk)
                except OSError:
                    pass  # a dead replica (reset) or a client gone: decided below by what arrived
            routed.status = answer.status
        routed.failed = upstream is not None and not answer.complete()
        if answer.head == b"" and answer.body_bytes == 0:
            with contextlib.suppress(OSError):
                conn.sendall(
                    b"HTTP/1.1 502 Bad Gateway\r\ncontent-type: application/json\r\nconnection: close\r\n"
                    + f"content-length: {len(_BAD_GATEWAY)}\r\n\r\n".encode()
                    + _BAD_GATEWAY
                )
