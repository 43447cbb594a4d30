"""API tokens: self-service (`/v1/me/tokens`), rotation (`/v1/auth/rotate-token`) and admin revocation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse

from novamem.domain.policy import on_behalf_refusal
from novamem.errors import Forbidden
from novamem.http.deps import AdminDep, ContainerDep, UserDep, client_ip
from novamem.services.identity.authn import caller_from_state
from novamem.services.identity.token_models import (
    TOKEN_HASH_PATTERN,
    AdminTokenRevoke,
    AdminTokenRevoked,
    MintedToken,
    RotatedToken,
    TokenCreate,
    TokenDeleted,
    TokenList,
)

__all__ = ["rotation_router", "router"]

# registered only when users have accounts (`user` and `tenant` modes)
router = APIRouter(tags=["tokens"])
# registered in every mode: outside account modes it answers 400
rotation_router = APIRouter(tags=["tokens"])


@router.get("/v1/me/tokens", response_model=TokenList)
async def list_tokens(caller: UserDep, c: ContainerDep) -> dict[str, Any]:
    """Your API tokens, oldest first, revoked ones included (hashes only, never plaintexts)."""
    return (await c.tokens.list_for_caller(caller)).to_wire()


@router.post("/v1/me/tokens", status_code=201, response_model=MintedToken)
async def create_token(body: TokenCreate, caller: UserDep, c: ContainerDep) -> dict[str, Any]:
    """Mint an API token for yourself; the plaintext is in this answer only."""
    minted = await c.tokens.mint_for_caller(
        caller, label=body.label, scope=body.scope, project=body.project, expires_in_days=body.expires_in_days
    )
    return minted.to_wire()


@router.delete(
    "/v1/me/tokens/{token_hash}", response_model=TokenDeleted, responses={404: {"description": "token not found"}}
)
async def delete_token(
    token_hash: Annotated[str, Path(pattern=TOKEN_HASH_PATTERN, description="the token's SHA-256 (64 hex)")],
    caller: UserDep,
    c: ContainerDep,
) -> dict[str, Any]:
    """Revoke one of your tokens; it stops working on the next request."""
    return (await c.tokens.revoke_own(caller, token_hash)).to_wire()


@router.post("/v1/admin/tokens/revoke", response_model=AdminTokenRevoked)
async def admin_revoke_token(
    body: AdminTokenRevoke, caller: AdminDep, c: ContainerDep, request: Request
) -> dict[str, Any]:
    """Kill a leaked token by its plaintext without knowing its owner (your tenant only)."""
    return (await c.tokens.admin_revoke(caller, body.token, request_ip=client_ip(request))).to_wire()


@rotation_router.post(
    "/v1/auth/rotate-token",
    status_code=201,
    response_model=RotatedToken,
    responses={400: {"description": "no accounts in this auth mode, or no bearer token presented"}},
)
async def rotate_token(request: Request, c: ContainerDep) -> Response:
    """Replace the presented `nm_` bearer: it stops working at once and a new token with the same
    scope, project and expiry is returned (shown once). Failures count toward a per-token lockout."""
    refused = on_behalf_refusal(caller_from_state(request.scope.get("state") or {}), request.url.path)
    if refused is not None:  # the route-class rule (this route reads no caller dependency)
        raise Forbidden(refused)
    auth = c.authenticator
    cookie = request.cookies.get(auth.cookies.name) if auth.cookies is not None else None
    rotated = await c.tokens.rotate(_bearer(request.headers.get("authorization")), cookie)
    return JSONResponse(rotated.to_wire(), status_code=201)


def _bearer(header: str | None) -> str | None:
    scheme, _, value = (header or "").partition(" ")
    value = value.strip()
    return value if scheme.lower() == "bearer" and value else None
