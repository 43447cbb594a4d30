"""Request dependencies: the container, and credentials turned into a Caller with route-class gates.

- `CallerDep` (data plane): any valid credential; restricted tokens are held to what they may do.
- `UserDep` (`/v1/me/*`, `/v1/auth/*`): a real user account (session cookie or `nm_` token).
- `AdminDep` (`/v1/admin/*`): an admin's session or unrestricted token.
- `OperatorDep` (lifecycle jobs): an admin, or the shared caller of `none`/`bearer` modes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from novamem.container import Container
from novamem.domain.policy import route_refusal
from novamem.domain.scope import Caller
from novamem.errors import Forbidden, Unauthenticated
from novamem.http.middleware.client import CLIENT_IP_KEY, client_address

__all__ = ["AdminDep", "CallerDep", "ContainerDep", "OperatorDep", "UserDep", "client_ip"]


async def get_container(request: Request) -> Container:
    container: Container = request.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


def client_ip(request: Request) -> str | None:
    """The client's address by the trusted-proxy rule (`http/middleware/client.py`), as the middleware resolved it."""
    state = request.scope.get("state") or {}
    if CLIENT_IP_KEY in state:
        resolved: str | None = state[CLIENT_IP_KEY]
        return resolved
    container = state.get("container")
    return client_address(request.scope, container.settings.trusted_proxy_networks if container else [])


async def get_caller(request: Request, container: ContainerDep) -> Caller:
    """Authenticate the request (uniform 401 whatever was wrong) and apply the route-class gates."""
    auth = container.authenticator
    cookie = request.cookies.get(auth.cookies.name) if auth.cookies is not None else None
    caller = await auth.authenticate(request.headers.get("authorization"), cookie)
    if caller is None:
        raise Unauthenticated("unauthorized")
    refusal = route_refusal(caller, request.method, request.url.path)
    if refusal is not None:
        raise Forbidden(refusal)
    request.state.caller = caller
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


async def get_user(caller: CallerDep) -> Caller:
    if not caller.is_user:
        raise Unauthenticated("unauthorized")
    return caller


UserDep = Annotated[Caller, Depends(get_user)]


async def get_admin(caller: CallerDep) -> Caller:
    if not caller.is_user:
        raise Unauthenticated("unauthorized")
    if caller.is_restricted:
        raise Forbidden("restricted token")
    if not caller.is_admin:
        raise Forbidden("admin only")
    return caller


AdminDep = Annotated[Caller, Depends(get_admin)]


async def get_operator(caller: CallerDep) -> Caller:
    if caller.is_restricted:
        raise Forbidden("restricted token")
    if not caller.is_operator:
        raise Forbidden("admin only")
    return caller


OperatorDep = Annotated[Caller, Depends(get_operator)]
