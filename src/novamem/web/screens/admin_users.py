"""Users (admins): the list with entry and token counts, create with a temporary password, change role,
ban and unban, and delete behind a confirmation page showing what goes with the user.

The same services and request models as `/api/auth/admin/create-user` (a role can be chosen there) and the
`/v1/admin/users/*` routes (role, ban, unban, `DELETE ?dryRun=true` and the real delete). Admins see how much
each user holds, never what.
"""

from __future__ import annotations

from starlette.responses import Response

from novamem.errors import Conflict, InvalidInput
from novamem.services.identity.account_models import CreateUser, RoleChange, UserBan
from novamem.web.forms import FORM_ERROR, Form
from novamem.web.routing import Screen
from novamem.web.visit import Visit

__all__ = ["SCREENS", "USERS"]

USERS = "/admin/users"
_USER = USERS + "/{user_id}"
_LIST = ("GET", "/v1/admin/users")
_DELETE = ("DELETE", "/v1/admin/users/{id}")
_BAN = ("POST", "/v1/admin/users/{id}/ban")
# which field a create-user error belongs next to (by the service's Better Auth code)
_CREATE_FIELDS = {"INVALID_EMAIL": "email", "PASSWORD_TOO_SHORT": "password", "PASSWORD_TOO_LONG": "password"}
_SECONDS_PER_DAY = 86400


def _sentence(message: str) -> str:
    """A service message as a flash sentence (`cannot demote …` → `Cannot demote ….`)."""
    text = message[:1].upper() + message[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


async def _users(visit: Visit, form: Form[CreateUser], status: int = 200) -> Response:
    directory = await visit.container.users.directory(visit.caller)
    return visit.render("admin_users.html", status=status, users=directory.users, form=form)


async def users_page(visit: Visit) -> Response:
    """Every user of the admin's tenant, and the create-user form."""
    return await _users(visit, Form[CreateUser].blank(role="user"))


async def create_user(visit: Visit) -> Response:
    """Create an account with a temporary password (it must be changed at first sign-in)."""
    form = await visit.form(CreateUser)
    if form.model is not None:
        body = form.model
        try:
            user = await visit.container.users.create(
                visit.caller,
                email=body.email,
                password=body.password,
                name=body.name,
                role=body.role,
                request_ip=visit.client_ip,
            )
        except InvalidInput as exc:
            form.fail(exc, _CREATE_FIELDS.get(exc.code or "", FORM_ERROR))
        except Conflict as exc:
            form.fail(exc, "email")
        else:
            return visit.redirect(
                USERS, f"Created {user.email}. They sign in with the temporary password and must change it."
            )
    return await _users(visit, form, form.status)


async def change_role(visit: Visit) -> Response:
    """Make a user an admin or a plain user (never demoting the last admin)."""
    user_id = visit.params["user_id"]
    form = await visit.form(RoleChange)
    if form.model is None:
        return visit.redirect(USERS, "Choose a role: admin or user.", kind="error")
    try:
        user = await visit.container.users.set_role(visit.caller, user_id, form.model.role, request_ip=visit.client_ip)
    except (Conflict, InvalidInput) as exc:
        return visit.redirect(USERS, _sentence(exc.message), kind="error")
    return visit.redirect(USERS, f"{user.email} is now {'an admin' if user.role == 'admin' else 'a user'}.")


async def _ban_page(visit: Visit, form: Form[UserBan], status: int = 200) -> Response:
    user = await visit.container.users.standing(visit.caller, visit.params["user_id"])
    return visit.render("admin_user_ban.html", status=status, user=user, form=form)


async def ban_page(visit: Visit) -> Response:
    """Confirm a ban: an optional reason and duration."""
    return await _ban_page(visit, Form[UserBan].blank())


async def ban(visit: Visit) -> Response:
    """Ban a user: their sessions end and their tokens stop working until unbanned (or the ban ends)."""
    form = await visit.form(UserBan)
    if form.model is not None:
        body = form.model
        try:
            user = await visit.container.users.ban(
                visit.caller,
                visit.params["user_id"],
                reason=body.reason,
                expires_in_seconds=body.expires_in_days * _SECONDS_PER_DAY if body.expires_in_days else None,
                request_ip=visit.client_ip,
            )
        except InvalidInput as exc:
            form.fail(exc)
        else:
            return visit.redirect(USERS, f"Banned {user.email}: their sessions ended and their tokens stopped working.")
    return await _ban_page(visit, form, form.status)


async def unban(visit: Visit) -> Response:
    """Lift a user's ban."""
    user = await visit.container.users.unban(visit.caller, visit.params["user_id"], request_ip=visit.client_ip)
    return visit.redirect(USERS, f"Lifted the ban on {user.email}.")


async def delete_page(visit: Visit) -> Response:
    """What deleting the user takes with them (the dry run of `DELETE /v1/admin/users/{id}`), and the button."""
    try:
        preview = await visit.container.users.erase(visit.caller, visit.params["user_id"], dry_run=True)
    except (InvalidInput, Conflict) as exc:
        return visit.redirect(USERS, _sentence(exc.message), kind="error")
    return visit.render("admin_user_delete.html", preview=preview.would_delete)


async def delete(visit: Visit) -> Response:
    """Delete the user and everything they hold (owned projects with their contents, entries, tokens)."""
    try:
        erased = await visit.container.users.erase(visit.caller, visit.params["user_id"], request_ip=visit.client_ip)
    except (InvalidInput, Conflict) as exc:
        return visit.redirect(USERS, _sentence(exc.message), kind="error")
    counts = (
        _count(erased.entries_removed, "entry", "entries"),
        _count(erased.tokens_removed, "token", "tokens"),
        _count(len(erased.projects_deleted), "owned project", "owned projects"),
    )
    return visit.redirect(USERS, f"User deleted with {counts[0]}, {counts[1]} and {counts[2]}.")


SCREENS = (
    Screen(USERS, users_page, _LIST, admin=True),
    Screen(USERS, create_user, ("POST", "/api/auth/admin/create-user"), method="POST", admin=True),
    Screen(_USER + "/role", change_role, ("PUT", "/v1/admin/users/{id}/role"), method="POST", admin=True),
    Screen(_USER + "/ban", ban_page, _LIST, admin=True),
    Screen(_USER + "/ban", ban, _BAN, method="POST", admin=True),
    Screen(_USER + "/unban", unban, ("POST", "/v1/admin/users/{id}/unban"), method="POST", admin=True),
    Screen(_USER + "/delete", delete_page, _DELETE, admin=True),
    Screen(_USER + "/delete", delete, _DELETE, method="POST", admin=True),
)
