"""Session-JWT signing keys storage contract (one record type plus one Protocol).

Kept apart from `storage/base.py` so the key aggregate has its own narrow Protocol. Keys are
deployment-wide (no tenant): every replica signs with the same current key and publishes the same set.
Only sealed private keys are stored; sealing and signing happen in the service.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

__all__ = ["SigningKeyRecord", "SigningKeyStore"]


@dataclass(frozen=True, slots=True)
class SigningKeyRecord:
    """One Ed25519 key pair as stored: the raw public key (base64url) and the sealed private key."""

    id: str
    public_x: str
    sealed_private: str
    created_at: datetime | None = None
    retired_at: datetime | None = None


class SigningKeyStore(Protocol):
    """The deployment's session-JWT signing keys."""

    async def current(self) -> SigningKeyRecord | None:
        """The newest unretired key, if there is one."""
        ...

    async def current_or_insert(self, candidate: SigningKeyRecord) -> SigningKeyRecord:
        """The newest unretired key; when there is none, `candidate` is stored and returned. Replicas that
        race here all get the same key."""
        ...

    async def rotate(self, new: SigningKeyRecord, *, keep_seconds: int) -> None:
        """Retire every current key, store `new` as the current one, and delete keys retired more than
        `keep_seconds` ago (one transaction)."""
        ...

    async def published(self, *, keep_seconds: int) -> list[SigningKeyRecord]:
        """Unretired keys and those retired less than `keep_seconds` ago, newest first."""
        ...
