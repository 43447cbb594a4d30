"""Your account: change the password (forced at first sign-in), your sessions, sign out.

The same services and request models as `/api/auth/change-password`, `/list-sessions`, `/revoke-session`,
`/revoke-other-sessions` and `/sign-out`; the session cookie is set and cleared with the same attributes.
"""

from __future__ import annotations

from starlette.responses import Response

from novamem.errors import InvalidInput, NotFound, RateLimited
from novamem.services.identity.account_models import ChangePassword, RevokeSession
from novamem.services.identity.sessions import IssuedSession
from novamem.web.forms import FORM_ERROR, Form
from novamem.web.routing import CHANGE_PASSWORD, HOME, SIGN_OUT, Screen
from novamem.web.screens.onboarding import ONBOARDING
from novamem.web.visit import Visit

__all__ = ["ACCOUNT", "SCREENS"]

ACCOUNT = "/admin/account"
_CHANGE = ("POST", "/api/auth/change-password")
# which field a service error belongs next to
_PASSWORD_FIELDS = {
    "INVALID_PASSWORD": "currentPassword",
    "PASSWORD_TOO_SHORT": "newPassword",
    "PASSWORD_TOO_LONG": "newPassword",
}


def _set_session_cookie(visit: Visit, response: Response, issued: IssuedSession) -> None:
    """The new session's cookie, with the attributes `/api/auth/*` uses."""
    policy = visit.container.sessions.cookies
    if policy is None:
        return
    response.set_cookie(policy.name, issued.cookie_value, max_age=policy.max_age, **policy.flags)


def _clear_session_cookie(visit: Visit, response: Response) -> None:
    policy = visit.container.sessions.cookies
    if policy is not None:
        response.delete_cookie(policy.name, **policy.flags)


async def _change_password(visit: Visit, form: Form[ChangePassword], done: str) -> Response | None:
    """Apply a validated change-password form; the redirect on success, None when `form` now has errors."""
    body = form.model
    if body is None:
        return None
    try:
        _, issued = await visit.container.sessions.change_password(
            visit.caller,
            body.current_password,
            body.new_password,
            revoke_other_sessions=body.revoke_other_sessions,
            ip=visit.client_ip,
            user_agent=visit.user_agent,
        )
    except (InvalidInput, RateLimited, NotFound) as exc:
        form.fail(exc, _PASSWORD_FIELDS.get(exc.code or "", FORM_ERROR))
        return None
    message = "Password changed; every other session has ended." if issued else "Password changed."
    response = visit.redirect(done, message)
    if issued is not None:
        _set_session_cookie(visit, response, issued)
    return response


async def change_password_page(visit: Visit) -> Response:
    """The change-password screen (the only one an account that must change its password reaches)."""
    return visit.render("change_password.html", form=Form[ChangePassword].blank())


async def change_password(visit: Visit) -> Response:
    form = await visit.form(ChangePassword)
    done = ONBOARDING if visit.caller.must_change_password else ACCOUNT
    return await _change_password(visit, form, done) or visit.render(
        "change_password.html", status=form.status, form=form
    )


async def _account(visit: Visit, password_form: Form[ChangePassword], status: int = 200) -> Response:
    sessions = await visit.container.sessions.list_sessions(visit.caller)
    return visit.render(
        "account.html", status=status, form=password_form, sessions=sessions, current=visit.caller.session_id
    )


async def account_page(visit: Visit) -> Response:
    """Who you are, your password, your sessions."""
    return await _account(visit, Form[ChangePassword].blank())


async def account_password(visit: Visit) -> Response:
    form = await visit.form(ChangePassword)
    return await _change_password(visit, form, ACCOUNT) or await _account(visit, form, form.status)


async def revoke_session(visit: Visit) -> Response:
    """End one of your other sessions."""
    form = await visit.form(RevokeSession)
    if form.model is None:
        return visit.redirect(ACCOUNT, "Choose a session to end.", kind="error")
    ended = await visit.container.sessions.revoke_session(visit.caller, form.model.token)
    if not ended:
        return visit.redirect(ACCOUNT, "That session had already ended.", kind="info")
    return visit.redirect(ACCOUNT, "Session ended.")


async def revoke_other_sessions(visit: Visit) -> Response:
    """End every session but this one."""
    ended = await visit.container.sessions.revoke_sessions(visit.caller, keep_current=True)
    return visit.redirect(ACCOUNT, f"Ended {ended} other session{'' if ended == 1 else 's'}.")


async def sign_out(visit: Visit) -> Response:
    """End this session and clear its cookie, like `POST /api/auth/sign-out`."""
    await visit.container.sessions.sign_out(visit.caller)
    response = visit.redirect(HOME, "You are signed out.", kind="info")
    _clear_session_cookie(visit, response)
    return response


SCREENS = (
    Screen(CHANGE_PASSWORD, change_password_page, _CHANGE),
    Screen(CHANGE_PASSWORD, change_password, _CHANGE, method="POST"),
    Screen(ACCOUNT, account_page, ("GET", "/api/auth/list-sessions")),
    Screen(ACCOUNT + "/password", account_password, _CHANGE, method="POST"),
    Screen(ACCOUNT + "/sessions/revoke", revoke_session, ("POST", "/api/auth/revoke-session"), method="POST"),
    Screen(
        ACCOUNT + "/sessions/revoke-others",
        revoke_other_sessions,
        ("POST", "/api/auth/revoke-other-sessions"),
        method="POST",
    ),
    Screen(SIGN_OUT, sign_out, ("POST", "/api/auth/sign-out"), method="POST"),
)
