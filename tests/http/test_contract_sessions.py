"""Contract: ending a dashboard session ends it at once, on every replica (HTTP only, two servers).

Two servers share one database. A session is used on both (so each has reused its resolution), then
ended through one of them with the handle a real client holds: the token exactly as sign-in returned
it (`{redirect:false, token, user}` -> `token`), or a listed session's `token` handle. The very next
request with that session's cookie is refused on both servers. The only thing done outside HTTP is
clearing the sign-in throttle's counters between sign-ins.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer, start_server

SECRET = "Zr4kP8wN2qT6yB1mC9vL3xH7dF5sJ0gA"
ADMIN = "contract-admin@example.com"
ADMIN_PW = "contract-admin-pass-5521"
USER_PW = "contract-user-pass-7730"
ORIGIN = "http://localhost:5173"  # a trusted origin of every server (cookie-bearing POSTs need one)
SETTINGS: dict[str, Any] = {
    "auth_mode": "user",
    "cookie_secret": SECRET,
    "insecure_cookies": True,
    "embeddings_provider": "none",
    "jobs_enabled": False,
    "bootstrap_admin_email": ADMIN,
    "bootstrap_admin_password": ADMIN_PW,
}
COOKIE = "nm.session_token"
_emails = (f"contract-user-{n}@example.com" for n in itertools.count())


class Session:
    """One signed-in session: the sign-in answer's token and the cookie set with it."""

    def __init__(self, token: str, cookie: str, user_id: str) -> None:
        self.token = token
        self.cookie = cookie
        self.user_id = user_id

    def on(self, server: RunningServer) -> httpx.Client:
        """A client presenting this session's cookie to `server`."""
        return server.client(headers={"origin": ORIGIN, "cookie": f"{COOKIE}={self.cookie}"})


@pytest.fixture(scope="module")
def pair(make_database: Callable[[], str]) -> Iterator[tuple[RunningServer, RunningServer]]:
    url = make_database()
    first = start_server(url, **SETTINGS)
    second = start_server(url, **SETTINGS)
    yield first, second
    second.stop()
    first.stop()


def _sign_in(server: RunningServer, email: str, password: str) -> Session:
    server.sql("DELETE FROM rate_counters WHERE key LIKE 'signin-ip:%%'")  # the throttle, not the behaviour
    with server.client() as client:
        r = client.post("/api/auth/sign-in/email", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"redirect", "token", "user"} and body["redirect"] is False
        return Session(body["token"], r.cookies[COOKIE], body["user"]["id"])


def _settle(server: RunningServer, session: Session, password: str, new: str) -> None:
    """The forced first password change, done as the dashboard does it."""
    with session.on(server) as client:
        r = client.post("/api/auth/change-password", json={"currentPassword": password, "newPassword": new})
        assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def admin(pair: tuple[RunningServer, RunningServer]) -> Session:
    a, _ = pair
    session = _sign_in(a, ADMIN, ADMIN_PW)
    _settle(a, session, ADMIN_PW, ADMIN_PW + "-settled")
    return session


def _new_user(server: RunningServer, admin: Session) -> str:
    email = next(_emails)
    with admin.on(server) as client:
        r = client.post("/api/auth/admin/create-user", json={"email": email, "password": USER_PW, "role": "user"})
        assert r.status_code == 200, r.text
    first = _sign_in(server, email, USER_PW)
    _settle(server, first, USER_PW, USER_PW + "-settled")
    return email


def _works(server: RunningServer, session: Session) -> bool:
    """Whether the session is accepted: by get-session and by the data plane, which must agree."""
    with session.on(server) as client:
        found = client.get("/api/auth/get-session")
        recent = client.post("/v1/recent", json={})
    assert found.status_code == 200
    alive = found.json() is not None
    assert recent.status_code == (200 if alive else 401), recent.text
    if not alive:
        assert recent.json() == {"error": "unauthorized"}
    return alive


