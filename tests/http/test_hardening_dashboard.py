"""The dashboard switch: NOVAMEM_ADMIN_DASHBOARD=0 makes the dashboard and metrics routes 404 for everyone,
decided before authentication (and before the rate limiter)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.conftest import RunningServer, start_server
from tests.http.identity_helpers import COOKIE_SECRET, add_user, mint, session_cookie

HIDDEN = ["/admin", "/admin/", "/admin/users", "/admin/assets/app.js", "/v1/admin/metrics", "/v1/admin/metrics/prom"]
DISABLED = {"error": "admin disabled"}


def _start(database_url: str, **settings: object) -> RunningServer:
    return start_server(
        database_url,
        auth_mode="user",
        cookie_secret=COOKIE_SECRET,
        insecure_cookies=True,
        jobs_enabled=False,
        embeddings_provider="none",
        **settings,
    )


@pytest.fixture(scope="module")
def switched_off(make_database: Callable[[], str]) -> Iterator[RunningServer]:
    server = _start(make_database(), admin_dashboard=False, rate_limit_per_minute=5)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def admin_token(switched_off: RunningServer) -> str:
    add_user(switched_off, "boss@example.com", role="admin")
    return mint(switched_off, "boss@example.com")


def test_hidden_routes_answer_404_for_everyone(switched_off: RunningServer, admin_token: str) -> None:
    admin_id = switched_off.sql("SELECT id FROM users WHERE email = 'boss@example.com'")[0][0]
    credentials: list[tuple[str, dict[str, str], dict[str, str]]] = [
        ("nobody", {}, {}),
        ("bad token", {"authorization": "Bearer nm_not-a-real-token"}, {}),
        ("admin token", {"authorization": f"Bearer {admin_token}"}, {}),
        ("admin session", {}, session_cookie(switched_off, admin_id)),
    ]
    for who, headers, cookies in credentials:
        with httpx.Client(base_url=switched_off.base_url, headers=headers, cookies=cookies) as client:
            for path in HIDDEN:
                for method in ("GET", "POST"):
                    r = client.request(method, path)
                    assert r.status_code == 404, (who, method, path, r.text)
                    assert r.json() == DISABLED, (who, path)
                    assert r.headers["x-content-type-options"] == "nosniff"
                    assert "www-authenticate" not in r.headers
                    assert "x-ratelimit-limit" not in r.headers  # answered before the limiter counts


def test_other_admin_routes_stay(switched_off: RunningServer, admin_token: str) -> None:
    with switched_off.client() as anonymous:
        assert anonymous.get("/v1/admin/users").status_code == 401
    with switched_off.client(headers={"authorization": f"Bearer {admin_token}"}) as admin:
        assert admin.get("/v1/admin/users").status_code == 200
        assert admin.get("/v1/admin/health/deep").status_code == 200


def test_switched_on_the_metrics_need_an_admin(make_database: Callable[[], str]) -> None:
    server = _start(make_database())
    try:
        add_user(server, "boss@example.com", role="admin")
        token = mint(server, "boss@example.com")
        with server.client() as anonymous:
            r = anonymous.get("/v1/admin/metrics")
            assert r.status_code == 401 and r.json() == {"error": "unauthorized"}
            r = anonymous.get("/admin")
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")  # the sign-in page
        with server.client(headers={"authorization": f"Bearer {token}"}) as admin:
            assert admin.get("/v1/admin/metrics").status_code == 200
            assert admin.get("/v1/admin/metrics/prom").status_code == 200
    finally:
        server.stop()
