"""Projects in Chromium: create, add members by exact email (errors beside the field), a member signs in and
sees the project, the active-project switcher, remove, leave, delete through the confirmation page with the
number of memories that go; keyboard-only reach and labels; screenshots."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
from playwright.sync_api import Page, expect

from tests.conftest import RunningServer
from tests.web.conftest import Account, Watched, keyboard_reach, shoot, unlabelled_controls


def _post_status(page: Page, click: Callable[[], None]) -> int:
    """Submit a form by `click` and return the status of the page that answered."""
    with page.expect_response(lambda r: r.request.method == "POST" and r.request.resource_type == "document") as info:
        click()
    response = info.value
    return response.status


def _remember(client: httpx.Client, content: str, project: str | None = None) -> str:
    body: dict[str, object] = {"content": content, "namespace": "notes"}
    if project is not None:
        body["project"] = project
    r = client.post("/v1/remember", json=body)
    assert r.status_code == 201, r.text
    entry_id = r.json()["id"]
    assert entry_id, r.text
    return str(entry_id)


def _assert_keyboard_reaches_everything(page: Page) -> None:
    controls, reached = keyboard_reach(page)
    assert set(controls) <= set(reached), set(controls) - set(reached)
    assert unlabelled_controls(page) == []


def test_share_a_project_with_members_then_delete_it(
    open_page: Callable[..., Watched],
    make_account: Callable[..., Account],
    session_cookies: Callable[[Account], dict[str, str]],
    dashboard: RunningServer,
) -> None:
    owner, member, other = make_account(), make_account(), make_account()
    watched = open_page(owner)
    page = watched.page
    watched.goto("/admin/projects")
    expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()
    expect(page.get_by_text("You are not in any project yet.")).to_be_visible()
    expect(page.locator(".sidebar-scope")).to_have_text("Global memory only")
    shoot(page, "projects-empty")
    _assert_keyboard_reaches_everything(page)

    # an empty name: the error beside the field, status 400
    status = _post_status(page, lambda: page.get_by_role("button", name="Create project").click())
    assert status == 400
    expect(page.locator("#f-name-error")).to_have_text("This field is required.")
    expect(page.get_by_label("Name")).to_have_attribute("aria-invalid", "true")
    shoot(page, "projects-error")

    page.get_by_label("Name").fill("Team Atlas")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name="Team Atlas")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("Project “Team Atlas” created; you are its owner.")
    project_id = page.url.rsplit("/", 1)[1]
    assert re.fullmatch(r"[0-9A-Z]{26}", project_id)

    # an unknown email: 404 beside the field, and what was typed stays
    email = page.get_by_label("Email address")
    email.fill("nobody-at-all@example.com")
    page.get_by_label("Role").select_option("owner")
    status = _post_status(page, lambda: page.get_by_role("button", name="Add member").click())
    assert status == 404
    expect(page.locator("#f-username-error")).to_have_text("unknown user")
    expect(email).to_have_value("nobody-at-all@example.com")
    expect(email).to_have_attribute("aria-describedby", re.compile("f-username-error"))
    expect(page.get_by_label("Role")).to_have_value("owner")
    shoot(page, "project-member-error")

    for account in (member, other):
        email.fill(account.email.upper())  # exact email, letter case aside
        page.get_by_label("Role").select_option("member")
        page.get_by_role("button", name="Add member").click()
        expect(page.get_by_role("status")).to_have_text(f"{account.email} is now a member.")
    expect(page.locator("table tbody tr")).to_have_count(3)
    # adding someone twice: 409 beside the field
    email.fill(member.email)
    assert _post_status(page, lambda: page.get_by_role("button", name="Add member").click()) == 409
    expect(page.locator("#f-username-error")).to_have_text("user is already a member")
    watched.goto(f"/admin/projects/{project_id}")
    shoot(page, "project-owner")
    _assert_keyboard_reaches_everything(page)

    # memories in the project (two by the owner, one by a member) and one in the owner's global memory
    with (
        dashboard.client(cookies=session_cookies(owner), headers={"origin": dashboard.base_url}) as as_owner,
        dashboard.client(cookies=session_cookies(member), headers={"origin": dashboard.base_url}) as as_member,
    ):
        _remember(as_owner, "The Atlas launch checklist lives in the ops wiki under launches.", project_id)
        _remember(as_owner, "Atlas staging database is refreshed every Monday at six.", project_id)
        _remember(as_member, "Atlas design review moved to Thursday afternoons.", project_id)
        _remember(as_owner, "My own dentist appointment is on the fourth of next month.")

        # the member signs in and sees the project, then makes it active
        member_page = open_page(member)
        mpage = member_page.page
        member_page.goto("/admin/projects")
        row = mpage.locator("table tbody tr", has_text="Team Atlas")
        expect(row).to_contain_text("Member")
        expect(row.locator("td[data-label='Members']")).to_have_text("3")
        row.get_by_role("button", name="Make Team Atlas the active project").click()
        expect(mpage.get_by_role("status")).to_contain_text("Reads and writes now default to this project")
        expect(mpage.locator(".scope-card")).to_contain_text("Team Atlas")
        expect(mpage.locator(".sidebar-scope")).to_have_text("Project: Team Atlas")
        expect(row.get_by_text("Active", exact=True)).to_be_visible()
        assert as_member.get("/v1/me/active-project").json() == {"active": {"id": project_id, "name": "Team Atlas"}}
        shoot(mpage, "projects-member")

        # the member's view of the project: no add form, a way to leave
        row.get_by_role("link", name="Team Atlas").click()
        expect(mpage.get_by_role("heading", name="Team Atlas")).to_be_visible()
        expect(mpage.get_by_role("button", name="Add member")).to_have_count(0)
        expect(mpage.get_by_role("button", name="Remove", exact=False)).to_have_count(0)
        expect(mpage.get_by_text("Active project", exact=True)).to_be_visible()
        shoot(mpage, "project-member")
        _assert_keyboard_reaches_everything(mpage)
        mpage.get_by_role("button", name="Use global memory only").click()
        expect(mpage.locator(".scope-card")).to_contain_text("Global memory only")
        assert as_member.get("/v1/me/active-project").json() == {"active": None}

        # the owner removes the other member; the member leaves
        page.locator("tr", has_text=other.email).get_by_role("button", name=f"Remove {other.email}").click()
        expect(page.get_by_role("status")).to_have_text("Member removed.")
        expect(page.locator("table tbody tr")).to_have_count(2)
        member_page.goto(f"/admin/projects/{project_id}")
        mpage.get_by_role("button", name="Leave Team Atlas").click()
        expect(mpage.get_by_role("status")).to_have_text("You left the project.")
        expect(mpage.get_by_text("You are not in any project yet.")).to_be_visible()
        assert as_member.get(f"/v1/me/projects/{project_id}/members").status_code == 403

    # the owner cannot leave, only delete: the confirmation page counts what goes
    expect(page.get_by_role("button", name=re.compile("^Leave"))).to_have_count(0)
    page.get_by_role("link", name="Delete project…").click()
    expect(page.get_by_role("heading", name="Delete Team Atlas")).to_be_visible()
    expect(page.locator(".cascade-warning")).to_contain_text("permanently removes 3 memories")
    expect(page.locator(".cascade-warning")).to_contain_text("for all 1 member")
    shoot(page, "project-delete")
    _assert_keyboard_reaches_everything(page)
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("heading", name="Team Atlas")).to_be_visible()
    page.get_by_role("link", name="Delete project…").click()
    page.get_by_role("button", name="Delete project and 3 memories").click()
    expect(page.get_by_role("status")).to_have_text("Project deleted with 3 memories.")
    expect(page.get_by_text("You are not in any project yet.")).to_be_visible()
    assert dashboard.sql("SELECT count(*) FROM memory_entries WHERE project_id = %s", (project_id,)) == [(0,)]
    assert dashboard.sql("SELECT count(*) FROM memory_entries WHERE user_id = %s", (owner.user_id,)) == [(1,)]


def test_project_pages_refuse_non_members_and_non_owners(
    open_page: Callable[..., Watched], make_account: Callable[..., Account]
) -> None:
    owner, member, stranger = make_account(), make_account(), make_account()
    watched = open_page(owner)
    page = watched.page
    watched.goto("/admin/projects")
    page.get_by_label("Name").fill("Quiet Harbour")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name="Quiet Harbour")).to_be_visible()
    project_id = page.url.rsplit("/", 1)[1]
    page.get_by_label("Email address").fill(member.email)
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("status")).to_have_text(f"{member.email} is now a member.")
    page.get_by_role("button", name="Make active").click()
    expect(page.get_by_text("Active project", exact=True)).to_be_visible()
    expect(page.locator(".sidebar-scope")).to_have_text("Project: Quiet Harbour")
    watched.goto("/admin/account")  # other screens do not know the name: the caption still says so
    expect(page.locator(".sidebar-scope")).to_have_text("A project is active")

    outsider = open_page(stranger)
    response = outsider.goto(f"/admin/projects/{project_id}")
    assert response is not None and response.status == 403
    expect(outsider.page.locator(".error-code")).to_have_text("403")

    as_member = open_page(member)
    response = as_member.goto(f"/admin/projects/{project_id}/delete")
    assert response is not None and response.status == 403
    expect(as_member.page.get_by_text("only the owner can delete a project")).to_be_visible()
