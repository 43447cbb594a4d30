"""Tenants (server admins, `tenant` mode only): every tenant of the deployment, and a new one with its
first admin. The same services and request model as `GET` / `POST /v1/admin/tenants`; outside tenant mode
the service answers not found (404), as those routes do.
"""

from __future__ import annotations

from starlette.responses import Response

from novamem.errors import Conflict, InvalidInput
from novamem.services.identity.account_models import TenantCreate
from novamem.web.forms import Form
from novamem.web.routing import Screen
from novamem.web.visit import Visit

__all__ = ["SCREENS", "TENANTS"]

TENANTS = "/admin/tenants"
# which field a create-tenant error belongs next to (by the service's code)
_FIELDS = {"INVALID_EMAIL": "adminEmail", "PASSWORD_TOO_SHORT": "adminPassword", "PASSWORD_TOO_LONG": "adminPassword"}


async def _tenants(visit: Visit, form: Form[TenantCreate], status: int = 200) -> Response:
    listing = await visit.container.tenants.list_all(visit.caller)
    return visit.render("admin_tenants.html", status=status, tenants=listing.tenants, form=form)


async def tenants_page(visit: Visit) -> Response:
    """Every tenant, and the create-tenant form."""
    return await _tenants(visit, Form[TenantCreate].blank())


async def create_tenant(visit: Visit) -> Response:
    """A new tenant and its first admin, who must change the temporary password at first sign-in."""
    form = await visit.form(TenantCreate)
    if form.model is not None:
        body = form.model
        try:
            created = await visit.container.tenants.create(
                visit.caller,
                name=body.name,
                admin_email=body.admin_email,
                admin_password=body.admin_password,
                request_ip=visit.client_ip,
            )
        except InvalidInput as exc:
            form.fail(exc, _FIELDS.get(exc.code or "", "name"))
        except Conflict as exc:
            form.fail(exc, "adminEmail")
        else:
            return visit.redirect(
                TENANTS, f"Created the tenant {created.name}. Its admin signs in with the temporary password."
            )
    return await _tenants(visit, form, form.status)


SCREENS = (
    Screen(TENANTS, tenants_page, ("GET", "/v1/admin/tenants"), admin=True),
    Screen(TENANTS, create_tenant, ("POST", "/v1/admin/tenants"), method="POST", admin=True),
)
