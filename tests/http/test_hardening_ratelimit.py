"""The per-IP request rate limit: one budget across server processes, probes and MCP streams exempt,
`X-Forwarded-For` believed only from trusted proxies, and fail-open when the counter is unavailable."""

from __future__ import annotations

import ipaddress
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest

from novamem.http.middleware.client import client_address
from tests.conftest import RunningServer, free_port, start_server, wait_for
from tests.http.identity_helpers import COOKIE_SECRET

SIGN_IN = "/api/auth/sign-in/email"


def _limited(response: httpx.Response, limit: int, remaining: int) -> None:
    assert response.headers["x-ratelimit-limit"] == str(limit)
    assert response.headers["x-ratelimit-remaining"] == str(remaining)
    assert 1 <= int(response.headers["x-ratelimit-reset"]) <= 60


def _is_429(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 429
    retry = int(response.headers["retry-after"])
    assert 1 <= retry <= 60
    assert response.json() == {"error": f"Rate limit exceeded, retry in {retry} seconds"}
    _limited(response, limit, 0)
    assert response.headers["x-ratelimit-reset"] == str(retry)
    assert response.headers["x-content-type-options"] == "nosniff"


@contextmanager
def _serve_process(database_url: str, **env: str) -> Iterator[str]:
    """`novamem serve` as its own process; yields its base URL."""
    port = free_port()
    full = {
        **os.environ,
        "NOVAMEM_DATABASE_URL": database_url,
        "NOVAMEM_HOST": "127.0.0.1",
        "NOVAMEM_PORT": str(port),
        "NOVAMEM_AUTH_MODE": "none",
        "NOVAMEM_JOBS_ENABLED": "false",
        "NOVAMEM_EMBEDDINGS_PROVIDER": "none",
        "NOVAMEM_LOG_LEVEL": "warning",
        **env,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "novamem", "serve"], env=full, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{base}/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        assert wait_for(ready, timeout=90, every=0.2), "server did not become ready"
        yield base
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


def test_the_budget_is_exact_across_two_server_processes(make_database: Callable[[], str]) -> None:
    url = make_database()
    limit = 7
    with (
        _serve_process(url, NOVAMEM_RATE_LIMIT_PER_MINUTE=str(limit)) as first,
        _serve_process(url, NOVAMEM_RATE_LIMIT_PER_MINUTE=str(limit)) as second,
    ):
        # readiness probes before this point were not counted; every request below is a new connection
        bases = [first, second]
        for i in range(limit):
            r = httpx.post(bases[i % 2] + "/v1/recent", json={}, headers={"connection": "close"}, timeout=30)
            assert r.status_code == 200, (i, r.text)
            _limited(r, limit, limit - 1 - i)
        for i in range(2):
            r = httpx.post(bases[i % 2] + "/v1/recent", json={}, headers={"connection": "close"}, timeout=30)
            _is_429(r, limit)
        # probes stay open on both, over the budget
        for base in bases:
            for path in ("/health", "/live", "/ready"):
                probe = httpx.get(base + path, headers={"connection": "close"}, timeout=30)
                assert probe.status_code == 200 and "x-ratelimit-limit" not in probe.headers


@pytest.fixture
def limited(make_database: Callable[[], str]) -> Iterator[Callable[..., RunningServer]]:
    started: list[RunningServer] = []

    def start(**settings: object) -> RunningServer:
        server = start_server(make_database(), jobs_enabled=False, embeddings_provider="none", **settings)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def test_zero_disables_the_limit(limited: Callable[..., RunningServer]) -> None:
    server = limited(rate_limit_per_minute=0)
    with server.client() as client:
        for _ in range(20):
            r = client.post("/v1/recent", json={})
            assert r.status_code == 200 and "x-ratelimit-limit" not in r.headers
    assert server.sql("SELECT count(*) FROM rate_counters")[0][0] == 0


def test_probes_are_never_limited_nor_counted(limited: Callable[..., RunningServer]) -> None:
    server = limited(rate_limit_per_minute=2)
    with server.client() as client:
        for _ in range(5):
            for path in ("/health", "/live", "/ready"):
                r = client.get(path)
                assert r.status_code == 200 and "x-ratelimit-remaining" not in r.headers
        _limited(client.get("/openapi.json"), 2, 1)  # the probes above did not count
        _limited(client.get("/favicon.ico"), 2, 0)
        _is_429(client.get("/openapi.json"), 2)
        # a 404 counts like anything else, and so do errors answered before a route runs
        _is_429(client.get("/no/such/route"), 2)
        assert client.get("/live").status_code == 200


def test_an_open_mcp_stream_is_not_counted(limited: Callable[..., RunningServer]) -> None:
    server = limited(rate_limit_per_minute=4)
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    with server.client() as client:
        r = client.post("/mcp", json=initialize, headers={"accept": "application/json, text/event-stream"})
        assert r.status_code == 200, r.text
        _limited(r, 4, 3)
        session = r.headers["mcp-session-id"]
        stream_headers = {
            "accept": "text/event-stream",
            "mcp-session-id": session,
            "mcp-protocol-version": "2025-06-18",
        }
        with httpx.Client(base_url=server.base_url, timeout=30) as streams:
            opened = []
            for _ in range(6):  # more streams than the whole budget
                cm = streams.stream("GET", "/mcp", headers=stream_headers)
                response = cm.__enter__()
                opened.append(cm)
                assert response.status_code == 200
                assert "x-ratelimit-limit" not in response.headers
                assert next(response.iter_raw()).startswith(b": stream open")
            # while they are open, ordinary requests count from where initialize left the budget
            _limited(client.post("/v1/recent", json={}), 4, 2)
            for cm in opened:
                cm.__exit__(None, None, None)
        _limited(client.post("/v1/recent", json={}), 4, 1)


def test_spoofed_forwarded_for_from_an_untrusted_peer_changes_nothing(limited: Callable[..., RunningServer]) -> None:
    server = limited(rate_limit_per_minute=3)
    for i, spoof in enumerate(["1.1.1.1", "2.2.2.2", "3.3.3.3"]):
        r = httpx.post(server.base_url + "/v1/recent", json={}, headers={"x-forwarded-for": spoof})
        _limited(r, 3, 2 - i)
    _is_429(httpx.post(server.base_url + "/v1/recent", json={}, headers={"x-forwarded-for": "4.4.4.4"}), 3)
    assert server.sql("SELECT key FROM rate_counters") == [("rate:127.0.0.1",)]


def test_forwarded_for_from_a_trusted_proxy_gives_each_client_its_budget(
    limited: Callable[..., RunningServer],
) -> None:
    server = limited(rate_limit_per_minute=2, trusted_proxies="127.0.0.1,10.0.0.0/8")

    def post(forwarded: str) -> httpx.Response:
        return httpx.post(server.base_url + "/v1/recent", json={}, headers={"x-forwarded-for": forwarded})

    _limited(post("9.9.9.9"), 2, 1)
    _limited(post("8.8.8.8"), 2, 1)
    # the client cannot escape its budget by writing its own entry: the proxy's rightmost entry wins
    _limited(post("6.6.6.6, 9.9.9.9"), 2, 0)
    _is_429(post("7.7.7.7, 9.9.9.9"), 2)
    # trusted proxies in the chain are skipped
    _limited(post("9.9.9.9, 8.8.8.8, 10.1.2.3"), 2, 0)
    _is_429(post("8.8.8.8"), 2)
    # a malformed entry ends the walk: the peer (the proxy itself) is the client then
    _limited(post("not-an-ip"), 2, 1)
    _limited(post("5.5.5.5, garbage"), 2, 0)
    keys = {row[0] for row in server.sql("SELECT key FROM rate_counters")}
    assert keys == {"rate:9.9.9.9", "rate:8.8.8.8", "rate:127.0.0.1"}


def test_sign_in_throttle_uses_the_same_client_address_rule(limited: Callable[..., RunningServer]) -> None:
    """`deps.client_ip` (sign-in throttle, audit IPs) follows the trusted-proxy rule too."""
    cookie = {"cookie_secret": COOKIE_SECRET, "insecure_cookies": True}
    untrusted = limited(auth_mode="user", **cookie)
    body = {"email": "nobody@example.com", "password": "p" * 9}
    for spoof in ("1.1.1.1", "2.2.2.2", "3.3.3.3"):
        assert (
            httpx.post(untrusted.base_url + SIGN_IN, json=body, headers={"x-forwarded-for": spoof}).status_code == 401
        )
    r = httpx.post(untrusted.base_url + SIGN_IN, json=body, headers={"x-forwarded-for": "4.4.4.4"})
    assert r.status_code == 429  # one throttle for the peer, whatever the header claims
    assert untrusted.sql("SELECT key FROM rate_counters WHERE key LIKE 'signin-ip:%%'") == [
        (f"signin-ip:127.0.0.1:{SIGN_IN}",)
    ]

    trusted = limited(auth_mode="user", trusted_proxies="127.0.0.1", **cookie)
    for client in ("1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4"):
        r = httpx.post(trusted.base_url + SIGN_IN, json=body, headers={"x-forwarded-for": client})
        assert r.status_code == 401, client  # four clients, four throttles
    keys = {row[0] for row in trusted.sql("SELECT key FROM rate_counters WHERE key LIKE 'signin-ip:%%'")}
    assert keys == {f"signin-ip:{ip}:{SIGN_IN}" for ip in ("1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4")}


def test_fails_open_with_one_warning_when_the_counter_is_unavailable(
    limited: Callable[..., RunningServer], caplog: pytest.LogCaptureFixture
) -> None:
    server = limited(rate_limit_per_minute=1)
    server.sql("ALTER TABLE rate_counters RENAME TO rate_counters_away")
    try:
        with caplog.at_level(logging.WARNING, logger="novamem.http.ratelimit"), server.client() as client:
            for _ in range(4):
                r = client.post("/v1/recent", json={})
                assert r.status_code == 200 and "x-ratelimit-limit" not in r.headers
        warnings = [rec for rec in caplog.records if rec.name == "novamem.http.ratelimit"]
        assert len(warnings) == 1 and "rate limit not enforced" in warnings[0].getMessage()
    finally:
        server.sql("ALTER TABLE rate_counters_away RENAME TO rate_counters")
    with server.client() as client:
        _limited(client.post("/v1/recent", json={}), 1, 0)
        _is_429(client.post("/v1/recent", json={}), 1)


# ---- the client address rule itself --------------------------------------------------------------------


def _scope(peer: str | None, *forwarded: str) -> dict[str, object]:
    return {
        "type": "http",
        "client": (peer, 5555) if peer else None,
        "headers": [(b"x-forwarded-for", value.encode()) for value in forwarded],
    }


NETS = [
    ipaddress.ip_network("127.0.0.1/32"),
    ipaddress.ip_network("10.0.0.0/8"),
    ipaddress.ip_network("fd00::/8"),
]


@pytest.mark.parametrize(
    ("peer", "forwarded", "networks", "expected"),
    [
        ("203.0.113.5", ("1.2.3.4",), NETS, "203.0.113.5"),  # untrusted peer: header ignored
        ("127.0.0.1", ("1.2.3.4",), [], "127.0.0.1"),  # no trusted proxies at all
        ("127.0.0.1", (), NETS, "127.0.0.1"),  # trusted peer, no header
        ("127.0.0.1", ("1.2.3.4",), NETS, "1.2.3.4"),
        ("127.0.0.1", ("6.6.6.6, 1.2.3.4",), NETS, "1.2.3.4"),  # rightmost untrusted wins
        ("127.0.0.1", ("1.2.3.4, 10.0.0.7",), NETS, "1.2.3.4"),  # trusted hops skipped
        ("127.0.0.1", ("6.6.6.6", "1.2.3.4, 10.0.0.7"), NETS, "1.2.3.4"),  # several headers join in order
        ("127.0.0.1", ("10.0.0.8, 10.0.0.7",), NETS, "10.0.0.8"),  # all trusted: the leftmost
        ("127.0.0.1", ("1.2.3.4, junk",), NETS, "127.0.0.1"),  # malformed: the last good one
        ("127.0.0.1", ("junk, 10.0.0.7",), NETS, "10.0.0.7"),
        ("127.0.0.1", ("1.2.3.4:8080",), NETS, "1.2.3.4"),
        ("127.0.0.1", ("[2001:db8::1]:443",), NETS, "2001:db8::1"),
        ("fd00::1", ("2001:db8::2",), NETS, "2001:db8::2"),
        ("::ffff:127.0.0.1", ("1.2.3.4",), NETS, "1.2.3.4"),  # v4-mapped peer
        (None, ("1.2.3.4",), NETS, None),
    ],
)
def test_client_address_rule(
    peer: str | None, forwarded: tuple[str, ...], networks: list[object], expected: str | None
) -> None:
    assert client_address(_scope(peer, *forwarded), networks) == expected  # type: ignore[arg-type]
