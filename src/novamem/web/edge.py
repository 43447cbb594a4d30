"""The dashboard door: every request under `/admin`, answered in a fixed order before any screen runs.

1. `/admin/assets/<hashed name>`: public static files (`web/assets.py`).
2. `/admin`, `/admin/`, `/admin/index.html`: 200 to anyone; signed out, the sign-in screen.
3. Any other path is authenticated before routing: anonymous callers get 401 `{"error":"unauthorized"}`,
   or the sign-in page with 401 when the browser prefers HTML, whether the path names a screen or not.
4. State-changing requests must pass the Origin rule of `/api/auth/*` (`services/identity/origins.py`).
5. An account that must change its password reaches only the change-password screen and sign-out.
6. The screen is found (404/405 pages otherwise), its REST route's refusals and admin rule apply (403
   page), and its view runs; a service error it does not handle becomes the error page.

The caller comes from the HTTP stack's one authentication (`authentication_from_state`); the dashboard
never reads credentials itself. `NOVAMEM_ADMIN_DASHBOARD=0` is enforced earlier, by the switch middleware.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from novamem.config import Settings
from novamem.container import Container
from novamem.error_messages import PASSWORD_CHANGE_REQUIRED, UNAUTHORIZED
from novamem.errors import Forbidden, NovamemError
from novamem.services.identity.authn import authentication_from_state
from novamem.services.identity.origins import SAFE_METHODS, check_origin
from novamem.web.assets import ASSETS_PREFIX, AssetCatalog
from novamem.web.flash import FLASH_COOKIE, FlashSigner
from novamem.web.forms import status_of
from novamem.web.routing import CHANGE_PASSWORD, HOME, SIGN_OUT, Match, Screen, ScreenTable
from novamem.web.screens import SCREENS
from novamem.web.templating import Pages
from novamem.web.visit import Visit

__all__ = ["ENTRY_PATHS", "DashboardEdge", "prefers_html"]

ENTRY_PATHS = frozenset({"/admin", "/admin/", "/admin/index.html"})
# what an account that must change its password may still reach
_CONFINED_TO = frozenset(
    {("GET", CHANGE_PASSWORD), ("HEAD", CHANGE_PASSWORD), ("POST", CHANGE_PASSWORD), ("POST", SIGN_OUT)}
)
_READS = frozenset({"GET", "HEAD"})


def prefers_html(accept: str | None) -> bool:
    """Whether an Accept header ranks HTML above JSON (`*/*` alone, as curl sends, means JSON)."""
    html = json = 0.0
    for part in (accept or "").split(","):
        media, *options = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for option in options:
            name, _, value = option.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.lower()
        if media in ("text/html", "application/xhtml+xml", "text/*"):
            html = max(html, quality)
        elif media in ("application/json", "application/*"):
            json = max(json, quality)
        elif media == "*/*":
            html, json = max(html, quality * 0.5), max(json, quality)
    return html > json


class DashboardEdge:
    """The `/admin` door: an ASGI app that app.py mounts with `routes()`."""

    def __init__(self, settings: Settings, screens: Iterable[Screen] = SCREENS) -> None:
        self._assets = AssetCatalog.load()
        self._screens = ScreenTable(screens)
        self._pages = Pages(settings, self._assets)

    def routes(self) -> list[BaseRoute]:
        """The two routes that hand every `/admin` request to this door."""
        return [
            Route("/admin", endpoint=self, include_in_schema=False),
            Route("/admin/{rest:path}", endpoint=self, include_in_schema=False),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await self._respond(request)
        await response(scope, receive, send)

    async def _respond(self, request: Request) -> Response:
        path, method = request.url.path, request.method
        if path.startswith(ASSETS_PREFIX):
            return self._assets.response(
                path.removeprefix(ASSETS_PREFIX), method, request.headers.get("accept-encoding", "")
            )
        container: Container = request.state.container
        cookies = container.authenticator.cookies
        if cookies is None:  # `none` / `bearer` modes: nobody signs in
            status = 200 if path in ENTRY_PATHS else 404
            return self._pages.render(request, "no_accounts.html", caller=None, status=status)
        flashes = FlashSigner(cookies.secret, secure=cookies.secure)
        flash = flashes.read(request.cookies.get(FLASH_COOKIE))
        found = authentication_from_state(request.scope.get("state") or {})
        if found.failure is not None:
            raise found.failure
        if found.refusal is not None:
            return self._pages.render(
                request, "error.html", caller=None, status=403, status_code=403, message=found.refusal
            )
        if found.caller is None:
            return self._anonymous(request, flashes)
        visit = Visit(request, container, found.caller, {}, self._pages, flashes, flash)
        refused = self._refusal(visit)
        if refused is not None:
            return refused if isinstance(refused, Response) else visit.error_page(403, refused)
        return await self._route(visit)

    def _anonymous(self, request: Request, flashes: FlashSigner) -> Response:
        """The sign-in page (200 on the entry paths, else 401 for browsers), or 401 JSON."""
        if request.url.path in ENTRY_PATHS and request.method in _READS:
            flash = flashes.read(request.cookies.get(FLASH_COOKIE))
            return self._pages.render(request, "signin.html", caller=None, flash=flash, flashes=flashes)
        if prefers_html(request.headers.get("accept")):
            return self._pages.render(request, "signin.html", caller=None, status=401)
        return JSONResponse({"error": UNAUTHORIZED}, status_code=401)

    async def _route(self, visit: Visit) -> Response:
        """Find the screen, apply its guard, run its view."""
        method, path = visit.request.method, visit.request.url.path
        if path in ENTRY_PATHS:
            path = CHANGE_PASSWORD if visit.caller.must_change_password and method in _READS else HOME
        match = self._screens.find(method, path)
        if not isinstance(match, Match):
            if match:
                return visit.error_page(405, "This page does not accept that request.")
            return visit.error_page(404, "There is no such page.")
        refusal = match.screen.refusal(visit.caller)
        if refusal is not None:
            return visit.error_page(403, refusal)
        visit = replace(visit, params=match.params)
        try:
            return await match.screen.view(visit)
        except NovamemError as exc:
            if status_of(exc) == 500:
                raise  # unexpected: logged and answered 500 by the HTTP stack
            return visit.failure(exc)

    def _refusal(self, visit: Visit) -> Response | str | None:
        """The Origin rule, then the password-change confinement: a 403 message, a redirect, or None."""
        request, caller = visit.request, visit.caller
        method, path = request.method, request.url.path
        if method not in SAFE_METHODS:
            try:
                check_origin(
                    method,
                    origin=request.headers.get("origin"),
                    referer=request.headers.get("referer"),
                    has_cookie="cookie" in request.headers,
                    trusted=visit.container.settings.trusted_origins,
                )
            except Forbidden as exc:
                return exc.message
        if not caller.must_change_password or (method, path) in _CONFINED_TO:
            return None
        if method in _READS and path in ENTRY_PATHS:
            return None  # the entry paths show the change-password screen
        if method in _READS:
            return RedirectResponse(CHANGE_PASSWORD, status_code=303)
        return PASSWORD_CHANGE_REQUIRED
