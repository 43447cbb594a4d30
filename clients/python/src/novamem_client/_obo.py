"""On-behalf-of tokens: short-lived EdDSA JWTs a platform signs for one of its users.

The platform registers its Ed25519 public key with an admin (`Admin.create_service_key`, which returns the
key's `id`, the `kid`) and keeps the private key. Signing needs the optional `cryptography` package
(`pip install 'novamem-client[obo]'`), imported only when a token source is made.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = ["MAX_OBO_TTL", "OBOTokenSource", "mint_obo_token"]

MAX_OBO_TTL = timedelta(minutes=15)
"""The longest lifetime the server accepts (longer tokens are rejected, not clamped)."""
DEFAULT_OBO_TTL = timedelta(minutes=5)
REFRESH_MARGIN = 30.0
"""Seconds before expiry at which a cached token is replaced."""
AUDIENCE = "novamem"
_SUBJECT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+=-]{0,127}")
_ORGANIZATION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _load_private_key(private_key: Ed25519PrivateKey | bytes | str) -> Ed25519PrivateKey:
    """The key from a `cryptography` key object, a raw 32-byte seed, or PEM (PKCS#8) text or bytes."""
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    except ImportError as exc:
        raise ImportError(
            "on-behalf-of tokens are signed with the 'cryptography' package: pip install 'novamem-client[obo]'"
        ) from exc
    if isinstance(private_key, Ed25519PrivateKey):
        return private_key
    if isinstance(private_key, bytes) and len(private_key) == 32:
        return Ed25519PrivateKey.from_private_bytes(private_key)
    pem = private_key.encode() if isinstance(private_key, str) else private_key
    try:
        loaded = serialization.load_pem_private_key(pem, password=None)
    except ValueError as exc:
        raise ValueError("private_key is not a 32-byte Ed25519 seed or an unencrypted PEM key") from exc
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ValueError("private_key must be an Ed25519 key")
    return loaded


def _seconds(ttl: timedelta | float) -> int:
    seconds = ttl.total_seconds() if isinstance(ttl, timedelta) else float(ttl)
    if not 0 < seconds <= MAX_OBO_TTL.total_seconds():
        raise ValueError("ttl must be positive and at most 15 minutes")
    return int(seconds)


def _check_identity(org: str, sub: str) -> None:
    if not _ORGANIZATION.fullmatch(org):
        raise ValueError("org must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}")
    if not _SUBJECT.fullmatch(sub):
        raise ValueError("sub must match [A-Za-z0-9][A-Za-z0-9._:@+=-]{0,127}")


def mint_obo_token(
    private_key: Ed25519PrivateKey | bytes | str,
    kid: str,
    org: str,
    sub: str,
    ttl: timedelta | float = DEFAULT_OBO_TTL,
    *,
    now: float | None = None,
) -> str:
    """One signed token: header `{alg: EdDSA, kid, typ: JWT}`, claims `sub`, `org`, `aud: ["novamem"]`,
    `iat`, `exp` (`ttl` seconds or a timedelta, at most 15 minutes)."""
    _check_identity(org, sub)
    key = _load_private_key(private_key)
    issued = int(time.time() if now is None else now)
    header = {"alg": "EdDSA", "kid": kid, "typ": "JWT"}
    claims = {"sub": sub, "org": org, "aud": [AUDIENCE], "iat": issued, "exp": issued + _seconds(ttl)}
    signing_input = ".".join(_b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims))
    return f"{signing_input}.{_b64url(key.sign(signing_input.encode()))}"


class OBOTokenSource:
    """Mints on-behalf-of tokens for one (organization, subject) and reuses each until shortly before it
    expires. Thread-safe. Pass it to a client as `token_source=`; neither key nor token is in `repr()`."""

    def __init__(
        self,
        private_key: Ed25519PrivateKey | bytes | str,
        kid: str,
        org: str,
        sub: str,
        ttl: timedelta | float = DEFAULT_OBO_TTL,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        _check_identity(org, sub)
        if not kid:
            raise ValueError("kid (the service key's id) is required")
        self._key = _load_private_key(private_key)
        self._ttl = _seconds(ttl)
        self.kid, self.org, self.sub = kid, org, sub
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[str, float] | None = None

    def token(self) -> str:
        """A valid token: the cached one, or a fresh one when it is within 30 s of expiry."""
        with self._lock:
            now = self._clock()
            margin = min(REFRESH_MARGIN, self._ttl / 2)
            if self._cached is None or now >= self._cached[1] - margin:
                token = mint_obo_token(self._key, self.kid, self.org, self.sub, self._ttl, now=now)
                self._cached = (token, int(now) + self._ttl)
            return self._cached[0]

    def __repr__(self) -> str:
        return f"OBOTokenSource(kid={self.kid!r}, org={self.org!r}, sub={self.sub!r}, ttl={self._ttl}s)"

    def __reduce__(self) -> Any:
        raise TypeError("OBOTokenSource holds a private key and cannot be pickled")
