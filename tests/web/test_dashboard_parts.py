"""The dashboard's pure parts: content negotiation, forms, flash cookies, the sidebar, the asset catalogue."""

from __future__ import annotations

import pytest
from starlette.responses import Response

from novamem.domain.scope import Caller, Credential
from novamem.errors import Conflict, InvalidInput
from novamem.services.identity.account_models import ChangePassword
from novamem.web.assets import AssetCatalog
from novamem.web.edge import prefers_html
from novamem.web.flash import FLASH_COOKIE, Flash, FlashSigner
from novamem.web.forms import Form
from novamem.web.nav import sidebar


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),
        ("*/*", False),
        (None, False),
        ("application/json", False),
        ("application/json, text/html;q=0.5", False),
        ("text/html;q=0.9, application/json;q=0.1", True),
        ("text/html;q=oops", False),
    ],
)
def test_browsers_get_html_and_everyone_else_json(accept: str | None, html: bool) -> None:
    assert prefers_html(accept) is html


def test_a_form_keeps_what_was_typed_and_places_errors_by_wire_name() -> None:
    typed = {"currentPassword": "", "newPassword": "x" * 5000, "revokeOtherSessions": "true"}
    form = Form.submitted(ChangePassword, typed)
    assert form.model is None and form.status == 400
    assert form.error("currentPassword") == "This field is required."
    assert form.error("newPassword") is not None
    assert form.checked("revokeOtherSessions") and form.value("newPassword") == "x" * 5000

    good = Form.submitted(ChangePassword, {"currentPassword": "a", "newPassword": "b", "revokeOtherSessions": "true"})
    assert good.ok and good.model is not None and good.model.revoke_other_sessions is True
    good.fail(InvalidInput("Invalid password", code="INVALID_PASSWORD"), "currentPassword")
    assert not good.ok and good.status == 400 and good.error("currentPassword") == "Invalid password"
    assert Form[ChangePassword]().fail(Conflict("taken")).errors == {"": "taken"}
    issues = [{"path": "label", "message": "too long"}]
    assert Form[ChangePassword]().fail(InvalidInput(issues=issues)).errors == {"label": "too long"}


def _cookie_value(response: Response) -> str:
    header = response.headers["set-cookie"]
    return header.split(";", 1)[0].split("=", 1)[1]


def test_flash_cookies_are_signed() -> None:
    signer = FlashSigner("a-cookie-secret-of-some-length", secure=False)
    response = Response()
    signer.attach(response, Flash("Token “laptop” revoked.", "info"))
    assert response.headers["set-cookie"].startswith(f"{FLASH_COOKIE}=")
    value = _cookie_value(response)
    assert signer.read(value) == Flash("Token “laptop” revoked.", "info")
    assert FlashSigner("another-secret-entirely", secure=False).read(value) is None
    payload, _, signature = value.rpartition(".")
    assert signer.read(payload[:-2] + "xx." + signature) is None
    assert signer.read("") is None and signer.read("garbage") is None


def test_the_sidebar_shows_admin_screens_to_admins_and_marks_the_current_one() -> None:
    user = Caller(tenant_id="default", user_id="u", credential=Credential.SESSION)
    admin = Caller(tenant_id="default", user_id="a", is_admin=True, credential=Credential.SESSION)
    titles = [group.title for group in sidebar(user, "/admin/")]
    assert "Administration" not in titles
    links = {link.label: link for group in sidebar(admin, "/admin/memories/01ABC") for link in group.links}
    assert links["Memories"].current and not links["Remember"].current and not links["Home"].current
    assert "Tenants" not in links  # server admins in tenant mode only
    current = [link.label for group in sidebar(admin, "/admin/memories/new") for link in group.links if link.current]
    assert current == ["Remember"]
    assert [link.label for g in sidebar(user, "/admin") for link in g.links if link.current] == ["Home"]


def test_assets_are_published_under_content_hashes() -> None:
    catalog = AssetCatalog({"app.css": b"body{}", "app.js": b"1"})
    url = catalog.url("app.css")
    assert url.startswith("/admin/assets/app.") and url.endswith(".css")
    assert catalog.response(url.removeprefix("/admin/assets/"), "GET").status_code == 200
    assert catalog.response(url.removeprefix("/admin/assets/"), "POST").status_code == 405
    assert catalog.response("app.css", "GET").status_code == 404
    assert AssetCatalog({"app.css": b"body{ }"}).url("app.css") != url
    with pytest.raises(ValueError, match="unsupported"):
        AssetCatalog({"notes.txt": b""})