def _warm(pair: tuple[RunningServer, RunningServer], *sessions: Session) -> None:
    for server in pair:
        for session in sessions:
            for _ in range(2):  # resolved once, then reused
                assert _works(server, session)


def test_admin_revoke_user_session_with_the_sign_in_token_ends_it_everywhere(
    pair: tuple[RunningServer, RunningServer], admin: Session
) -> None:
    a, b = pair
    email = _new_user(a, admin)
    victim = _sign_in(a, email, USER_PW + "-settled")
    other = _sign_in(a, email, USER_PW + "-settled")
    _warm(pair, victim, other)
    with admin.on(b) as client:
        r = client.post("/api/auth/admin/revoke-user-session", json={"sessionToken": victim.token})
        assert (r.status_code, r.json()) == (200, {"success": True})
        listed = client.post("/api/auth/admin/list-user-sessions", json={"userId": victim.user_id}).json()
    assert not _works(a, victim)
    assert not _works(b, victim)
    assert _works(a, other) and _works(b, other)
    assert all(s["id"] != victim.token and s["token"] != victim.token for s in listed["sessions"])


def test_admin_revoke_user_session_with_a_listed_handle_ends_it_everywhere(
    pair: tuple[RunningServer, RunningServer], admin: Session
) -> None:
    a, b = pair
    email = _new_user(a, admin)
    victim = _sign_in(b, email, USER_PW + "-settled")
    _warm(pair, victim)
    with admin.on(a) as client:
        listed = client.post("/api/auth/admin/list-user-sessions", json={"userId": victim.user_id}).json()
        handles = [s["token"] for s in listed["sessions"]]
        assert len(handles) == 2  # the settling session and the victim
        for handle in handles:
            r = client.post("/api/auth/admin/revoke-user-session", json={"sessionToken": handle})
            assert (r.status_code, r.json()) == (200, {"success": True})
    assert not _works(a, victim)
    assert not _works(b, victim)


def test_admin_revoke_user_sessions_ends_every_session_everywhere(
    pair: tuple[RunningServer, RunningServer], admin: Session
) -> None:
    a, b = pair
    email = _new_user(a, admin)
    one, two = _sign_in(a, email, USER_PW + "-settled"), _sign_in(b, email, USER_PW + "-settled")
    _warm(pair, one, two)
    with admin.on(b) as client:
        r = client.post("/api/auth/admin/revoke-user-sessions", json={"userId": one.user_id})
        assert (r.status_code, r.json()) == (200, {"success": True})
    for server in pair:
        assert not _works(server, one) and not _works(server, two)
    assert _works(a, admin) and _works(b, admin)


def test_revoke_session_with_the_sign_in_token_ends_it_everywhere(
    pair: tuple[RunningServer, RunningServer], admin: Session
) -> None:
    a, b = pair
    email = _new_user(a, admin)
    keeper, victim = _sign_in(a, email, USER_PW + "-settled"), _sign_in(a, email, USER_PW + "-settled")
    _warm(pair, keeper, victim)
    with keeper.on(b) as client:
        r = client.post("/api/auth/revoke-session", json={"token": victim.token})
        assert (r.status_code, r.json()) == (200, {"status": True})
    assert not _works(a, victim) and not _works(b, victim)
    assert _works(a, keeper) and _works(b, keeper)


def test_revoke_other_sessions_ends_the_others_everywhere(
    pair: tuple[RunningServer, RunningServer], admin: Session
) -> None:
    a, b = pair
    email = _new_user(a, admin)
    keeper, victim = _sign_in(a, email, USER_PW + "-settled"), _sign_in(b, email, USER_PW + "-settled")
    _warm(pair, keeper, victim)
    with keeper.on(a) as client:
        r = client.post("/api/auth/revoke-other-sessions")
        assert (r.status_code, r.json()) == (200, {"status": True})
    assert not _works(a, victim) and not _works(b, victim)
    assert _works(a, keeper) and _works(b, keeper)


