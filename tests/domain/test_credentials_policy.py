"""Credential formats and the route-class gates for restricted tokens (pure functions)."""

from __future__ import annotations

import pytest

from novamem.domain.credentials import (
    hash_secret,
    new_api_token,
    new_session_token,
    sign_session_token,
    verify_session_cookie,
)
from novamem.domain.policy import route_refusal
from novamem.domain.scope import Caller, Credential, TokenScope

SECRET = "Zq3xT0V9kHc2W8pLrN5bYd7mFs1Jg4Ae"


def test_api_tokens_are_random_and_hashed() -> None:
    a, b = new_api_token(), new_api_token()
    assert a.startswith("nm_") and len(a) == 3 + 43 and a != b
    assert "=" not in a and hash_secret(a) != hash_secret(b) and len(hash_secret(a)) == 64


def test_session_cookie_signature_binds_token_and_secret() -> None:
    token = new_session_token()
    value = sign_session_token(SECRET, token)
    assert verify_session_cookie(SECRET, value) == token
    assert verify_session_cookie(SECRET[::-1], value) is None  # a changed secret ends every session
    assert verify_session_cookie(SECRET, new_session_token() + value[32:]) is None
    assert verify_session_cookie(SECRET, token) is None
    assert verify_session_cookie(SECRET, "") is None
    assert all(ch not in value for ch in ' ;,"=\\')  # cookie-safe, never quoted


def caller(scope: TokenScope = TokenScope.FULL, project: str | None = None, admin: bool = False) -> Caller:
    return Caller("t", "u", scope, project, is_admin=admin, credential=Credential.TOKEN)


@pytest.mark.parametrize(
    ("who", "method", "path", "refusal"),
    [
        (caller(), "POST", "/v1/remember", None),
        (caller(), "POST", "/v1/me/tokens", None),
        (caller(TokenScope.READ_ONLY), "POST", "/v1/search", None),
        (caller(TokenScope.READ_ONLY), "POST", "/v1/context", None),
        (caller(TokenScope.READ_ONLY), "GET", "/v1/stats", None),
        (caller(TokenScope.READ_ONLY), "POST", "/v1/remember", "read-only token"),
        (caller(TokenScope.READ_ONLY), "PUT", "/v1/memories/x", "read-only token"),
        (caller(TokenScope.READ_ONLY), "POST", "/v1/forget", "read-only token"),
        (caller(TokenScope.READ_ONLY), "GET", "/v1/me/tokens", None),
        (caller(TokenScope.READ_ONLY), "POST", "/v1/me/tokens", "restricted token"),
        (caller(project="p"), "POST", "/v1/me/tokens", "restricted token"),
        (caller(project="p"), "DELETE", "/v1/me/tokens/abc", "restricted token"),
        (caller(project="p"), "POST", "/v1/remember", None),
        (caller(project="p", admin=True), "GET", "/v1/admin/users", "restricted token"),
        (caller(TokenScope.READ_ONLY, admin=True), "GET", "/v1/admin/audit-log", "restricted token"),
        (caller(project="p"), "POST", "/v1/auth/rotate-token", "restricted token"),
        (caller(admin=True), "GET", "/v1/admin/users", None),
    ],
)
def test_route_refusal(who: Caller, method: str, path: str, refusal: str | None) -> None:
    assert route_refusal(who, method, path) == refusal
