"""`POST /v1/admin/users` where nobody has an account (`none` and `bearer` modes): the contract's 404
`{"error":"user auth not enabled"}`, instead of the unknown-route answer, so a provisioning script learns why."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from novamem.error_messages import USER_AUTH_NOT_ENABLED
from novamem.errors import NotFound

__all__ = ["router"]

router = APIRouter(prefix="/v1/admin", tags=["admin"])

_ERROR: dict[str, Any] = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


@router.post(
    "/users",
    include_in_schema=False,  # it only ever refuses; the account modes document the real route
    response_model=None,
    status_code=404,
    responses={404: {"description": "users have no accounts in this auth mode: user auth not enabled", **_ERROR}},
)
async def provisioning_disabled() -> None:
    """Provisioning users needs `user` (or `tenant`) auth mode; every caller gets the contract's 404."""
    raise NotFound(USER_AUTH_NOT_ENABLED)
