"""One story across the dashboard's screens in Chromium, as issue 10 tells it: an admin creates a user with a
temporary password; the user signs in, changes it, lands on onboarding, mints a token and uses it over HTTP,
remembers, searches, edits, creates a project and shares it; a second user signs in and sees the shared memory;
the first user forgets a memory and revokes the token; the admin bans the second user, whose open session ends.
Screenshots under `journey-*`."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

import httpx
from playwright.sync_api import Page, expect

from tests.conftest import RunningServer
from tests.web.conftest import Account, Watched, shoot

TEMPORARY = "journey-temporary-1"
CHOSEN = "a-journey-of-one-thousand-steps"
TOKEN_SHAPE = re.compile(r"^nm_[A-Za-z0-9_-]{43}$")
BY_AGENT = "The laptop agent noted that the build server restarts every night at midnight"
BY_HAND = "Ada's editor theme is solarized light with a larger font"
EDITED = "Ada's editor theme is solarized dark with a larger font"
SHARED = "The greenhouse vents open automatically above twenty-six degrees"


def _nav(page: Page, screen: str) -> None:
    """Follow the sidebar's link to a screen."""
    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name=screen, exact=True).click()


def _sign_in(page: Page, email: str, password: str) -> None:
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def _remember(page: Page, content: str, project: str | None = None) -> str:
    """Remember through /admin/memories/new; returns the new memory's id (from the detail page it lands on)."""
    _nav(page, "Remember")
    expect(page.get_by_role("heading", name="Remember")).to_be_visible()
    page.get_by_label("What should be remembered?").fill(content)
    if project is not None:
        page.get_by_label("Project").select_option(project)
    page.get_by_role("button", name="Remember").click()
    expect(page.get_by_role("status")).to_have_text("Remembered.")
    expect(page.locator(".memory-text")).to_have_text(content)
    return page.url.rsplit("/", 1)[1]


def _ask(page: Page, question: str) -> None:
    """The home screen's "Ask your memory" search."""
    _nav(page, "Home")
    page.get_by_role("searchbox", name="Ask your memory").fill(question)
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name=re.compile("^Results for"))).to_be_visible()