def test_revoke_sessions_ends_this_one_too_everywhere(
    pair: tuple[RunningServer, RunningServer], admin: Session
) -> None:
    a, b = pair
    email = _new_user(a, admin)
    one, two = _sign_in(a, email, USER_PW + "-settled"), _sign_in(b, email, USER_PW + "-settled")
    _warm(pair, one, two)
    with one.on(b) as client:
        r = client.post("/api/auth/revoke-sessions")
        assert (r.status_code, r.json()) == (200, {"status": True})
    for server in pair:
        assert not _works(server, one) and not _works(server, two)


def test_another_users_session_token_revokes_nothing(pair: tuple[RunningServer, RunningServer], admin: Session) -> None:
    a, b = pair
    mallory = _sign_in(a, _new_user(a, admin), USER_PW + "-settled")
    victim = _sign_in(a, _new_user(a, admin), USER_PW + "-settled")
    _warm(pair, victim)
    with mallory.on(b) as client:
        r = client.post("/api/auth/revoke-session", json={"token": victim.token})
        assert r.status_code == 200
    assert _works(a, victim) and _works(b, victim)


@pytest.mark.parametrize("name_by", ["sign-in token", "listed handle"])
def test_the_dashboard_ends_a_session_everywhere(
    pair: tuple[RunningServer, RunningServer], admin: Session, name_by: str
) -> None:
    a, b = pair
    email = _new_user(a, admin)
    keeper, victim = _sign_in(a, email, USER_PW + "-settled"), _sign_in(b, email, USER_PW + "-settled")
    _warm(pair, keeper, victim)
    with keeper.on(b) as client:
        handle = victim.token
        if name_by == "listed handle":
            victim_id = _id(b, victim)
            listed = client.get("/api/auth/list-sessions").json()
            handle = next(s["token"] for s in listed if s["id"] == victim_id)
        r = client.post("/admin/account/sessions/revoke", data={"token": handle}, follow_redirects=False)
        assert r.status_code == 303, r.text
    assert not _works(a, victim) and not _works(b, victim)
    assert _works(a, keeper) and _works(b, keeper)


def test_the_dashboard_ends_the_other_sessions_everywhere(
    pair: tuple[RunningServer, RunningServer], admin: Session
) -> None:
    a, b = pair
    email = _new_user(a, admin)
    keeper, victim = _sign_in(a, email, USER_PW + "-settled"), _sign_in(b, email, USER_PW + "-settled")
    _warm(pair, keeper, victim)
    with keeper.on(a) as client:
        r = client.post("/admin/account/sessions/revoke-others", follow_redirects=False)
        assert r.status_code == 303, r.text
    assert not _works(a, victim) and not _works(b, victim)
    assert _works(a, keeper) and _works(b, keeper)


def _id(server: RunningServer, session: Session) -> str:
    """The listed id of a session, as get-session shows it to its holder."""
    with session.on(server) as client:
        found = client.get("/api/auth/get-session").json()
    return str(found["session"]["id"])


# ---- email flows: Better Auth's answers when no email sender is configured ------------------------

