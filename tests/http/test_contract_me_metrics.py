"""Contract: per-user metrics, `GET /v1/me/metrics` and `GET /v1/me/metrics/history` (HTTP only, two servers).

Two servers share one database, so a count made on one and read on the other must have gone through
PostgreSQL (the deployment-wide store), not a process's memory. Counting is batched (each server flushes
every few hundred milliseconds here), so reads poll briefly instead of sleeping. The only thing done outside
HTTP is clearing the sign-in throttle's counters between sign-ins.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer, start_server

SECRET = "Qm7vX2kR9tB4nW8cY1pL6zH3dG5sF0jA"
ADMIN = "metrics-admin@example.com"
ADMIN_PW = "metrics-admin-pass-8841"
USER_PW = "metrics-user-pass-3307"
ORIGIN = "http://localhost:5173"  # a trusted origin (cookie-bearing POSTs need one)
COOKIE = "nm.session_token"
SETTINGS: dict[str, Any] = {
    "auth_mode": "user",
    "cookie_secret": SECRET,
    "insecure_cookies": True,
    "embeddings_provider": "none",
    "jobs_enabled": False,
    "bootstrap_admin_email": ADMIN,
    "bootstrap_admin_password": ADMIN_PW,
    "metrics_flush_interval_ms": 300,
}
UNAUTHORIZED = (401, {"error": "unauthorized"})
ADMIN_COUNTERS = {
    "queries_total",
    "queries_zero_hit",
    "remembers_total",
    "forgets_total",
    "hits_warm_total",
    "hits_cold_total",
    "hits_graph_total",
    "promotions_total",
    "demotions_total",
    "decay_runs_total",
    "orphans_reaped_total",
    "search_errors_total",
    "remember_errors_total",
}
_emails = (f"metrics-user-{n}@example.com" for n in itertools.count())


@pytest.fixture(scope="module")
def pair(make_database: Callable[[], str]) -> Iterator[tuple[RunningServer, RunningServer]]:
    url = make_database()
    first = start_server(url, **SETTINGS)
    second = start_server(url, **SETTINGS)
    yield first, second
    second.stop()
    first.stop()


@pytest.fixture(scope="module")
def admin_cookie(pair: tuple[RunningServer, RunningServer]) -> str:
    """The bootstrap admin's dashboard session, past the forced first password change."""
    a, _ = pair
    a.sql("DELETE FROM rate_counters WHERE key LIKE 'signin-ip:%%'")  # the throttle, not the behaviour
    with a.client() as client:
        r = client.post("/api/auth/sign-in/email", json={"email": ADMIN, "password": ADMIN_PW})
        assert r.status_code == 200, r.text
        cookie = r.cookies[COOKIE]
    with _session(a, cookie) as client:
        r = client.post("/api/auth/change-password", json={"currentPassword": ADMIN_PW, "newPassword": ADMIN_PW + "!"})
        assert r.status_code == 200, r.text
        return str(r.cookies.get(COOKIE) or cookie)


def _session(server: RunningServer, cookie: str) -> httpx.Client:
    return server.client(headers={"origin": ORIGIN, "cookie": f"{COOKIE}={cookie}"})


def _bearer(server: RunningServer, token: str) -> httpx.Client:
    return server.client(headers={"authorization": f"Bearer {token}"})


def _new_user(server: RunningServer, admin_cookie: str) -> str:
    """A user made by the admin through the API; returns the first API token it came with."""
    with _session(server, admin_cookie) as client:
        r = client.post("/v1/admin/users", json={"email": next(_emails), "password": USER_PW})
        assert r.status_code == 201, r.text
        return str(r.json()["token"])


def _mint(server: RunningServer, token: str, label: str, scope: str = "full") -> str:
    with _bearer(server, token) as client:
        r = client.post("/v1/me/tokens", json={"label": label, "scope": scope})
        assert r.status_code == 201, r.text
        return str(r.json()["token"])


def _token_hash(server: RunningServer, token: str, label: str) -> str:
    with _bearer(server, token) as client:
        listed = client.get("/v1/me/tokens").json()["tokens"]
    return str(next(t["tokenHash"] for t in listed if t["label"] == label and not t["revoked"]))


def _until(read: Callable[[], dict[str, Any]], holds: Callable[[dict[str, Any]], bool], timeout: float = 15) -> Any:
    """Poll `read` until `holds` is true of its answer (counts are flushed in batches); the last answer."""
    deadline = time.monotonic() + timeout
    answer = read()
    while not holds(answer) and time.monotonic() < deadline:
        time.sleep(0.1)
        answer = read()
    assert holds(answer), answer
    return answer


def _metrics(server: RunningServer, token: str) -> Callable[[], dict[str, Any]]:
    def read() -> dict[str, Any]:
        with _bearer(server, token) as client:
            r = client.get("/v1/me/metrics")
            assert r.status_code == 200, r.text
            return dict(r.json())

    return read


def _row(body: dict[str, Any], token_hash: str) -> dict[str, Any]:
    return dict(next(t for t in body["tokens"] if t["tokenHash"] == token_hash))


