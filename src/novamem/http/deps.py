"""Request dependencies: the container, and credentials turned into a Caller."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from novamem.config import AuthMode
from novamem.container import Container
from novamem.domain.scope import Caller
from novamem.errors import Unauthenticated

__all__ = ["CallerDep", "ContainerDep"]


async def get_container(request: Request) -> Container:
    container: Container = request.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


async def get_caller(request: Request, container: ContainerDep) -> Caller:
    """Authenticate the request according to the auth mode."""
    settings = container.settings
    if settings.auth_mode is AuthMode.NONE:
        return Caller.public()
    header = request.headers.get("authorization", "")
    scheme, _, presented = header.partition(" ")
    expected = settings.auth_token.get_secret_value() if settings.auth_token else ""
    if scheme.lower() == "bearer" and expected and hmac.compare_digest(presented.strip().encode(), expected.encode()):
        return Caller.public()
    raise Unauthenticated("unauthorized")


CallerDep = Annotated[Caller, Depends(get_caller)]
