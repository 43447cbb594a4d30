"""Password hashing with argon2id (memory-hard), length policy, and a dummy verification for timing.

Hashing and verification are CPU- and memory-heavy on purpose, so the async wrappers run them in a
worker thread. Passwords are NFKC-normalised first, so the same visible password always verifies.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
import unicodedata

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from novamem.error_messages import BA_PASSWORD_TOO_LONG, BA_PASSWORD_TOO_SHORT
from novamem.errors import InvalidInput

__all__ = [
    "MAX_PASSWORD",
    "MIN_PASSWORD",
    "check_password_length",
    "generate_password",
    "hash_password",
    "needs_rehash",
    "verify_dummy",
    "verify_password",
]

MIN_PASSWORD = 8
MAX_PASSWORD = 256
# RFC 9106's second recommended option (64 MiB, 3 passes, 4 lanes): argon2-cffi's defaults, pinned here
# so a library upgrade changes hashes only through `needs_rehash`.
_HASHER = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4, hash_len=32, salt_len=16, type=Type.ID)


def _normalise(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def check_password_length(password: str) -> None:
    """Raise InvalidInput (`PASSWORD_TOO_SHORT` / `PASSWORD_TOO_LONG`) outside 8–256 characters."""
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(BA_PASSWORD_TOO_SHORT, code="PASSWORD_TOO_SHORT")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(BA_PASSWORD_TOO_LONG, code="PASSWORD_TOO_LONG")


def generate_password() -> str:
    """A random one-time password (24 url-safe characters, about 144 bits)."""
    return secrets.token_urlsafe(18)


def _hash(password: str) -> str:
    return _HASHER.hash(_normalise(password))


def _verify(encoded: str, password: str) -> bool:
    try:
        return _HASHER.verify(encoded, _normalise(password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    return _hash(secrets.token_urlsafe(16))


async def hash_password(password: str) -> str:
    """The argon2id encoded hash (`$argon2id$v=19$m=…`) of a password, computed off the event loop."""
    return await asyncio.to_thread(_hash, password)


async def verify_password(encoded: str | None, password: str) -> bool:
    """True when the password matches; a missing or malformed hash costs as much as a real one."""
    if not encoded:
        await verify_dummy(password)
        return False
    return await asyncio.to_thread(_verify, encoded, password)


async def verify_dummy(password: str) -> None:
    """Spend the time of one verification, so an unknown account answers as slowly as a known one."""
    await asyncio.to_thread(_verify, _dummy_hash(), password)


def needs_rehash(encoded: str) -> bool:
    """True when a stored hash was made with other parameters than today's."""
    try:
        return _HASHER.check_needs_rehash(encoded)
    except InvalidHashError:
        return True
