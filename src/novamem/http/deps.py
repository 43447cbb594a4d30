"""Request dependencies: the container, and the request's Caller with route-class gates.

The caller is the one `AuthenticationMiddleware` resolved for the whole request (MCP and the dashboard
read the same one); nothing here authenticates again.

- `CallerDep` (data plane): any valid credential; restricted tokens are held to what they may do.
- `UserDep` (`/v1/me/*`, `/v1/auth/*`): a real user account (session cookie or `nm_` token).
- `AdminDep` (`/v1/admin/*`): an admin's session or unrestricted token.
- `OperatorDep` (lifecycle jobs): an admin, or the shared caller of `none`/`bearer` modes.
- `QuietAdminDep` (`/v1/admin/health/deep`): like `AdminDep`, but a non-admin gets the same 401 as no
  credential at all, so the route does not reveal that a role gate exists (reference section 3.2).

The operator and quiet-admin gates decide on the role before the restricted-token rules: a non-admin hears
401 whatever its token's restrictions; an admin's restricted token hears the usual 403.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from novamem.container import Container
from novamem.domain.policy import route_refusal
from novamem.domain.scope import Caller
from novamem.error_messages import ADMIN_ONLY, RESTRICTED_TOKEN, UNAUTHORIZED
from novamem.errors import Forbidden, Unauthenticated
from novamem.services.identity.authn import client_ip_from_state, require_caller

__all__ = ["AdminDep", "CallerDep", "ContainerDep", "OperatorDep", "QuietAdminDep", "UserDep", "client_ip"]


async def get_container(request: Request) -> Container:
    container: Container = request.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


def client_ip(request: Request) -> str | None:
    """The client's address by the trusted-proxy rule (`http/middleware/client.py`), as the middleware resolved it."""
    return client_ip_from_state(request.scope.get("state") or {})


async def get_caller(request: Request) -> Caller:
    """The request's caller (uniform 401 whatever was wrong), held to the route-class gates."""
    caller = require_caller(request.scope.get("state") or {})
    refusal = route_refusal(caller, request.method, request.url.path)
    if refusal is not None:
        raise Forbidden(refusal)
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


async def get_user(caller: CallerDep) -> Caller:
    if not caller.is_user:
        raise Unauthenticated(UNAUTHORIZED)
    return caller


UserDep = Annotated[Caller, Depends(get_user)]


async def get_admin(caller: CallerDep) -> Caller:
    if not caller.is_user:
        raise Unauthenticated(UNAUTHORIZED)
    if caller.is_restricted:
        raise Forbidden(RESTRICTED_TOKEN)
    if not caller.is_admin:
        raise Forbidden(ADMIN_ONLY)
    return caller


AdminDep = Annotated[Caller, Depends(get_admin)]


def _gated(request: Request, caller: Caller, admitted: bool) -> Caller:
    """The caller if `admitted`, else the uniform 401; then the route-class and restricted-token rules."""
    if not admitted:
        raise Unauthenticated(UNAUTHORIZED)
    refusal = route_refusal(caller, request.method, request.url.path)
    if refusal is not None:
        raise Forbidden(refusal)
    if caller.is_restricted:
        raise Forbidden(RESTRICTED_TOKEN)
    return caller


async def get_operator(request: Request) -> Caller:
    """An operator (an admin in the user modes); anyone else is told 401, as if without credentials."""
    caller = require_caller(request.scope.get("state") or {})
    return _gated(request, caller, caller.is_operator)


async def get_quiet_admin(request: Request) -> Caller:
    """An admin's session or unrestricted token; anyone else is told 401, as if without credentials."""
    caller = require_caller(request.scope.get("state") or {})
    return _gated(request, caller, caller.is_user and caller.is_admin)


OperatorDep = Annotated[Caller, Depends(get_operator)]
QuietAdminDep = Annotated[Caller, Depends(get_quiet_admin)]
