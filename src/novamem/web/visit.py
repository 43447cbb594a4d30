"""One request to a dashboard screen: who asks, the container, and the ways a view answers.

A view is `async def view(visit: Visit) -> Response`. The edge built the Visit after the caller was
authenticated, the Origin rule passed and the screen's REST-route guard allowed the call, so a view only
validates input (`await visit.form(Model)`), calls one service and renders (`visit.render`) or redirects
(`visit.redirect`, 303 with a flash message).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from novamem.container import Container
from novamem.domain.scope import Caller
from novamem.errors import NovamemError
from novamem.services.identity.authn import client_ip_from_state
from novamem.web.flash import Flash, FlashKind, FlashSigner
from novamem.web.forms import Form, status_of
from novamem.web.templating import Pages

__all__ = ["Visit"]

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Visit:
    """A signed-in caller's request to one screen, and how the view answers it."""

    request: Request
    container: Container
    caller: Caller
    params: Mapping[str, str]  # the screen path's parameters (`/admin/memories/{entry_id}` → entry_id)
    pages: Pages
    flashes: FlashSigner
    flash: Flash | None  # the note the previous action left, shown once by `render`

    @property
    def client_ip(self) -> str | None:
        """The client's address (trusted-proxy rule), as REST routes see it."""
        return client_ip_from_state(self.request.scope.get("state") or {})

    @property
    def user_agent(self) -> str | None:
        return self.request.headers.get("user-agent")

    @property
    def query(self) -> Mapping[str, str]:
        """The query string's parameters (the first value of each)."""
        return self.request.query_params

    async def fields(self, lists: Collection[str] = ()) -> dict[str, str | list[str]]:
        """The posted form's fields as strings; names in `lists` always come back as lists."""
        posted = await self.request.form()
        fields: dict[str, str | list[str]] = {}
        for name in dict.fromkeys(posted.keys()):
            values = [value for value in posted.getlist(name) if isinstance(value, str)]
            fields[name] = values if name in lists or len(values) > 1 else (values[0] if values else "")
        for name in lists:
            fields.setdefault(name, [])
        return fields

    async def form(
        self, model: type[M], *, lists: Collection[str] = (), extra: Mapping[str, Any] | None = None
    ) -> Form[M]:
        """The posted form validated with `model` (the REST route's request model); see `web/forms.py`."""
        return Form.submitted(model, await self.fields(lists), extra=extra)

    def render(self, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
        """A page in the dashboard layout (sidebar, flash message, theme)."""
        return self.pages.render(
            self.request,
            template,
            caller=self.caller,
            flash=self.flash,
            flashes=self.flashes,
            status=status,
            **context,
        )

    def redirect(self, to: str, flash: str | None = None, *, kind: FlashKind = "success") -> Response:
        """303 to `to` (post/redirect/get), carrying a flash message for the next page."""
        response = RedirectResponse(to, status_code=303)
        if flash:
            self.flashes.attach(response, Flash(flash, kind))
        return response

    def error_page(self, status: int, message: str) -> HTMLResponse:
        """The error page (403, 404 ...) inside the layout."""
        return self.render("error.html", status=status, status_code=status, message=message)

    def failure(self, exc: NovamemError) -> HTMLResponse:
        """The error page for a service error the view did not place next to a field."""
        return self.error_page(status_of(exc), exc.message)
