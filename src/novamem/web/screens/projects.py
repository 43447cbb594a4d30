"""Projects: create, list with your role, the active-project switcher, members by email, leave, delete.

The same request models and service calls as `/v1/me/projects*` and `/v1/me/active-project`. Deleting a
project goes through a confirmation page that shows how many memories go with it (the service's preview).
"""

from __future__ import annotations

from starlette.responses import Response

from novamem.errors import Conflict, Forbidden, NotFound
from novamem.services.projects.models import ActiveProjectSet, MemberAdd, ProjectCreate
from novamem.web.forms import FORM_ERROR, Form
from novamem.web.routing import Screen
from novamem.web.visit import Visit

__all__ = ["PROJECTS", "SCREENS"]

PROJECTS = "/admin/projects"
_ONE = PROJECTS + "/{project_id}"
_MINE = ("GET", "/v1/me/projects")
_DELETE = ("DELETE", "/v1/me/projects/{id}")
_REMOVE = ("DELETE", "/v1/me/projects/{id}/members/{userId}")


def _detail_url(project_id: str) -> str:
    return f"{PROJECTS}/{project_id}"


def _memories(count: int) -> str:
    return f"{count} {'memory' if count == 1 else 'memories'}"


async def _list(visit: Visit, form: Form[ProjectCreate], status: int = 200) -> Response:
    overview = await visit.container.projects.overview(visit.caller)
    return visit.render("projects.html", status=status, overview=overview, form=form, active_project=overview.active)


async def projects_page(visit: Visit) -> Response:
    """Your projects with your role and member count, which one is active, and the create form."""
    return await _list(visit, Form[ProjectCreate].blank())


async def create_project(visit: Visit) -> Response:
    form = await visit.form(ProjectCreate)
    if form.model is not None:
        try:
            created = await visit.container.projects.create(visit.caller, form.model.name, request_ip=visit.client_ip)
        except Forbidden as exc:
            form.fail(exc, "name")
        else:
            return visit.redirect(_detail_url(created.id), f"Project “{created.name}” created; you are its owner.")
    return await _list(visit, form, form.status)


async def activate(visit: Visit) -> Response:
    """Make a project the default of your reads and writes (`PUT /v1/me/active-project`)."""
    form = await visit.form(ActiveProjectSet)
    if form.model is None:
        return visit.redirect(PROJECTS, "Choose a project to make active.", kind="error")
    chosen = await visit.container.projects.set_active(visit.caller, form.model.project)
    back = visit.query.get("back") == "detail"
    return visit.redirect(
        _detail_url(chosen.active.id) if back else PROJECTS,
        "Reads and writes now default to this project and your global memory.",
    )


async def deactivate(visit: Visit) -> Response:
    """Back to global memory only (`DELETE /v1/me/active-project`)."""
    await visit.container.projects.clear_active(visit.caller)
    return visit.redirect(PROJECTS, "Reads and writes now default to your global memory only.")


async def _detail(visit: Visit, form: Form[MemberAdd], status: int = 200) -> Response:
    detail = await visit.container.projects.detail(visit.caller, visit.params["project_id"])
    return visit.render("project.html", status=status, detail=detail, form=form, active_project=detail.active)


async def project_page(visit: Visit) -> Response:
    """One project: its members by email, and what you may do there (add, remove, leave, delete)."""
    return await _detail(visit, Form[MemberAdd].blank(role="member"))


async def add_member(visit: Visit) -> Response:
    """Add an account by its exact email (owner only); errors stay next to the email field."""
    form = await visit.form(MemberAdd)
    if form.model is not None:
        try:
            added = await visit.container.projects.add_member(
                visit.caller,
                visit.params["project_id"],
                form.model.username,
                form.model.role,
                request_ip=visit.client_ip,
            )
        except (NotFound, Conflict) as exc:
            form.fail(exc, "username")
        except Forbidden as exc:
            form.fail(exc, FORM_ERROR)
        else:
            return visit.redirect(_detail_url(visit.params["project_id"]), f"{added.username} is now a member.")
    return await _detail(visit, form, form.status)


async def remove_member(visit: Visit) -> Response:
    """The owner removes a member."""
    project_id = visit.params["project_id"]
    await visit.container.projects.remove_member(
        visit.caller, project_id, visit.params["user_id"], request_ip=visit.client_ip
    )
    return visit.redirect(_detail_url(project_id), "Member removed.")


async def leave(visit: Visit) -> Response:
    """A member leaves (the owner cannot: the service answers 400)."""
    await visit.container.projects.remove_member(
        visit.caller, visit.params["project_id"], visit.caller.user_id, request_ip=visit.client_ip
    )
    return visit.redirect(PROJECTS, "You left the project.", kind="info")


async def delete_page(visit: Visit) -> Response:
    """The confirmation page: what goes with the project, counted now (owner only)."""
    preview = await visit.container.projects.delete_preview(visit.caller, visit.params["project_id"])
    return visit.render("project_delete.html", preview=preview)


async def delete(visit: Visit) -> Response:
    """Delete the project and everything in it (owner only)."""
    deleted = await visit.container.projects.delete(
        visit.caller, visit.params["project_id"], request_ip=visit.client_ip
    )
    return visit.redirect(PROJECTS, f"Project deleted with {_memories(deleted.entries_removed)}.")


SCREENS = (
    Screen(PROJECTS, projects_page, _MINE),
    Screen(PROJECTS, create_project, ("POST", "/v1/me/projects"), method="POST"),
    Screen(PROJECTS + "/active", activate, ("PUT", "/v1/me/active-project"), method="POST"),
    Screen(PROJECTS + "/active/clear", deactivate, ("DELETE", "/v1/me/active-project"), method="POST"),
    Screen(_ONE, project_page, ("GET", "/v1/me/projects/{id}/members")),
    Screen(_ONE + "/members", add_member, ("POST", "/v1/me/projects/{id}/members"), method="POST"),
    Screen(_ONE + "/members/{user_id}/remove", remove_member, _REMOVE, method="POST"),
    Screen(_ONE + "/leave", leave, _REMOVE, method="POST"),
    Screen(_ONE + "/delete", delete_page, _DELETE),
    Screen(_ONE + "/delete", delete, _DELETE, method="POST"),
)
