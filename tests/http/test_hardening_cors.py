"""CORS from NOVAMEM_CORS_ORIGINS over real servers: allow-list, `*`, off (empty or `self`), for simple
requests and preflights, allowed and rejected origins."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from novamem.http.middleware.cors import EXPOSE_HEADERS
from tests.conftest import RunningServer, start_server

APP = "https://app.example.com"
OTHER = "https://b.example.com"
EVIL = "https://evil.example.net"
MODES = {"list": f"{APP},{OTHER}/", "star": "*", "empty": "", "self": "self"}


@pytest.fixture(scope="module")
def servers(make_database: Callable[[], str]) -> Iterator[dict[str, RunningServer]]:
    running = {
        mode: start_server(make_database(), jobs_enabled=False, embeddings_provider="none", cors_origins=origins)
        for mode, origins in MODES.items()
    }
    yield running
    for server in running.values():
        server.stop()


def _cors(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


def _vary(response: httpx.Response) -> list[str]:
    return [v.strip().lower() for v in response.headers.get("vary", "").split(",") if v.strip()]


def _preflight(server: RunningServer, origin: str | None, method: str | None = "POST", **extra: str) -> httpx.Response:
    headers = dict(extra)
    if origin is not None:
        headers["origin"] = origin
    if method is not None:
        headers["access-control-request-method"] = method
    return httpx.options(server.base_url + "/v1/search", headers=headers)


# ---- simple (non-preflight) requests --------------------------------------------------------------


@pytest.mark.parametrize("origin", [APP, OTHER])
def test_list_echoes_an_allowed_origin_with_credentials(servers: dict[str, RunningServer], origin: str) -> None:
    r = httpx.post(servers["list"].base_url + "/v1/recent", json={}, headers={"origin": origin})
    assert r.status_code == 200
    assert _cors(r) == {
        "access-control-allow-origin": origin,
        "access-control-allow-credentials": "true",
        "access-control-expose-headers": EXPOSE_HEADERS,
    }
    assert "origin" in _vary(r)


def test_list_gives_a_rejected_origin_no_allow_header(servers: dict[str, RunningServer]) -> None:
    for origin in (EVIL, APP + ".evil.net", "null", APP.replace("https", "http")):
        r = httpx.post(servers["list"].base_url + "/v1/recent", json={}, headers={"origin": origin})
        assert r.status_code == 200  # the request runs; the browser withholds the answer from the page
        assert _cors(r) == {}, origin
        assert "origin" in _vary(r)
    r = httpx.get(servers["list"].base_url + "/live")  # no Origin: same-origin or not a browser
    assert _cors(r) == {} and "origin" in _vary(r)


def test_list_allow_headers_also_on_error_answers(servers: dict[str, RunningServer]) -> None:
    base = servers["list"].base_url
    for r in (
        httpx.get(base + "/no/such/route", headers={"origin": APP}),
        httpx.post(base + "/v1/search", content=b"{", headers={"origin": APP, "content-type": "application/json"}),
        httpx.post(base + "/v1/remember", content=b"x" * (2 * 1024 * 1024 + 1), headers={"origin": APP}),
    ):
        assert r.status_code in (400, 404, 413)
        assert r.headers["access-control-allow-origin"] == APP
        assert r.headers["x-content-type-options"] == "nosniff"


def test_star_allows_any_origin_without_credentials(servers: dict[str, RunningServer]) -> None:
    for origin in (APP, EVIL):
        r = httpx.post(servers["star"].base_url + "/v1/recent", json={}, headers={"origin": origin})
        assert r.status_code == 200
        assert _cors(r) == {"access-control-allow-origin": "*", "access-control-expose-headers": EXPOSE_HEADERS}


@pytest.mark.parametrize("mode", ["empty", "self"])
def test_off_means_no_cors_headers_at_all(servers: dict[str, RunningServer], mode: str) -> None:
    for origin in (APP, EVIL, None):
        headers = {"origin": origin} if origin else {}
        r = httpx.post(servers[mode].base_url + "/v1/recent", json={}, headers=headers)
        assert r.status_code == 200
        assert _cors(r) == {} and "origin" not in _vary(r)


# ---- preflights -------------------------------------------------------------------------------------


def test_list_preflight_for_an_allowed_origin(servers: dict[str, RunningServer]) -> None:
    r = _preflight(servers["list"], APP, "POST", **{"access-control-request-headers": "content-type,authorization"})
    assert r.status_code == 204 and r.content == b""
    assert _cors(r) == {
        "access-control-allow-origin": APP,
        "access-control-allow-credentials": "true",
        "access-control-allow-methods": "GET,HEAD,POST",
        "access-control-allow-headers": "content-type,authorization",
        "access-control-max-age": "600",
    }
    assert "origin" in _vary(r)
    assert r.headers["x-frame-options"] == "DENY"
    # without requested headers, none are echoed
    r = _preflight(servers["list"], OTHER, "GET")
    assert r.status_code == 204 and "access-control-allow-headers" not in r.headers
    assert r.headers["access-control-allow-origin"] == OTHER


def test_list_preflight_for_a_rejected_origin_is_204_without_allow_headers(servers: dict[str, RunningServer]) -> None:
    r = _preflight(servers["list"], EVIL, "POST", **{"access-control-request-headers": "authorization"})
    assert r.status_code == 204 and r.content == b""
    assert not [h for h in r.headers if h.lower().startswith("access-control-allow-")]
    assert _cors(r) == {} and "origin" in _vary(r)


def test_star_preflight_never_offers_credentials(servers: dict[str, RunningServer]) -> None:
    r = _preflight(servers["star"], EVIL, "POST", **{"access-control-request-headers": "x-custom"})
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in r.headers
    assert r.headers["access-control-allow-headers"] == "x-custom"
    assert r.headers["access-control-allow-methods"] == "GET,HEAD,POST"


@pytest.mark.parametrize("mode", ["list", "star"])
@pytest.mark.parametrize(("origin", "method"), [(None, "POST"), (APP, None), (None, None)])
def test_invalid_preflight(
    servers: dict[str, RunningServer], mode: str, origin: str | None, method: str | None
) -> None:
    r = _preflight(servers[mode], origin, method)
    assert r.status_code == 400
    assert r.text == "Invalid Preflight Request"
    assert r.headers["content-type"].startswith("text/plain")
    assert _cors(r) == {}


@pytest.mark.parametrize("mode", ["empty", "self"])
def test_preflight_when_off_reaches_the_routes_and_gets_no_allow_header(
    servers: dict[str, RunningServer], mode: str
) -> None:
    r = _preflight(servers[mode], APP, "POST")
    assert r.status_code == 404
    assert r.json()["error"] == "Not Found"
    assert _cors(r) == {}


def test_preflights_are_not_rate_limited(make_database: Callable[[], str]) -> None:
    server = start_server(make_database(), jobs_enabled=False, cors_origins=APP, rate_limit_per_minute=1)
    try:
        for _ in range(5):
            r = _preflight(server, APP, "POST")
            assert r.status_code == 204 and "x-ratelimit-limit" not in r.headers
        first = httpx.get(server.base_url + "/openapi.json", headers={"origin": APP})
        assert first.headers["x-ratelimit-remaining"] == "0"  # the preflights did not count
        second = httpx.get(server.base_url + "/openapi.json", headers={"origin": APP})
        assert second.status_code == 429
        assert second.headers["access-control-allow-origin"] == APP  # the page can read why
    finally:
        server.stop()


def test_mcp_keeps_its_origin_guard(servers: dict[str, RunningServer]) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    headers = {"accept": "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18"}
    r = httpx.post(servers["list"].base_url + "/mcp", json=body, headers={**headers, "origin": EVIL})
    assert r.status_code == 403 and "not in allowlist" in r.text
    assert "access-control-allow-origin" not in r.headers
    r = httpx.post(servers["list"].base_url + "/mcp", json=body, headers={**headers, "origin": APP})
    assert r.status_code != 403
    assert r.headers["access-control-allow-origin"] == APP
