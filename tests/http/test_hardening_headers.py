"""Hardening headers on every response (successes, refusals, errors), the strict CSP on HTML pages, and HSTS
only for requests that arrived over TLS at a trusted proxy."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from novamem.http.middleware.headers import CONTENT_SECURITY_POLICY, HSTS
from tests.conftest import RunningServer, start_server
from tests.http.identity_helpers import COOKIE_SECRET

ALWAYS = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "x-frame-options": "DENY"}


def _hardened(response: httpx.Response) -> None:
    for name, value in ALWAYS.items():
        assert response.headers.get_list(name) == [value], (name, response.status_code, response.request.url)
    assert response.status_code < 500


@pytest.fixture(scope="module")
def user_server(make_database: Callable[[], str]) -> Iterator[RunningServer]:
    server = start_server(
        make_database(),
        auth_mode="user",
        cookie_secret=COOKIE_SECRET,
        insecure_cookies=True,
        jobs_enabled=False,
        embeddings_provider="none",
        cors_origins="https://app.example.com",
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def proxied(make_database: Callable[[], str]) -> Iterator[RunningServer]:
    server = start_server(make_database(), jobs_enabled=False, embeddings_provider="none", trusted_proxies="127.0.0.1")
    yield server
    server.stop()


def test_headers_on_successes_and_on_every_kind_of_refusal(user_server: RunningServer) -> None:
    base = user_server.base_url
    json_ct = {"content-type": "application/json"}
    cases: list[tuple[int, httpx.Response]] = [
        (200, httpx.get(base + "/live")),
        (200, httpx.get(base + "/openapi.json")),
        (204, httpx.get(base + "/favicon.ico")),
        (401, httpx.post(base + "/v1/recent", json={})),
        (401, httpx.get(base + "/v1/admin/metrics")),
        (404, httpx.get(base + "/no/such/route")),
        (400, httpx.post(base + "/api/auth/sign-in/email", content=b"{", headers=json_ct)),
        (400, httpx.post(base + "/v1/recent", content=b"[" * 100 + b"]" * 100, headers=json_ct)),
        (413, httpx.post(base + "/v1/remember", content=b"x" * (2 * 1024 * 1024 + 1))),
        (414, httpx.get(base + "/live?q=" + "a" * 3000)),
        (431, httpx.get(base + "/live", headers={"x-big": "a" * 9000})),
        (400, httpx.options(base + "/v1/search", headers={"origin": "https://app.example.com"})),
        (  # a refused preflight: 204 without any Access-Control-Allow-* header (the browser blocks it)
            204,
            httpx.options(base + "/v1/search", headers={"origin": "https://x", "access-control-request-method": "GET"}),
        ),
        (
            204,
            httpx.options(
                base + "/v1/search",
                headers={"origin": "https://app.example.com", "access-control-request-method": "GET"},
            ),
        ),
        (403, httpx.post(base + "/mcp", json={}, headers={"origin": "https://evil.example"})),
        (401, httpx.post(base + "/mcp", json={})),
    ]
    for status, response in cases:
        assert response.status_code == status, (response.request.url, response.text)
        _hardened(response)
        assert "strict-transport-security" not in response.headers  # plain HTTP, no trusted proxy
        assert "content-security-policy" not in response.headers  # not HTML


def test_headers_on_a_429(make_database: Callable[[], str]) -> None:
    server = start_server(make_database(), jobs_enabled=False, embeddings_provider="none", rate_limit_per_minute=1)
    try:
        _hardened(httpx.get(server.base_url + "/openapi.json"))
        r = httpx.get(server.base_url + "/openapi.json")
        assert r.status_code == 429
        _hardened(r)
    finally:
        server.stop()


def test_html_pages_get_the_strict_csp(user_server: RunningServer) -> None:
    r = httpx.get(user_server.base_url + "/api-docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers.get_list("content-security-policy") == [CONTENT_SECURITY_POLICY]
    for part in ("default-src 'self'", "script-src 'self'", "frame-ancestors 'none'"):
        assert part in CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY.split("script-src")[1].split(";")[0]
    assert "<script>" not in r.text  # no inline script: the page's code is under /api-docs/assets/
    _hardened(r)


def test_hsts_only_behind_a_trusted_proxy_that_saw_https(proxied: RunningServer, user_server: RunningServer) -> None:
    def hsts(server: RunningServer, proto: str | None) -> str | None:
        headers = {"x-forwarded-proto": proto} if proto is not None else {}
        return httpx.get(server.base_url + "/live", headers=headers).headers.get("strict-transport-security")

    assert hsts(proxied, "https") == HSTS == "max-age=31536000; includeSubDomains"
    assert hsts(proxied, "HTTPS") == HSTS
    assert hsts(proxied, "http, https") == HSTS  # the trusted proxy's own (rightmost) value decides
    assert hsts(proxied, "https, http") is None
    assert hsts(proxied, "http") is None
    assert hsts(proxied, None) is None
    # an untrusted peer claiming https is not believed
    assert hsts(user_server, "https") is None
    # HSTS also on refusals from a trusted TLS proxy
    r = httpx.get(proxied.base_url + "/nope", headers={"x-forwarded-proto": "https"})
    assert r.status_code == 404 and r.headers["strict-transport-security"] == HSTS
    r = httpx.get(proxied.base_url + "/live?" + "a" * 3000, headers={"x-forwarded-proto": "https"})
    assert r.status_code == 414 and r.headers["strict-transport-security"] == HSTS


def test_headers_even_on_an_unexpected_500(proxied: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(proxied.container.recall, "recent", broken)
    r = httpx.post(proxied.base_url + "/v1/recent", json={}, headers={"x-forwarded-proto": "https"})
    assert r.status_code == 500 and r.json() == {"error": "internal server error"}
    for name, value in ALWAYS.items():
        assert r.headers.get_list(name) == [value]
    assert r.headers["strict-transport-security"] == HSTS
    monkeypatch.undo()
    assert httpx.post(proxied.base_url + "/v1/recent", json={}).status_code == 200
