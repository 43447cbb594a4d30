"""`OBOTokenSource`: the EdDSA tokens it signs (checked with `cryptography` here), its cache and limits,
its clear error without the `obo` extra, and a platform acting for its users against a real server."""

from __future__ import annotations

import base64
import json
import secrets
import sys
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from novamem_client import NovamemClient, NovamemForbidden, NovamemNotFound, NovamemUnauthorized, OBOTokenSource

from tests.conftest import RunningServer

from .conftest import Accounts


def _segment(part: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_tokens_are_signed_eddsa_jwts_with_the_reference_claims() -> None:
    key = Ed25519PrivateKey.generate()
    source = OBOTokenSource(
        key, "kid-1", "acme", "alice@acme.test", ttl=timedelta(minutes=10), clock=Clock(1_800_000_000)
    )
    header, claims, signature = source.token().split(".")
    assert _segment(header) == {"alg": "EdDSA", "kid": "kid-1", "typ": "JWT"}
    assert _segment(claims) == {
        "sub": "alice@acme.test",
        "org": "acme",
        "aud": ["novamem"],
        "iat": 1_800_000_000,
        "exp": 1_800_000_600,
    }
    raw_signature = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    key.public_key().verify(raw_signature, f"{header}.{claims}".encode())  # raises if forged


def test_a_token_is_reused_until_shortly_before_it_expires() -> None:
    clock = Clock(1_800_000_000)
    source = OBOTokenSource(Ed25519PrivateKey.generate(), "kid", "acme", "bob", ttl=300, clock=clock)
    first = source.token()
    clock.now += 200
    assert source.token() == first
    clock.now += 75  # 25 s before expiry: inside the refresh margin
    assert source.token() != first


def test_keys_load_from_a_seed_or_pem_and_limits_are_enforced() -> None:
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    for given in (seed, pem):
        token = OBOTokenSource(given, "kid", "acme", "carol", clock=Clock(1_800_000_000)).token()
        assert (
            token.split(".")[2]
            == OBOTokenSource(key, "kid", "acme", "carol", clock=Clock(1_800_000_000)).token().split(".")[2]
        )
    with pytest.raises(ValueError, match="15 minutes"):
        OBOTokenSource(key, "kid", "acme", "dave", ttl=timedelta(minutes=16))
    with pytest.raises(ValueError, match="org"):
        OBOTokenSource(key, "kid", "-bad org", "dave")
    with pytest.raises(ValueError, match="sub"):
        OBOTokenSource(key, "kid", "acme", "has space")


def test_neither_key_nor_token_shows_in_a_repr() -> None:
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    source = OBOTokenSource(seed, "kid-9", "acme", "erin")
    token = source.token()
    client = NovamemClient("http://127.0.0.1:1", token_source=source)
    for shown in (source, client, client.config, client.admin):
        assert token not in repr(shown) and seed.hex() not in repr(shown) and str(seed) not in repr(shown)
    assert "kid-9" in repr(source)


def test_without_the_obo_extra_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "cryptography" or m.startswith("cryptography.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "cryptography", None)  # what an install without the extra sees
    with pytest.raises(ImportError, match=r"pip install 'novamem-client\[obo\]'"):
        OBOTokenSource(b"\x01" * 32, "kid", "acme", "frank")


def test_a_platform_acts_for_its_users(sdk_server: RunningServer, accounts: Accounts) -> None:
    admin = NovamemClient(sdk_server.base_url, token=accounts.admin).admin
    key = Ed25519PrivateKey.generate()
    org = f"org{secrets.token_hex(3)}"
    registered = admin.create_service_key("sdk platform", org, _raw_public(key))
    assert registered.organization_id == org and registered.revoked_at is None
    assert registered.id in [k.id for k in admin.list_service_keys()]

    alice = NovamemClient(sdk_server.base_url, token_source=OBOTokenSource(key, registered.id, org, "alice"))
    bob = NovamemClient(sdk_server.base_url, token_source=OBOTokenSource(key, registered.id, org, "bob"))
    marker = f"zq{secrets.token_hex(4)}"
    stored = alice.remember(f"Alice's favourite editor {marker} is helix with a dark theme")
    assert stored.id is not None
    assert [r.id for r in alice.search(marker).results] == [stored.id]
    assert bob.search(marker).results == []  # another subject sees nothing
    with pytest.raises(NovamemForbidden):
        alice.management.list_tokens()  # OBO reaches the data plane only

    assert admin.revoke_service_key(registered.id) is True
    with pytest.raises(NovamemUnauthorized):
        alice.stats()
    with pytest.raises(NovamemNotFound):
        admin.revoke_service_key(registered.id)
