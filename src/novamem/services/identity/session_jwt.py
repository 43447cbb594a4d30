"""Session JWTs, as Better Auth's JWT plugin issues them: `GET /api/auth/token`, `GET /api/auth/jwks` and the
`Set-Auth-Jwt` header of `get-session`.

A token is an EdDSA (Ed25519) JWT, header `{alg:"EdDSA", kid}`, whose payload is the signed-in user's
document (the `user` of get-session) plus `iat`, `sub` (the user id), `exp` (`iat` + 15 minutes) and
`iss` = `aud` = the public base URL. The signing key is generated once per deployment and kept in
PostgreSQL, its private half sealed with ChaCha20-Poly1305 under SHA-256(cookie secret); every replica signs
with the same current key and publishes the same key set. Rotation makes a new key current; the old one
stays published for the lifetime of the tokens it signed (plus a minute of clock skew), then is deleted.
The private key exists only as a `cryptography` key object in memory, never as text.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import secrets
import time
from collections.abc import Callable
from typing import Any, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from novamem.domain.scope import Caller
from novamem.error_messages import BA_UNAUTHORIZED
from novamem.errors import Unauthenticated
from novamem.services.identity.account_models import AuthUser
from novamem.services.identity.users import auth_user
from novamem.services.wire import Out
from novamem.storage.accounts import AccountStore
from novamem.storage.signing_keys import SigningKeyRecord, SigningKeyStore

__all__ = ["TOKEN_LIFETIME_S", "JsonWebKey", "JsonWebKeySet", "SessionJwtService", "SessionToken"]

log = logging.getLogger("novamem.identity")

#: Better Auth's default `expirationTime` ("15m")
TOKEN_LIFETIME_S = 15 * 60
#: a retired key stays published this long: the tokens it signed, plus a verifier's clock skew
RETIRED_KEY_KEPT_S = TOKEN_LIFETIME_S + 60
_NONCE_BYTES = 12


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json_part(value: dict[str, Any]) -> str:
    return _b64url(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


class SessionToken(Out):
    """`GET /api/auth/token`: a 15-minute JWT for the signed-in session."""

    token: str


class JsonWebKey(Out):
    """One public signing key as the JWKS lists it (RFC 8037 OKP key)."""

    alg: Literal["EdDSA"] = "EdDSA"
    crv: Literal["Ed25519"] = "Ed25519"
    x: str
    kty: Literal["OKP"] = "OKP"
    kid: str


class JsonWebKeySet(Out):
    """`GET /api/auth/jwks`: the keys that verify session JWTs, the current one first."""

    keys: list[JsonWebKey]


class SessionJwtService:
    """Issues session JWTs and publishes and rotates their deployment-wide signing key."""

    def __init__(
        self,
        keys: SigningKeyStore,
        accounts: AccountStore,
        *,
        secret: str,
        issuer: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = keys
        self._accounts = accounts
        self._sealer = ChaCha20Poly1305(hashlib.sha256(secret.encode("utf-8")).digest())
        self._issuer = issuer
        self._clock = clock

    # ---- keys -----------------------------------------------------------------------------------

    def _new_key(self) -> tuple[SigningKeyRecord, Ed25519PrivateKey]:
        private = Ed25519PrivateKey.generate()
        kid = secrets.token_hex(16)
        raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        nonce = os.urandom(_NONCE_BYTES)
        sealed = nonce + self._sealer.encrypt(nonce, raw, kid.encode("ascii"))
        public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return SigningKeyRecord(id=kid, public_x=_b64url(public), sealed_private=_b64url(sealed)), private

    def _unseal(self, record: SigningKeyRecord) -> Ed25519PrivateKey:
        """The private key of a stored record; InvalidTag when it was sealed under another cookie secret."""
        sealed = _unb64url(record.sealed_private)
        raw = self._sealer.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], record.id.encode("ascii"))
        return Ed25519PrivateKey.from_private_bytes(raw)

    async def _signing_key(self) -> tuple[str, Ed25519PrivateKey]:
        record = await self._keys.current()
        if record is None:
            candidate, private = self._new_key()
            record = await self._keys.current_or_insert(candidate)
            if record.id == candidate.id:
                log.info("generated the session JWT signing key %s", record.id)
                return record.id, private
        try:
            return record.id, self._unseal(record)
        except InvalidTag:
            # sealed under an earlier cookie secret (rotating it ends every session anyway): start a new key
            log.warning("session JWT key %s was sealed under another cookie secret; rotating it", record.id)
            return await self._rotate()

    async def _rotate(self) -> tuple[str, Ed25519PrivateKey]:
        record, private = self._new_key()
        await self._keys.rotate(record, keep_seconds=RETIRED_KEY_KEPT_S)
        log.info("rotated the session JWT signing key; %s signs from now on", record.id)
        return record.id, private

    async def rotate(self) -> str:
        """Make a new key current (the `novamem jwks rotate` command); the previous one stays published
        while tokens it signed may live. Answers the new key id."""
        kid, _ = await self._rotate()
        return kid

    async def jwks(self) -> JsonWebKeySet:
        """The public keys that verify session JWTs (one is created on first use, as Better Auth does)."""
        published = await self._keys.published(keep_seconds=RETIRED_KEY_KEPT_S)
        if not any(k.retired_at is None for k in published):
            await self._signing_key()
            published = await self._keys.published(keep_seconds=RETIRED_KEY_KEPT_S)
        return JsonWebKeySet(keys=[JsonWebKey(x=k.public_x, kid=k.id) for k in published])

    # ---- tokens ---------------------------------------------------------------------------------

    async def token(self, caller: Caller) -> SessionToken:
        """A JWT for a session caller; `Unauthenticated` when their account is gone."""
        user = await self._accounts.get_user(caller.tenant_id, caller.user_id)
        if user is None:
            raise Unauthenticated(BA_UNAUTHORIZED, code="UNAUTHORIZED")
        return SessionToken(token=await self.token_for(auth_user(user)))

    async def token_for(self, user: AuthUser) -> str:
        """A JWT whose payload is `user` (as get-session renders it) plus Better Auth's claims."""
        kid, private = await self._signing_key()
        now = int(self._clock())
        claims = {
            "iat": now,
            **user.to_wire(),
            "sub": user.id,
            "exp": now + TOKEN_LIFETIME_S,
            "iss": self._issuer,
            "aud": self._issuer,
        }
        signing_input = f"{_json_part({'alg': 'EdDSA', 'kid': kid})}.{_json_part(claims)}"
        return f"{signing_input}.{_b64url(private.sign(signing_input.encode('ascii')))}"
