"""Wire models of the on-behalf-of service keys (`/v1/admin/service-keys`, reference 3.7 and 8.4)."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from novamem.services.wire import Out, Wire

__all__ = [
    "ORGANIZATION_PATTERN",
    "RESERVED_ORGANIZATION",
    "ServiceKeyCreate",
    "ServiceKeyList",
    "ServiceKeyRevoked",
    "ServiceKeyView",
    "decode_public_key",
]

ORGANIZATION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
# every ordinary user's entries are in no organization; a key can never act as them
RESERVED_ORGANIZATION = "default"
ED25519_PUBLIC_KEY_BYTES = 32
_BASE64URL = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")


def decode_public_key(text: str) -> bytes:
    """The raw Ed25519 public key that `text` (base64url, padding optional) encodes; ValueError otherwise."""
    if not _BASE64URL.match(text):
        raise ValueError("publicKey must be base64url (A-Z, a-z, 0-9, '-', '_')")
    try:
        raw = base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("publicKey is not valid base64url") from exc
    if len(raw) != ED25519_PUBLIC_KEY_BYTES:
        raise ValueError(f"publicKey must be a raw 32-byte Ed25519 public key (got {len(raw)} bytes)")
    return raw


def _public_key(text: str) -> str:
    """The key as stored and answered: base64url without padding."""
    return base64.urlsafe_b64encode(decode_public_key(text)).rstrip(b"=").decode("ascii")


def _not_reserved(organization: str) -> str:
    if organization == RESERVED_ORGANIZATION:
        raise ValueError(f'organization "{RESERVED_ORGANIZATION}" is reserved; a service key needs its own')
    return organization


OrganizationId = Annotated[
    str,
    Field(
        pattern=ORGANIZATION_PATTERN,
        description='the organization the key\'s tokens act in (never "default")',
        json_schema_extra={"not": {"enum": [RESERVED_ORGANIZATION]}},
    ),
    AfterValidator(_not_reserved),
]
PublicKey = Annotated[
    str,
    Field(min_length=1, max_length=128, description="the raw 32-byte Ed25519 public key, base64url"),
    AfterValidator(_public_key),
]


class ServiceKeyCreate(Wire):
    """`POST /v1/admin/service-keys`: register a platform's Ed25519 public key for one organization."""

    name: str = Field(min_length=1, max_length=128, description="a label for people")
    organization_id: OrganizationId
    public_key: PublicKey


class ServiceKeyView(Out):
    """A registered key; `id` is the `kid` its tokens name in their header."""

    id: str
    name: str
    organization_id: str
    public_key: str
    created_at: str
    revoked_at: str | None


class ServiceKeyList(Out):
    """`GET /v1/admin/service-keys`: the tenant's keys, newest first, revoked ones included."""

    keys: list[ServiceKeyView]


class ServiceKeyRevoked(Out):
    """`DELETE /v1/admin/service-keys/{id}`: the key's tokens stop working on the next request."""

    revoked: Literal[True] = True
