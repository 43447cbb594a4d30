"""Contract: session JWTs as Better Auth's JWT plugin issues them (HTTP only, two replicas on one database).

`GET /api/auth/token` answers `{token}` for a signed-in session (a bare 401 without one), `GET /api/auth/jwks`
publishes `{keys:[{alg:"EdDSA", crv:"Ed25519", x, kty:"OKP", kid}]}`, and `get-session` carries a token in
`Set-Auth-Jwt`. Every token is verified here with `cryptography` against the published JWKS only. The key is
rotated with the `novamem jwks rotate` command (a separate process on the servers' database); the only other
thing done outside HTTP is clearing the sign-in throttle's counters between sign-ins.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests.conftest import RunningServer, start_server

SECRET = "Qm8vT3kW6nB1xZ4rJ7pL0dH5sF2gC9yA"
BASE_URL = "https://memory.example.test"
ADMIN = "jwt-admin@example.com"
ADMIN_PW = "jwt-admin-pass-6128"
ORIGIN = "http://localhost:5173"  # trusted by every server
COOKIE = "nm.session_token"
SETTINGS: dict[str, Any] = {
    "auth_mode": "user",
    "cookie_secret": SECRET,
    "insecure_cookies": True,
    "base_url": BASE_URL,
    "embeddings_provider": "none",
    "jobs_enabled": False,
    "bootstrap_admin_email": ADMIN,
    "bootstrap_admin_password": ADMIN_PW,
}
LIFETIME_S = 15 * 60


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture(scope="module")
def pair(make_database: Callable[[], str]) -> Iterator[tuple[RunningServer, RunningServer]]:
    url = make_database()
    first = start_server(url, **SETTINGS)
    second = start_server(url, **SETTINGS)
    yield first, second
    second.stop()
    first.stop()


@pytest.fixture(scope="module")
def cookie(pair: tuple[RunningServer, RunningServer]) -> str:
    """The admin's session cookie (signed in on the first replica; valid on both)."""
    a, _ = pair
    a.sql("DELETE FROM rate_counters WHERE key LIKE 'signin-ip:%%'")  # the throttle, not the behaviour
    with a.client() as client:
        r = client.post("/api/auth/sign-in/email", json={"email": ADMIN, "password": ADMIN_PW})
        assert r.status_code == 200, r.text
        return r.cookies[COOKIE]


def _signed_in(server: RunningServer, cookie: str) -> httpx.Client:
    return server.client(headers={"origin": ORIGIN, "cookie": f"{COOKIE}={cookie}"})


def _jwks(server: RunningServer) -> list[dict[str, Any]]:
    with server.client() as client:
        r = client.get("/api/auth/jwks")
    assert r.status_code == 200, r.text
    keys: list[dict[str, Any]] = r.json()["keys"]
    return keys


def _token(server: RunningServer, cookie: str) -> str:
    with _signed_in(server, cookie) as client:
        r = client.get("/api/auth/token")
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"token"}
    token: str = r.json()["token"]
    return token


