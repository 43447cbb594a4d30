"""Rendering the dashboard's Jinja2 templates (`web/templates/`) into HTML responses.

Autoescaping is always on, undefined names fail loudly, and every page carries `PAGE_HEADERS`. Each
template receives the page context below plus whatever the view passes:

- `caller`: the signed-in `Caller` (None on the sign-in and anonymous error pages)
- `nav`: the sidebar's groups (`web/nav.py`), `path` and `request_method`: the request's, `flash`: a `Flash` or None
- globals: `asset(name)` (hashed URL of a file in `web/static/`), `api_docs_url`, `tenant_mode`
- filters: `when` (ISO time → `2025-03-01 14:05 UTC`), `device` (User-Agent → `Firefox on Linux`)
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse

from novamem.config import AuthMode, Settings
from novamem.domain.scope import Caller
from novamem.web.assets import AssetCatalog
from novamem.web.flash import FLASH_COOKIE, Flash, FlashSigner
from novamem.web.formatting import FILTERS
from novamem.web.nav import sidebar

__all__ = ["API_DOCS_URL", "PAGE_HEADERS", "Pages"]

API_DOCS_URL = "/api-docs"
# Pages show personal data: never stored. `same-origin` rather than the server-wide `no-referrer`: under
# `no-referrer` a browser sends `Origin: null` with the page's own form posts, which the CSRF rule refuses;
# `same-origin` still sends nothing to other sites.
PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "same-origin"}


class Pages:
    """The template environment and the one way pages become responses."""

    def __init__(self, settings: Settings, assets: AssetCatalog) -> None:
        self.env = Environment(
            loader=PackageLoader("novamem.web", "templates"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(FILTERS)
        self.env.globals.update(
            asset=assets.url,
            api_docs_url=API_DOCS_URL,
            tenant_mode=settings.auth_mode is AuthMode.TENANT,
        )

    def render(
        self,
        request: Request,
        template: str,
        *,
        caller: Caller | None,
        flash: Flash | None = None,
        flashes: FlashSigner | None = None,
        status: int = 200,
        headers: dict[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        """Render `template` with the page context; a shown (or unreadable) flash cookie is deleted."""
        path = request.url.path
        html = self.env.get_template(template).render(
            caller=caller,
            nav=sidebar(caller, path) if caller is not None else (),
            path=path,
            request_method=request.method,
            flash=flash,
            **context,
        )
        response = HTMLResponse(html, status_code=status, headers={**PAGE_HEADERS, **(headers or {})})
        if flashes is not None and FLASH_COOKIE in request.cookies:
            flashes.clear(response)
        return response
