"""Credential formats: API tokens, session tokens and signed session cookies (pure functions)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = [
    "API_TOKEN_PREFIX",
    "hash_secret",
    "new_api_token",
    "new_session_token",
    "sign_session_token",
    "verify_session_cookie",
]

API_TOKEN_PREFIX = "nm_"


def new_api_token() -> str:
    """`nm_` followed by 32 random bytes, base64url without padding; shown to its owner once."""
    return API_TOKEN_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


def new_session_token() -> str:
    """A 32-character alphanumeric session token (the cookie's payload)."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(32))


def hash_secret(value: str) -> str:
    """SHA-256 hex: what the database keeps of a token, never the token itself."""
    return hashlib.sha256(value.encode()).hexdigest()


def _signature(secret: str, token: str) -> str:
    digest = hmac.new(secret.encode(), token.encode(), hashlib.sha256).digest()
    # base64url without padding: cookie-safe, so the value is never quoted on the wire
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign_session_token(secret: str, token: str) -> str:
    """The cookie value `<token>.<base64url(HMAC-SHA256(secret, token))>`."""
    return f"{token}.{_signature(secret, token)}"


def verify_session_cookie(secret: str, value: str) -> str | None:
    """The session token inside a cookie value, or None when the signature does not verify.

    A changed cookie secret therefore ends every session at once.
    """
    token, dot, signature = value.rpartition(".")
    if not dot or not token or len(token) > 128:
        return None
    if not hmac.compare_digest(signature.encode(), _signature(secret, token).encode()):
        return None
    return token