def _verify(token: str, keys: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a token whose EdDSA signature a published key verifies (else it raises)."""
    head, body, signature = token.split(".")
    header = json.loads(_b64url(head))
    assert header == {"alg": "EdDSA", "kid": header["kid"]}
    [key] = [k for k in keys if k["kid"] == header["kid"]]
    Ed25519PublicKey.from_public_bytes(_b64url(key["x"])).verify(_b64url(signature), f"{head}.{body}".encode())
    return header, json.loads(_b64url(body))


def test_token_needs_a_session(pair: tuple[RunningServer, RunningServer]) -> None:
    for server in pair:
        with server.client() as client:
            r = client.get("/api/auth/token")
            assert (r.status_code, r.content) == (401, b"")
            forged = client.get("/api/auth/token", headers={"cookie": f"{COOKIE}=not-a-session.c2lnbmF0dXJl"})
            assert (forged.status_code, forged.content) == (401, b"")
            # an allow-listed path with the wrong method: a bare 404
            wrong = client.post("/api/auth/jwks")
            assert (wrong.status_code, wrong.content) == (404, b"")


def test_jwks_is_public_and_lists_ed25519_keys(pair: tuple[RunningServer, RunningServer]) -> None:
    keys = _jwks(pair[0])
    assert keys
    for key in keys:
        assert set(key) == {"alg", "crv", "x", "kty", "kid"}
        assert (key["alg"], key["crv"], key["kty"]) == ("EdDSA", "Ed25519", "OKP")
        assert len(_b64url(key["x"])) == 32 and key["kid"]


def test_token_verifies_against_the_jwks_and_lives_fifteen_minutes(
    pair: tuple[RunningServer, RunningServer], cookie: str
) -> None:
    a, _ = pair
    before = int(time.time())
    token = _token(a, cookie)
    _, claims = _verify(token, _jwks(a))
    with _signed_in(a, cookie) as client:
        user = client.get("/api/auth/get-session").json()["user"]
    assert claims["sub"] == user["id"]
    assert claims["iss"] == claims["aud"] == BASE_URL
    assert before - 5 <= claims["iat"] <= int(time.time()) + 5
    assert claims["exp"] - claims["iat"] == LIFETIME_S
    # the payload is the user document, as get-session renders it
    for field in ("id", "email", "name", "role", "emailVerified", "createdAt"):
        assert claims[field] == user[field]
    assert claims["email"] == ADMIN and claims["role"] == "admin"


def test_a_tampered_token_does_not_verify(pair: tuple[RunningServer, RunningServer], cookie: str) -> None:
    a, _ = pair
    head, body, signature = _token(a, cookie).split(".")
    claims = json.loads(_b64url(body))
    claims["role"] = "superuser"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidSignature):
        _verify(f"{head}.{forged}.{signature}", _jwks(a))


def test_get_session_sets_auth_jwt(pair: tuple[RunningServer, RunningServer], cookie: str) -> None:
    for server in pair:
        with _signed_in(server, cookie) as client:
            r = client.get("/api/auth/get-session")
        assert r.status_code == 200
        assert "set-auth-jwt" in r.headers["access-control-expose-headers"].lower()
        _, claims = _verify(r.headers["set-auth-jwt"], _jwks(server))
        assert claims["sub"] == r.json()["user"]["id"]
        with server.client() as client:
            anonymous = client.get("/api/auth/get-session")
        assert anonymous.json() is None and "set-auth-jwt" not in anonymous.headers


def test_replicas_publish_one_jwks_and_accept_each_others_tokens(
    pair: tuple[RunningServer, RunningServer], cookie: str
) -> None:
    a, b = pair
    assert _jwks(a) == _jwks(b)
    _verify(_token(a, cookie), _jwks(b))
    _verify(_token(b, cookie), _jwks(a))


def _rotate(server: RunningServer) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOVAMEM_")}
    env |= {
        "NOVAMEM_DATABASE_URL": server.database_url,
        "NOVAMEM_COOKIE_SECRET": SECRET,
        "NOVAMEM_AUTH_MODE": "user",
    }
    done = subprocess.run(
        [sys.executable, "-m", "novamem", "jwks", "rotate"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_rotation_signs_with_the_new_key_and_keeps_old_tokens_verifiable(
    pair: tuple[RunningServer, RunningServer], cookie: str
) -> None:
    a, b = pair
    old_token = _token(a, cookie)
    old_kid = _verify(old_token, _jwks(a))[0]["kid"]
    new_kid = _rotate(a)
    assert new_kid and new_kid != old_kid
    for server in pair:
        keys = _jwks(server)
        assert [k["kid"] for k in keys][:2] == [new_kid, old_kid]  # the current key first
        _verify(old_token, keys)
        header, _ = _verify(_token(server, cookie), keys)
        assert header["kid"] == new_kid
    assert _jwks(a) == _jwks(b)


def test_a_new_cookie_secret_starts_a_new_key_and_keeps_the_old_one_published(
    pair: tuple[RunningServer, RunningServer], cookie: str
) -> None:
    a, _ = pair
    old_token = _token(a, cookie)
    old_kid = _verify(old_token, _jwks(a))[0]["kid"]
    moved = start_server(a.database_url, **(SETTINGS | {"cookie_secret": SECRET[::-1]}))
    try:
        moved.sql("DELETE FROM rate_counters WHERE key LIKE 'signin-ip:%%'")
        with moved.client() as client:
            r = client.post("/api/auth/sign-in/email", json={"email": ADMIN, "password": ADMIN_PW})
            assert r.status_code == 200, r.text
        header, claims = _verify(_token(moved, r.cookies[COOKIE]), _jwks(moved))
        assert header["kid"] != old_kid and claims["email"] == ADMIN
        _verify(old_token, _jwks(moved))  # tokens of the previous key verify until they expire
    finally:
        moved.stop()
