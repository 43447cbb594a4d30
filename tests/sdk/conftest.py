"""Fixtures of the SDK tests: the client package from `clients/python/src`, a real user-mode server with an
admin token, and tiny stdlib HTTP servers on loopback that answer whatever a test needs (slow, 500, 429,
garbage, degraded)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import RunningServer, start_server
from tests.http.identities import USER_MODE, add_user, mint

SDK_ROOT = Path(__file__).resolve().parents[2] / "clients" / "python"
if str(SDK_ROOT / "src") not in sys.path:  # the tests exercise the package as it is in the tree
    sys.path.insert(0, str(SDK_ROOT / "src"))


@dataclass
class Accounts:
    """Credentials on the SDK test server: an admin's full token, a user's full and read-only tokens."""

    admin: str
    user: str
    reader: str
    user_id: str


@pytest.fixture(scope="package")
def sdk_server(make_database: Callable[[], str]) -> Iterator[RunningServer]:
    """A real user-mode server (keyword search; no embedder, so nothing is ever 'degraded')."""
    running = start_server(make_database(), **USER_MODE, embeddings_provider="none")
    yield running
    running.stop()


@pytest.fixture(scope="package")
def accounts(sdk_server: RunningServer) -> Accounts:
    """An admin and a user, arranged with SQL; everything after this goes through the SDK."""
    admin = add_user(sdk_server, "sdk-admin", role="admin")
    user = add_user(sdk_server, "sdk-user")
    return Accounts(
        admin=mint(sdk_server, admin),
        user=mint(sdk_server, user),
        reader=mint(sdk_server, user, scope="read_only"),
        user_id=user,
    )


@dataclass
class Canned:
    """What a canned server answers, and the requests it saw."""

    status: int = 200
    body: bytes = b"{}"
    content_type: str = "application/json"
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


def _handler(canned: Canned) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            self.rfile.read(length)
            canned.seen.append((self.command, self.path, dict(self.headers.items())))
            time.sleep(canned.delay)
            self.send_response(canned.status)
            self.send_header("content-type", canned.content_type)
            self.send_header("content-length", str(len(canned.body)))
            for name, value in canned.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(canned.body)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the tests read `canned.seen` instead."""

    return Handler


@pytest.fixture
def canned() -> Iterator[Callable[..., tuple[str, Canned]]]:
    """Start stdlib HTTP servers on 127.0.0.1 answering a fixed response; each is shut down after the test."""
    servers: list[ThreadingHTTPServer] = []

    def serve(**answer: object) -> tuple[str, Canned]:
        spec = Canned(**answer)  # type: ignore[arg-type]
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(spec))
        httpd.daemon_threads = True
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}", spec

    yield serve
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()