def _counts(queries: int, remembers: int, forgets: int) -> dict[str, int]:
    return {"queries_total": queries, "remembers_total": remembers, "forgets_total": forgets}


def _work(server: RunningServer, token: str, *, stores: int, searches: int, forgets: int) -> list[str]:
    """Counted requests (each answer checked to be 2xx), plus refused ones that must not count."""
    ids = []
    with _bearer(server, token) as client:
        for i in range(stores):
            r = client.post("/v1/remember", json={"content": f"Metrics fixture fact {i}: the kettle lives in bay {i}"})
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        for _ in range(searches):
            r = client.post("/v1/search", json={"query": "kettle bay"})
            assert r.status_code == 200, r.text
        for entry_id in ids[:forgets]:
            r = client.post("/v1/forget", json={"id": entry_id})
            assert r.status_code == 200, r.text
        # refused: none of these count
        assert client.post("/v1/search", json={"query": ""}).status_code == 400
        assert client.post("/v1/remember", json={}).status_code == 400
        assert client.post("/v1/forget", json={}).status_code == 400
    return ids


def test_without_credentials_both_routes_answer_401(pair: tuple[RunningServer, RunningServer]) -> None:
    a, _ = pair
    with a.client() as client:
        for path in ("/v1/me/metrics", "/v1/me/metrics/history"):
            r = client.get(path)
            assert (r.status_code, r.json()) == UNAUTHORIZED, path
    with _bearer(a, "nm_" + "0" * 43) as client:
        r = client.get("/v1/me/metrics")
        assert (r.status_code, r.json()) == UNAUTHORIZED


def test_only_2xx_answers_count_and_each_token_has_its_row(
    pair: tuple[RunningServer, RunningServer], admin_cookie: str
) -> None:
    a, b = pair
    first = _new_user(a, admin_cookie)
    laptop = _mint(a, first, "laptop")
    ci = _mint(a, first, "ci")
    reader = _mint(a, first, "reader", scope="read_only")
    _work(a, laptop, stores=3, searches=2, forgets=1)
    with _bearer(b, ci) as client:  # on the other server
        assert client.post("/v1/recent", json={}).status_code == 200
        assert client.post("/v1/context", json={"message": "where is the kettle"}).status_code == 200
    with _bearer(a, reader) as client:
        assert client.post("/v1/remember", json={"content": "A reader may not store this fact"}).status_code == 403

    # read on the server that counted nothing for the laptop token: only the shared store can know
    body = _until(_metrics(b, reader), lambda m: m["counters"] == _counts(4, 3, 1))
    assert set(body) == {"counters", "gauges", "rates", "uptime_ms", "tokens"}
    assert body["gauges"] == {"warm_entries": 2, "cold_entries": 0}
    assert set(body["rates"]) == {"queries_per_sec_60s", "remembers_per_sec_60s"}
    assert body["rates"]["queries_per_sec_60s"] > 0 and body["rates"]["remembers_per_sec_60s"] > 0
    laptop_row = _row(body, _token_hash(a, first, "laptop"))
    ci_row = _row(body, _token_hash(a, first, "ci"))
    reader_row = _row(body, _token_hash(a, first, "reader"))
    assert laptop_row["credential"] == "token" and laptop_row["label"] == "laptop"
    assert laptop_row["counters"] == _counts(2, 3, 1) and laptop_row["lastUsedAt"] is not None
    assert ci_row["label"] == "ci" and ci_row["counters"] == _counts(2, 0, 0)
    assert reader_row["counters"] == _counts(0, 0, 0) and reader_row["lastUsedAt"] is None
    assert [t["label"] for t in body["tokens"]][-3:] == ["laptop", "ci", "reader"]  # oldest first, no session row
    assert sum(t["counters"]["queries_total"] for t in body["tokens"]) == 4


def test_a_user_sees_only_their_own_numbers(pair: tuple[RunningServer, RunningServer], admin_cookie: str) -> None:
    a, b = pair
    alice, bob = _new_user(a, admin_cookie), _new_user(a, admin_cookie)
    _work(a, alice, stores=2, searches=3, forgets=0)
    _work(b, bob, stores=1, searches=0, forgets=1)
    alice_view = _until(_metrics(b, alice), lambda m: m["counters"] == _counts(3, 2, 0))
    bob_view = _until(_metrics(a, bob), lambda m: m["counters"] == _counts(0, 1, 1))
    alice_hashes = {t["tokenHash"] for t in alice_view["tokens"]}
    bob_hashes = {t["tokenHash"] for t in bob_view["tokens"]}
    assert alice_hashes and bob_hashes and not alice_hashes & bob_hashes
    assert alice_view["gauges"] == {"warm_entries": 2, "cold_entries": 0}
    assert bob_view["gauges"] == {"warm_entries": 0, "cold_entries": 0}
    with _bearer(a, bob) as client:
        samples = client.get("/v1/me/metrics/history").json()["samples"]
    assert sum(s["queries"] for s in samples) == 0 and sum(s["remembers"] for s in samples) == 1


