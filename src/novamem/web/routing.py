"""Screens: a dashboard path and method, its view, and the REST route it stands for.

Every screen names the REST route (method, path) whose data it shows or whose change it makes. The same
route-class rule REST and MCP apply (`domain.policy.route_refusal`) is applied to that route before the
view runs, so a read-only or project-confined credential can do nothing here that it could not do over
REST; `admin=True` screens also need an admin.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from re import Pattern
from typing import Literal

from starlette.responses import Response
from starlette.routing import compile_path

from novamem.domain.policy import route_refusal
from novamem.domain.scope import Caller, Credential
from novamem.error_messages import ADMIN_ONLY, ON_BEHALF_REFUSED
from novamem.web.visit import Visit

__all__ = [
    "SESSION_ONLY",
    "CHANGE_PASSWORD",
    "HOME",
    "SIGN_OUT",
    "Handler",
    "Match",
    "Screen",
    "ScreenTable",
]

Handler = Callable[[Visit], Awaitable[Response]]
SESSION_ONLY = "this page needs a dashboard session: sign in with your email and password"
# the paths the edge itself knows: where the entry paths lead, and what a confined account may reach
HOME = "/admin/"
CHANGE_PASSWORD = "/admin/change-password"
SIGN_OUT = "/admin/sign-out"


@dataclass(frozen=True)
class Screen:
    """One dashboard page (GET) or action (POST).

    `path` is the full path with Starlette-style parameters (`/admin/memories/{entry_id}`); `rest` is
    the REST route it mirrors, e.g. `("POST", "/api/auth/change-password")`.
    """

    path: str
    view: Handler
    rest: tuple[str, str]
    method: Literal["GET", "POST"] = "GET"
    admin: bool = False

    def refusal(self, caller: Caller) -> str | None:
        """Why this caller may not use the screen (the 403 message), or None.

        Screens that mirror a `/api/auth/*` route need a dashboard session, as that route does.
        """
        if caller.is_on_behalf:  # the dashboard is never for a platform's end users, whatever it shows
            return ON_BEHALF_REFUSED
        refused = route_refusal(caller, *self.rest)
        if refused is not None:
            return refused
        if self.rest[1].startswith("/api/auth/") and caller.credential is not Credential.SESSION:
            return SESSION_ONLY
        if self.admin and (not caller.is_admin or caller.is_restricted):
            return ADMIN_ONLY
        return None


@dataclass(frozen=True)
class Match:
    """A screen found for a request, with the path's parameters."""

    screen: Screen
    params: dict[str, str]


class ScreenTable:
    """Finds the screen of a (method, path); HEAD is served by the GET screen."""

    def __init__(self, screens: Iterable[Screen]) -> None:
        self._compiled: list[tuple[Pattern[str], Screen]] = []
        seen: set[tuple[str, str]] = set()
        for screen in screens:
            key = (screen.method, screen.path)
            if key in seen:
                raise ValueError(f"two dashboard screens for {screen.method} {screen.path}")
            seen.add(key)
            self._compiled.append((compile_path(screen.path)[0], screen))

    def find(self, method: str, path: str) -> Match | list[str]:
        """The matching screen, or the methods the path does answer (empty: no such screen)."""
        wanted = "GET" if method == "HEAD" else method
        allowed: list[str] = []
        for pattern, screen in self._compiled:
            found = pattern.match(path)
            if found is None:
                continue
            if screen.method == wanted:
                return Match(screen, found.groupdict())
            allowed.append(screen.method)
        return allowed
