"""HTTP-only set-up for the on-behalf-of tests: a user-mode server whose bootstrap admin signs in and
settles their password, accounts and tokens made through the admin and self-service routes, and OBO
tokens minted here with `cryptography` exactly as a platform would (no server code is imported)."""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.conftest import RunningServer, start_server

ADMIN_EMAIL = "obo-admin@example.com"
FIRST_PASSWORD = "obo-first-pass-4471"
ADMIN_PASSWORD = "obo-settled-pass-9023"
ORIGIN = "http://localhost:5173"  # trusted by every server
COOKIE = "nm.session_token"
UNAUTHORIZED = (401, {"error": "unauthorized"})


def settings(**overrides: Any) -> dict[str, Any]:
    """A user-mode server with a bootstrap admin (jobs off; overrides win)."""
    return {
        "auth_mode": "user",
        "cookie_secret": secrets.token_urlsafe(32),
        "insecure_cookies": True,
        "jobs_enabled": False,
        "bootstrap_admin_email": ADMIN_EMAIL,
        "bootstrap_admin_password": FIRST_PASSWORD,
        **overrides,
    }


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def new_key() -> tuple[Ed25519PrivateKey, str]:
    """A platform's key pair: the private key and the raw public key as base64url (what is registered)."""
    private = Ed25519PrivateKey.generate()
    return private, b64url(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def _part(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def mint(
    private: Ed25519PrivateKey,
    kid: str,
    *,
    org: str,
    sub: str,
    aud: Any = "novamem",
    lifetime: float = 300,
    issued_offset: float = 0,
    header: dict[str, Any] | None = None,
    claims: dict[str, Any] | None = None,
) -> str:
    """An OBO token signed with `private`; `header`/`claims` entries override (None values remove them)."""
    iat = int(time.time() + issued_offset)
    head: dict[str, Any] = {"alg": "EdDSA", "kid": kid, "typ": "JWT", **(header or {})}
    body: dict[str, Any] = {"sub": sub, "org": org, "aud": aud, "iat": iat, "exp": iat + lifetime, **(claims or {})}
    signing_input = f"{_part({k: v for k, v in head.items() if v is not None})}."
    signing_input += _part({k: v for k, v in body.items() if v is not None})
    return f"{signing_input}.{b64url(private.sign(signing_input.encode()))}"


def bearer(server: RunningServer, token: str) -> httpx.Client:
    return server.client(headers={"authorization": f"Bearer {token}"})


@dataclass
class Admin:
    """The bootstrap admin, signed in with a settled password: a session cookie and full and read-only tokens."""

    cookie: str
    token: str
    read_only_token: str

    def session(self, server: RunningServer) -> httpx.Client:
        return server.client(headers={"origin": ORIGIN, "cookie": f"{COOKIE}={self.cookie}"})

    def client(self, server: RunningServer) -> httpx.Client:
        return bearer(server, self.token)

    def create_user(self, server: RunningServer, name: str) -> tuple[str, str]:
        """A plain user made by the admin API: (user id, full API token)."""
        with self.client(server) as api:
            r = api.post(
                "/v1/admin/users",
                json={"email": f"{name}-{secrets.token_hex(3)}@example.com", "password": "user-pass-12345"},
            )
        assert r.status_code == 201, r.text
        return r.json()["userId"], r.json()["token"]

    def register_key(
        self, server: RunningServer, organization: str, name: str = "platform"
    ) -> tuple[Ed25519PrivateKey, str]:
        """A fresh key pair registered for `organization`: (private key, kid)."""
        private, public = new_key()
        with self.client(server) as api:
            r = api.post(
                "/v1/admin/service-keys", json={"name": name, "organizationId": organization, "publicKey": public}
            )
        assert r.status_code == 201, r.text
        return private, r.json()["id"]


def start(database_url: str, **overrides: Any) -> RunningServer:
    return start_server(database_url, **settings(**overrides))


def settle_admin(server: RunningServer) -> Admin:
    """Sign the bootstrap admin in, change the first password, and mint a full and a read-only token."""
    server.sql("DELETE FROM rate_counters WHERE key LIKE 'signin-%%'")  # the sign-in throttle, not the behaviour
    with server.client(headers={"origin": ORIGIN}) as anonymous:
        r = anonymous.post("/api/auth/sign-in/email", json={"email": ADMIN_EMAIL, "password": FIRST_PASSWORD})
        assert r.status_code == 200, r.text
        cookie = r.cookies[COOKIE]
    with server.client(headers={"origin": ORIGIN, "cookie": f"{COOKIE}={cookie}"}) as session:
        r = session.post(
            "/api/auth/change-password", json={"currentPassword": FIRST_PASSWORD, "newPassword": ADMIN_PASSWORD}
        )
        assert r.status_code == 200, r.text
        cookie = r.cookies.get(COOKIE) or cookie
    with server.client(headers={"origin": ORIGIN, "cookie": f"{COOKIE}={cookie}"}) as session:
        full = session.post("/v1/me/tokens", json={"label": "admin automation"})
        read_only = session.post("/v1/me/tokens", json={"label": "admin reader", "scope": "read_only"})
    assert full.status_code == 201 and read_only.status_code == 201, (full.text, read_only.text)
    return Admin(cookie=cookie, token=full.json()["token"], read_only_token=read_only.json()["token"])