def test_history_buckets_add_up_to_the_counters(pair: tuple[RunningServer, RunningServer], admin_cookie: str) -> None:
    a, b = pair
    token = _new_user(a, admin_cookie)
    _work(a, token, stores=2, searches=4, forgets=2)
    counters = _until(_metrics(b, token), lambda m: m["counters"] == _counts(4, 2, 2))["counters"]
    for server in pair:
        with _bearer(server, token) as client:
            default = client.get("/v1/me/metrics/history")
            longest = client.get("/v1/me/metrics/history", params={"hours": 48})
            shortest = client.get("/v1/me/metrics/history", params={"hours": "1"})
        for r, hours in ((default, 24), (longest, 48), (shortest, 1)):
            assert r.status_code == 200, r.text
            body = r.json()
            assert set(body) == {"hours", "samples"} and body["hours"] == hours
            samples = body["samples"]
            assert samples and all(set(s) == {"sampledAt", "queries", "remembers", "forgets"} for s in samples)
            stamps = [s["sampledAt"] for s in samples]
            assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)  # oldest first, one per minute
            assert all(s.endswith(":00.000Z") for s in stamps)  # minute buckets, rendered like toISOString
            assert sum(s["queries"] for s in samples) == counters["queries_total"]
            assert sum(s["remembers"] for s in samples) == counters["remembers_total"]
            assert sum(s["forgets"] for s in samples) == counters["forgets_total"]


@pytest.mark.parametrize("hours", ["0", "49", "-1", "abc", "1.5", ""])
def test_history_hours_outside_1_to_48_answer_400(
    pair: tuple[RunningServer, RunningServer], admin_cookie: str, hours: str
) -> None:
    a, _ = pair
    with _session(a, admin_cookie) as client:
        r = client.get("/v1/me/metrics/history", params={"hours": hours})
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"] == "invalid request body"
    assert [issue["path"] for issue in body["issues"]] == ["hours"]
    assert all(set(issue) == {"path", "message", "code"} for issue in body["issues"])


def test_an_admin_gets_the_global_snapshot_with_their_own_rows(
    pair: tuple[RunningServer, RunningServer], admin_cookie: str
) -> None:
    a, b = pair
    with _session(a, admin_cookie) as client:
        assert client.post("/v1/recent", json={}).status_code == 200  # counted under the dashboard session
        r = client.post("/v1/me/tokens", json={"label": "admin-cli"})
        assert r.status_code == 201, r.text
        admin_token = r.json()["token"]
    user = _new_user(a, admin_cookie)
    _work(a, user, stores=1, searches=1, forgets=0)

    def read() -> dict[str, Any]:
        with _session(b, admin_cookie) as client:
            return dict(client.get("/v1/me/metrics").json())

    body = _until(read, lambda m: any(t["credential"] == "session" for t in m.get("tokens", [])))
    assert set(body) == {"counters", "gauges", "rates", "uptime_ms", "tokens", "_hasMyTokens"}
    assert set(body["counters"]) == ADMIN_COUNTERS
    assert set(body["gauges"]) >= {"warm_entries", "cold_entries", "graph_edges", "pending_embeddings"}
    assert body["_hasMyTokens"] is True
    session_row = next(t for t in body["tokens"] if t["credential"] == "session")
    assert session_row["label"] == "dashboard" and session_row["tokenHash"] is None
    assert session_row["counters"]["queries_total"] >= 1
    assert "admin-cli" in {t["label"] for t in body["tokens"]}
    # the global counters include other users' work (the services count every query)
    _until(read, lambda m: m["counters"]["queries_total"] >= 2 and m["counters"]["remembers_total"] >= 1)
    with _bearer(a, admin_token) as client:
        same = client.get("/v1/me/metrics").json()
    assert set(same) == set(body)
    # an admin's read-only token is held to its restrictions: the admin's own numbers only
    reader = _mint(a, admin_token, "admin-reader", scope="read_only")
    with _bearer(a, reader) as client:
        own = client.get("/v1/me/metrics")
    assert own.status_code == 200, own.text
    assert set(own.json()) == {"counters", "gauges", "rates", "uptime_ms", "tokens"}
    assert own.json()["counters"]["queries_total"] >= 1


def test_the_routes_are_in_the_served_contract(pair: tuple[RunningServer, RunningServer]) -> None:
    a, _ = pair
    with a.client() as client:
        paths = client.get("/openapi.json").json()["paths"]
    assert "get" in paths["/v1/me/metrics"] and "get" in paths["/v1/me/metrics/history"]
    params = {p["name"]: p for p in paths["/v1/me/metrics/history"]["get"]["parameters"]}
    assert params["hours"]["schema"]["minimum"] == 1 and params["hours"]["schema"]["maximum"] == 48


def test_not_served_without_accounts(make_database: Callable[[], str]) -> None:
    server = start_server(make_database(), auth_mode="none", embeddings_provider="none", jobs_enabled=False)
    try:
        with server.client() as client:
            r = client.get("/v1/me/metrics")
        assert r.status_code == 404 and r.json()["error"] == "Not Found"
    finally:
        server.stop()