EMAIL_FLOWS: list[tuple[str, str, dict[str, Any], int, dict[str, str]]] = [
    (
        "POST",
        "/api/auth/forget-password",
        {"json": {"email": ADMIN, "redirectTo": "/reset"}},
        400,
        {"message": "Reset password isn't enabled", "code": "RESET_PASSWORD_DISABLED"},
    ),
    (
        "POST",
        "/api/auth/send-verification-email",
        {"json": {"email": ADMIN, "callbackURL": "/"}},
        400,
        {"message": "Verification email isn't enabled", "code": "VERIFICATION_EMAIL_NOT_ENABLED"},
    ),
    (
        "POST",
        "/api/auth/reset-password",
        {"json": {"newPassword": "a-long-enough-password", "token": "guessed-token"}},
        400,
        {"message": "Invalid token", "code": "INVALID_TOKEN"},
    ),
    (
        "POST",
        "/api/auth/reset-password",
        {"json": {"newPassword": "a-long-enough-password"}, "params": {"token": "guessed-token"}},
        400,
        {"message": "Invalid token", "code": "INVALID_TOKEN"},
    ),
    (
        "POST",
        "/api/auth/reset-password",
        {"json": {"newPassword": "a-long-enough-password"}},
        400,
        {"message": "Invalid token", "code": "INVALID_TOKEN"},
    ),
    (
        "POST",
        "/api/auth/reset-password",
        {"json": {"newPassword": "short", "token": "guessed-token"}},
        400,
        {"message": "Password too short", "code": "PASSWORD_TOO_SHORT"},
    ),
    (
        "POST",
        "/api/auth/reset-password",
        {"json": {"newPassword": "x" * 257, "token": "guessed-token"}},
        400,
        {"message": "Password too long", "code": "PASSWORD_TOO_LONG"},
    ),
    (
        "GET",
        "/api/auth/verify-email",
        {"params": {"token": "eyJhbGciOiJIUzI1NiJ9.e30.forged", "callbackURL": "https://evil.example/"}},
        401,
        {"message": "invalid_token", "code": "INVALID_TOKEN"},
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "request_args", "status", "body"),
    EMAIL_FLOWS,
    ids=[f"{m} {p.rsplit('/', 1)[1]} {i}" for i, (m, p, *_) in enumerate(EMAIL_FLOWS)],
)
def test_email_flows_answer_as_better_auth_without_an_email_sender(
    pair: tuple[RunningServer, RunningServer],
    admin: Session,
    method: str,
    path: str,
    request_args: dict[str, Any],
    status: int,
    body: dict[str, str],
) -> None:
    a, _ = pair
    with a.client() as anonymous, admin.on(a) as signed_in:
        for client in (anonymous, signed_in):
            r = client.request(method, path, **request_args)
            assert (r.status_code, r.json()) == (status, body), r.text
            assert "location" not in r.headers  # callbackURL is never followed
    assert _works(a, admin)  # nothing about the account changed


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/auth/forget-password"),
        ("GET", "/api/auth/reset-password"),
        ("POST", "/api/auth/verify-email"),
        ("DELETE", "/api/auth/send-verification-email"),
    ],
)
def test_email_flow_paths_with_the_wrong_method_answer_a_bare_404(
    pair: tuple[RunningServer, RunningServer], method: str, path: str
) -> None:
    with pair[0].client() as client:
        r = client.request(method, path)
    assert (r.status_code, r.content) == (404, b"")


@pytest.mark.parametrize(
    ("method", "path", "request_args"),
    [
        ("POST", "/api/auth/forget-password", {"json": {}}),
        ("POST", "/api/auth/send-verification-email", {"json": {"callbackURL": "/"}}),
        ("POST", "/api/auth/reset-password", {"json": {"token": "t"}}),
        ("GET", "/api/auth/verify-email", {}),
    ],
)
def test_email_flows_refuse_a_request_without_its_required_field(
    pair: tuple[RunningServer, RunningServer], method: str, path: str, request_args: dict[str, Any]
) -> None:
    with pair[0].client() as client:
        r = client.request(method, path, **request_args)
    assert r.status_code == 400
    assert r.json()["code"] == "VALIDATION_ERROR"


def test_email_flows_with_a_cookie_need_a_trusted_origin(
    pair: tuple[RunningServer, RunningServer], admin: Session
) -> None:
    a, _ = pair
    headers = {"origin": "https://evil.example", "cookie": f"{COOKIE}={admin.cookie}"}
    with a.client(headers=headers) as client:
        r = client.post("/api/auth/forget-password", json={"email": ADMIN})
    assert (r.status_code, r.json()["code"]) == (403, "INVALID_ORIGIN")