def test_a_user_from_first_sign_in_to_a_shared_memory_and_a_ban(
    open_page: Callable[..., Watched], make_account: Callable[..., Account], dashboard: RunningServer
) -> None:
    admin, bea = make_account("admin"), make_account()
    ada = f"ada-{secrets.token_hex(3)}@example.com"

    # the admin creates Ada's account with a temporary password
    admin_watch = open_page(admin)
    console = admin_watch.page
    admin_watch.goto("/admin/users")
    console.get_by_label("Email", exact=True).fill(ada)
    console.get_by_label("Name (optional)", exact=True).fill("Ada Journey")
    console.get_by_label("Temporary password", exact=True).fill(TEMPORARY)
    console.get_by_label("Role", exact=True).select_option("user")
    console.get_by_role("button", name="Create user").click()
    expect(console.get_by_role("status")).to_contain_text(f"Created {ada}.")

    # Ada signs in with it, must choose her own password, and lands on onboarding
    ada_watch = open_page()
    page = ada_watch.page
    ada_watch.goto("/admin/")
    _sign_in(page, ada, TEMPORARY)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    ada_watch.goto("/admin/memories")
    assert page.url.endswith("/admin/change-password")  # nothing else until the password is hers
    page.get_by_label("Current password").fill(TEMPORARY)
    page.get_by_label("New password").fill(CHOSEN)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("heading", name="Get started")).to_be_visible()
    assert page.url.endswith("/admin/onboarding")
    expect(page.get_by_role("status")).to_have_text("Password changed.")
    shoot(page, "journey-onboarding")

    # she mints a token for her laptop's agent, which writes over HTTP with it
    page.get_by_role("link", name="Continue to API tokens").click()
    expect(page.get_by_role("heading", name="API tokens")).to_be_visible()
    page.get_by_label("Label").fill("Ada's laptop")
    page.get_by_role("button", name="Mint token").click()
    expect(page.get_by_role("heading", name="Token minted")).to_be_visible()
    token = (page.locator("#minted-token").text_content() or "").strip()
    assert TOKEN_SHAPE.match(token), token
    shoot(page, "journey-token")
    with httpx.Client(base_url=dashboard.base_url, timeout=60, headers={"authorization": f"Bearer {token}"}) as agent:
        r = agent.post("/v1/remember", json={"content": BY_AGENT})
        assert r.status_code == 201, r.text
        agent_entry = str(r.json()["id"])

        # she remembers something by hand, finds it from home, and corrects it
        by_hand = _remember(page, BY_HAND)
        _ask(page, "which editor theme does Ada use?")
        first = page.locator("ol.results > li").first
        expect(first.locator(".result-content")).to_have_text(BY_HAND)
        shoot(page, "journey-search")
        first.get_by_role("link", name=BY_HAND).click()
        assert page.url.endswith(f"/admin/memories/{by_hand}")
        page.get_by_label("Content").fill(EDITED)
        page.get_by_role("button", name="Save changes").click()
        expect(page.get_by_role("status")).to_have_text("Saved.")
        expect(page.locator(".memory-text")).to_have_text(EDITED)
        _ask(page, "which editor theme does Ada use?")
        expect(page.locator("ol.results > li").first.locator(".result-content")).to_have_text(EDITED)

        # a project shared with Bea by her email, and a memory remembered into it
        _nav(page, "Projects")
        page.get_by_label("Name").fill("Greenhouse")
        page.get_by_role("button", name="Create project").click()
        expect(page.get_by_role("heading", name="Greenhouse")).to_be_visible()
        project_id = page.url.rsplit("/", 1)[1]
        page.get_by_label("Email address").fill(bea.email)
        page.get_by_role("button", name="Add member").click()
        expect(page.get_by_role("status")).to_have_text(f"{bea.email} is now a member.")
        shared = _remember(page, SHARED, project=project_id)
        expect(page.locator(".facts").first).to_contain_text("Greenhouse")
        stored = dashboard.sql("SELECT project_id FROM memory_entries WHERE id = %s", (shared,))
        assert stored == [(project_id,)]

        # Bea signs in in her own browser and sees it: in the project's memories, then from home once the
        # project is her active one (home searches her own memory and the active project)
        bea_watch = open_page()
        other = bea_watch.page
        bea_watch.goto("/admin/")
        _sign_in(other, bea.email, bea.password)
        expect(other.get_by_role("heading", name="Home")).to_be_visible()
        _nav(other, "Memories")
        other.get_by_label("Project").select_option(label="Greenhouse")
        other.get_by_role("button", name="Apply").click()
        rows = other.locator(".memory-table tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text(SHARED)
        expect(other.locator(".memory-table")).not_to_contain_text("editor theme")  # Ada's own stay hers
        _ask(other, "when do the greenhouse vents open?")
        expect(other.locator("ol.results > li")).to_have_count(0)
        _nav(other, "Projects")
        other.get_by_role("button", name="Make Greenhouse the active project").click()
        expect(other.locator(".sidebar-scope")).to_have_text("Project: Greenhouse")
        _ask(other, "when do the greenhouse vents open?")
        found = other.locator("ol.results > li").first
        expect(found.locator(".result-content")).to_have_text(SHARED)
        expect(found.locator(".result-meta")).to_contain_text("Greenhouse")
        shoot(other, "journey-shared-memory")
        found.get_by_role("link", name=SHARED).click()
        assert other.url.endswith(f"/admin/memories/{shared}")

        # Ada forgets what the agent wrote, then revokes the agent's token: it stops working
        _nav(page, "Memories")
        page.locator(".memory-table tbody tr").filter(has_text=BY_AGENT).get_by_role("link").click()
        assert page.url.endswith(f"/admin/memories/{agent_entry}")
        page.get_by_role("link", name="Forget…").click()
        page.get_by_role("button", name="Forget this memory").click()
        expect(page.get_by_role("status")).to_have_text("Memory forgotten.")
        assert dashboard.sql("SELECT count(*) FROM memory_entries WHERE id = %s", (agent_entry,)) == [(0,)]
        _nav(page, "API tokens")
        row = page.locator("table tbody tr", has_text="Ada's laptop")
        row.get_by_role("button", name=re.compile("^Revoke Ada's laptop")).click()
        expect(page.get_by_role("status")).to_have_text("Token revoked: it no longer works.")
        expect(row.get_by_text("Revoked")).to_be_visible()
        assert agent.post("/v1/remember", json={"content": "Written after the revocation"}).status_code == 401

    # the admin bans Bea: her open dashboard session stops working at her next step
    admin_watch.goto("/admin/users")
    user_row = console.locator("table.admin-users tbody tr").filter(has_text=bea.email)
    user_row.get_by_role("link", name=f"Ban {bea.email}").click()
    console.get_by_label("Reason (optional)", exact=True).fill("the journey ends here")
    console.get_by_role("button", name=f"Ban {bea.email}").click()
    expect(console.get_by_role("status")).to_contain_text(f"Banned {bea.email}")
    expect(user_row.get_by_text("Banned")).to_be_visible()
    shoot(console, "journey-banned")
    response = bea_watch.goto("/admin/memories")
    assert response is not None and response.status == 401
    expect(other.get_by_role("heading", name="Sign in")).to_be_visible()
    shoot(other, "journey-signed-out")
