"""Verifying on-behalf-of (OBO) tokens: EdDSA JWTs a platform signs for one of its own users (reference 8.4).

A token is `base64url(header).base64url(claims).base64url(signature)`, verified with `cryptography`'s
Ed25519 only (no JWT library, no algorithm negotiation):

- header: `alg` exactly `EdDSA`, `kid` naming a registered, unrevoked service key; no `crit` extensions;
- the signature verifies under that key;
- claims: `sub` (the platform's user, `[A-Za-z0-9][A-Za-z0-9._:@+=-]{0,127}`), `org` (equal to the key's
  organization), `aud` (a string or a list) containing `novamem`, numeric `iat` and `exp` with
  `0 < exp - iat <= 15 min` (a longer lifetime is refused, not clamped), `exp` not passed by more than the
  30 s leeway, `iat` at most 30 s in the future, and `nbf`, when present, reached (same leeway).

Every failure is the same answer to the client (no caller: the uniform 401); the reason is logged at debug
level only, never the token.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from novamem.storage.service_keys import ServiceKeyRecord

__all__ = [
    "AUDIENCE",
    "CLOCK_LEEWAY_S",
    "MAX_LIFETIME_S",
    "OnBehalfClaims",
    "OnBehalfTokens",
    "looks_like_jwt",
]

log = logging.getLogger("novamem.auth")

AUDIENCE = "novamem"
MAX_LIFETIME_S = 15 * 60
CLOCK_LEEWAY_S = 30
MAX_TOKEN_CHARS = 8192
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")
_SUBJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@+=-]{0,127}$")
_ORGANIZATION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_KID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_SIGNATURE_BYTES = 64

KeyLookup = Callable[[str], Awaitable[ServiceKeyRecord | None]]


def looks_like_jwt(token: str) -> bool:
    """Whether a bearer has a JWT's compact shape (three dot-separated parts); only those are verified here."""
    return token.count(".") == 2 and len(token) <= MAX_TOKEN_CHARS


@dataclass(frozen=True, slots=True)
class OnBehalfClaims:
    """What a verified token says: the key that signed it (its tenant and organization) and the subject."""

    key: ServiceKeyRecord
    subject: str

    @property
    def organization_id(self) -> str:
        return self.key.organization_id


class _Refused(Exception):
    """Why a token is not accepted (logged at debug level, never shown to the client)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _unb64url(segment: str) -> bytes:
    if not _SEGMENT.match(segment):
        raise _Refused("a part is not unpadded base64url")
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise _Refused("a part is not base64url") from exc


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, value in pairs:
        if name in found:
            raise _Refused(f"duplicate member {name!r}")
        found[name] = value
    return found


def _no_constants(name: str) -> Any:
    raise _Refused(f"non-standard JSON constant {name}")


def _json_object(segment: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(_unb64url(segment), object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise _Refused(f"the {what} is not JSON") from exc
    if not isinstance(value, dict):
        raise _Refused(f"the {what} is not a JSON object")
    return value


def _number(claims: dict[str, Any], name: str, *, required: bool = True) -> float | None:
    value = claims.get(name)
    if value is None and not required and name not in claims:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _Refused(f"`{name}` is not a number")
    return float(value)


def _text(claims: dict[str, Any], name: str, pattern: re.Pattern[str]) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not pattern.match(value):
        raise _Refused(f"`{name}` is missing or malformed")
    return value


def _audience_ok(audience: Any) -> bool:
    if isinstance(audience, str):
        return audience == AUDIENCE
    return isinstance(audience, list) and any(isinstance(a, str) and a == AUDIENCE for a in audience)


class OnBehalfTokens:
    """Verifies OBO tokens against the registered keys; `lookup` answers the live key of a `kid`."""

    def __init__(self, lookup: KeyLookup, *, clock: Callable[[], float] = time.time) -> None:
        self._lookup = lookup
        self._clock = clock

    async def verify(self, token: str) -> OnBehalfClaims | None:
        """The token's claims when every rule holds, else None (the reason goes to the debug log)."""
        try:
            return await self._verify(token)
        except _Refused as exc:
            log.debug("on-behalf-of token refused: %s", exc.reason)
            return None

    async def _verify(self, token: str) -> OnBehalfClaims:
        if not looks_like_jwt(token):
            raise _Refused("not a compact JWT")
        head, body, signature = token.split(".")
        header = _json_object(head, "header")
        if header.get("alg") != "EdDSA":
            raise _Refused("`alg` is not EdDSA")
        if "crit" in header:
            raise _Refused("`crit` extensions are not supported")
        kid = header.get("kid")
        if not isinstance(kid, str) or not _KID.match(kid):
            raise _Refused("`kid` is missing or malformed")
        key = await self._lookup(kid)
        if key is None:
            raise _Refused(f"no live service key {kid}")
        raw_signature = _unb64url(signature)
        if len(raw_signature) != _SIGNATURE_BYTES:
            raise _Refused("the signature is not 64 bytes")
        try:
            public = Ed25519PublicKey.from_public_bytes(_unb64url(key.public_key))
            public.verify(raw_signature, f"{head}.{body}".encode("ascii"))
        except (InvalidSignature, ValueError) as exc:
            raise _Refused(f"the signature does not verify under key {kid}") from exc
        claims = _json_object(body, "claims")
        self._check_claims(claims, key)
        return OnBehalfClaims(key=key, subject=_text(claims, "sub", _SUBJECT))

    def _check_claims(self, claims: dict[str, Any], key: ServiceKeyRecord) -> None:
        _text(claims, "sub", _SUBJECT)
        if _text(claims, "org", _ORGANIZATION) != key.organization_id:
            raise _Refused(f"`org` is not the organization of key {key.id}")
        if not _audience_ok(claims.get("aud")):
            raise _Refused(f"`aud` does not contain {AUDIENCE}")
        issued, expires = _number(claims, "iat"), _number(claims, "exp")
        assert issued is not None and expires is not None
        if not 0 < expires - issued <= MAX_LIFETIME_S:
            raise _Refused(f"the lifetime is not within (0, {MAX_LIFETIME_S}] seconds")
        now = self._clock()
        if now > expires + CLOCK_LEEWAY_S:
            raise _Refused("expired")
        if issued > now + CLOCK_LEEWAY_S:
            raise _Refused("issued in the future")
        not_before = _number(claims, "nbf", required=False)
        if not_before is not None and not_before > now + CLOCK_LEEWAY_S:
            raise _Refused("not valid yet")
