"""The admin screens end to end in Chromium: users (create with a temporary password, role, ban and unban,
delete with the dry-run preview), health, metrics charts with their numbers, the audit log with its filter
and paging, the 403 for everyone else, and tenants on a tenant-mode server; keyboard use; screenshots."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import httpx
import pytest
from argon2 import PasswordHasher
from playwright.sync_api import Browser, Locator, Page, expect
from ulid import ULID

from novamem.domain.credentials import hash_secret, new_session_token, sign_session_token
from novamem.web.charts import Series, bar_chart, category_chart, line_chart, nice_ticks
from novamem.web.screens.admin_audit import action_kind, flatten
from tests.conftest import RunningServer, start_server
from tests.web.conftest import (
    _CSP_WATCH,
    COOKIE_SECRET,
    DESKTOP,
    SESSION_COOKIE,
    Account,
    Watched,
    keyboard_reach,
    shoot,
    unlabelled_controls,
)

ADMIN_GETS = ("/admin/users", "/admin/health", "/admin/metrics", "/admin/audit", "/admin/tenants")
TEMPORARY = "temporary-pass-1"


def _row(page: Page, email: str) -> Locator:
    return page.locator("table.admin-users tbody tr").filter(has_text=email)


def _api(dashboard: RunningServer, cookies: dict[str, str]) -> httpx.Client:
    """A client with a dashboard session that passes the Origin rule."""
    return dashboard.client(cookies=cookies, headers={"origin": dashboard.base_url})


def _sign_in(page: Page, email: str, password: str) -> None:
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


# ---- charts and the audit rows (pure functions) --------------------------------------------------------


def test_charts_carry_the_numbers_they_draw() -> None:
    assert nice_ticks(0) == [0, 1, 2, 3, 4]
    assert nice_ticks(7) == [0, 2, 4, 6, 8]
    assert nice_ticks(930) == [0, 250, 500, 750, 1000]
    chart = bar_chart(
        "Throughput <now>",
        "Hour",
        ["08:00", "09:00"],
        [Series("Queries", "cold", (3, 0)), Series("Stores", "warm", (1, 5))],
    )
    assert chart.columns == ("Queries", "Stores")
    assert [(row.label, row.values) for row in chart.rows] == [("08:00", (3, 1)), ("09:00", (0, 5))]
    assert chart.totals == (3, 6)
    assert chart.svg.count('class="chart-bar tone-cold"') == 2 and chart.svg.count("tone-warm") == 2
    assert "Throughput &lt;now&gt;" in chart.svg and "<now>" not in chart.svg  # text is escaped
    assert "style=" not in chart.svg  # colours come from classes (strict CSP)
    line = line_chart("Per day", "Day", ["a", "b", "c"], [Series("Entries", "graph", (0, 2, 1))])
    assert line.svg.count("<circle") == 3 and "<polyline" in line.svg
    tiers = category_chart("Tiers", "Tier", "Entries", [("Warm", 5, "warm"), ("Cold", 0, "cold")])
    assert [(row.label, row.values) for row in tiers.rows] == [("Warm", (5,)), ("Cold", (0,))]
    with pytest.raises(ValueError, match="2 values for 3 labels"):
        bar_chart("x", "k", ["a", "b", "c"], [Series("s", "cold", (1, 2))])


def test_audit_rows_are_flattened_and_classified() -> None:
    assert [action_kind(a) for a in ("user.ban", "project.member.remove", "admin.user.delete")] == ["destructive"] * 3
    assert [action_kind(a) for a in ("admin.user.create", "project.member.add", "x.invite")] == ["additive"] * 3
    assert [action_kind(a) for a in ("user.role", "user.unban", "admin.user.quota")] == ["neutral"] * 3
    details = list(flatten({"email": "a@b.c", "quota": {"max": 5, "per": None}, "ids": [1, 2], "ok": True}))
    assert details == [("email", "a@b.c"), ("quota.max", "5"), ("quota.per", "null"), ("ids", "1, 2"), ("ok", "true")]


# ---- users ---------------------------------------------------------------------------------------------


def test_create_a_user_with_a_temporary_password(
    open_page: Callable[..., Watched], make_account: Callable[..., Account], dashboard: RunningServer
) -> None:
    admin = make_account("admin")
    watched = open_page(admin)
    page = watched.page
    watched.goto("/admin/users")
    expect(page.get_by_role("heading", name="Users", exact=True)).to_be_visible()
    expect(_row(page, admin.email).get_by_text("You")).to_be_visible()
    assert unlabelled_controls(page) == []
    shoot(page, "admin-users")

    email = f"new-{secrets.token_hex(3)}@example.com"
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Name (optional)", exact=True).fill("Ada Newcomer")
    page.get_by_label("Temporary password", exact=True).fill("short")
    page.get_by_label("Role", exact=True).select_option("admin")
    page.get_by_role("button", name="Create user").click()
    expect(page.locator("#f-password-error")).to_have_text("Password too short")
    expect(page.get_by_label("Temporary password", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Email", exact=True)).to_have_value(email)  # every value kept but the password
    expect(page.get_by_label("Name (optional)", exact=True)).to_have_value("Ada Newcomer")
    expect(page.get_by_label("Role", exact=True)).to_have_value("admin")
    expect(page.get_by_label("Temporary password", exact=True)).to_have_value("")
    shoot(page, "admin-users-create-error")

    page.get_by_label("Email", exact=True).fill(admin.email)  # taken
    page.get_by_label("Temporary password", exact=True).fill(TEMPORARY)
    page.get_by_role("button", name="Create user").click()
    expect(page.locator("#f-email-error")).to_have_text("User already exists")
    expect(page.get_by_label("Email", exact=True)).to_have_attribute("aria-describedby", re.compile("f-email-error"))

    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Temporary password", exact=True).fill(TEMPORARY)
    page.get_by_label("Role", exact=True).select_option("user")
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("status")).to_contain_text(f"Created {email}.")
    expect(_row(page, email).get_by_text("Temporary password")).to_be_visible()
    expect(_row(page, email).get_by_label(f"Role of {email}", exact=True)).to_have_value("user")

    # the new user signs in with it and must choose their own password first
    newcomer = open_page().page
    newcomer.goto(dashboard.base_url + "/admin/")
    _sign_in(newcomer, email, TEMPORARY)
    expect(newcomer.get_by_role("heading", name="Choose a new password")).to_be_visible()


def test_ban_ends_sessions_and_sign_in_until_unbanned(
    open_page: Callable[..., Watched],
    make_account: Callable[..., Account],
    session_cookies: Callable[[Account], dict[str, str]],
    dashboard: RunningServer,
) -> None:
    admin, user = make_account("admin"), make_account()
    user_session = session_cookies(user)
    with _api(dashboard, user_session) as as_user:
        assert as_user.get("/api/auth/get-session").json()["user"]["email"] == user.email

    watched = open_page(admin)
    page = watched.page
    watched.goto("/admin/users")
    _row(page, user.email).get_by_role("link", name=f"Ban {user.email}").click()
    expect(page.get_by_role("heading", name=f"Ban {user.email}")).to_be_visible()
    page.get_by_label("Reason (optional)", exact=True).fill("sharing a token in public")
    page.get_by_label("Ban for how many days (optional)", exact=True).fill("0")
    page.get_by_role("button", name=f"Ban {user.email}").click()
    expect(page.get_by_label("Ban for how many days (optional)", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Reason (optional)", exact=True)).to_have_value("sharing a token in public")
    assert unlabelled_controls(page) == []
    shoot(page, "admin-user-ban-error")
    page.get_by_label("Ban for how many days (optional)", exact=True).fill("")
    page.get_by_role("button", name=f"Ban {user.email}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Banned {user.email}")
    expect(_row(page, user.email).get_by_text("Banned")).to_be_visible()
    shoot(page, "admin-users-banned")

    # their session stopped working, and signing in is refused with the banned message
    with _api(dashboard, user_session) as as_user:
        assert as_user.get("/api/auth/get-session").json() is None
        assert as_user.get("/admin/account").status_code == 401
    banned = open_page()
    banned.allow("403 for fetch")
    banned.goto("/admin/")
    _sign_in(banned.page, user.email, user.password)
    expect(banned.page.locator("#sign-in-error")).to_have_text("You have been banned from this application")

    _row(page, user.email).get_by_role("button", name=f"Unban {user.email}").click()
    expect(page.get_by_role("status")).to_have_text(f"Lifted the ban on {user.email}.")
    expect(_row(page, user.email).get_by_text("Banned")).to_have_count(0)
    with dashboard.client() as anonymous:
        r = anonymous.post("/api/auth/sign-in/email", json={"email": user.email, "password": user.password})
        assert r.status_code == 200, r.text

    # an admin cannot ban themselves: the page says so
    watched.goto(f"/admin/users/{admin.user_id}/ban")
    page.get_by_role("button", name=f"Ban {admin.email}").click()
    expect(page.get_by_role("alert")).to_contain_text("You cannot ban yourself")


def test_change_role_and_the_self_protections(
    open_page: Callable[..., Watched],
    make_account: Callable[..., Account],
    session_cookies: Callable[[Account], dict[str, str]],
    dashboard: RunningServer,
) -> None:
    admin, user = make_account("admin"), make_account()
    watched = open_page(admin)
    page = watched.page
    watched.goto("/admin/users")
    row = _row(page, user.email)
    row.get_by_label(f"Role of {user.email}", exact=True).select_option("admin")
    row.get_by_role("button", name=f"Save the role of {user.email}").click()
    expect(page.get_by_role("status")).to_have_text(f"{user.email} is now an admin.")
    expect(_row(page, user.email).get_by_label(f"Role of {user.email}", exact=True)).to_have_value("admin")
    with _api(dashboard, session_cookies(user)) as promoted:
        assert promoted.get("/admin/users").status_code == 200
    _row(page, user.email).get_by_label(f"Role of {user.email}", exact=True).select_option("user")
    _row(page, user.email).get_by_role("button", name=f"Save the role of {user.email}").click()
    expect(page.get_by_role("status")).to_have_text(f"{user.email} is now a user.")
    with _api(dashboard, session_cookies(user)) as demoted:
        assert demoted.get("/admin/users").status_code == 403

    # deleting yourself is refused before any preview
    watched.goto(f"/admin/users/{admin.user_id}/delete")
    assert page.url.endswith("/admin/users")
    expect(page.get_by_role("alert")).to_have_text("Admins cannot delete themselves.")
    with _api(dashboard, session_cookies(admin)) as as_admin:
        r = as_admin.post(f"/admin/users/{admin.user_id}/delete", follow_redirects=False)
        assert r.status_code == 303
        assert dashboard.sql("SELECT count(*) FROM users WHERE id = %s", (admin.user_id,)) == [(1,)]


def test_delete_shows_what_goes_and_erases_it(
    open_page: Callable[..., Watched],
    make_account: Callable[..., Account],
    session_cookies: Callable[[Account], dict[str, str]],
    dashboard: RunningServer,
) -> None:
    admin, user = make_account("admin"), make_account()
    with _api(dashboard, session_cookies(user)) as as_user:
        project = as_user.post("/v1/me/projects", json={"name": f"doomed-{secrets.token_hex(3)}"})
        assert project.status_code == 201, project.text
        minted = as_user.post("/v1/me/tokens", json={"label": "laptop"})
        assert minted.status_code == 201, minted.text
    with dashboard.client(headers={"authorization": f"Bearer {minted.json()['token']}"}) as agent:
        for content in ("Ada prefers tea", "Ada's build runs on Fridays", "Ada owns the deploy key"):
            assert agent.post("/v1/remember", json={"content": content}).json()["id"]
        r = agent.post(
            "/v1/remember",
            json={"content": "The launch plan moves to the second week of May", "project": project.json()["id"]},
        )
        assert r.status_code == 201 and r.json()["id"], r.text
    with _api(dashboard, session_cookies(admin)) as as_admin:
        dry = as_admin.delete(f"/v1/admin/users/{user.user_id}", params={"dryRun": "true"}).json()["wouldDelete"]
    assert (dry["entries"], dry["tokens"], dry["ownedProjects"]) == (4, 1, 1)

    watched = open_page(admin)
    page = watched.page
    watched.goto("/admin/users")
    expect(_row(page, user.email).locator("td[data-label=Entries]")).to_have_text("4")
    expect(_row(page, user.email).locator("td[data-label=Tokens]")).to_have_text("1")
    _row(page, user.email).get_by_role("link", name=f"Delete {user.email}").click()
    expect(page.get_by_role("heading", name=f"Delete {user.email}")).to_be_visible()
    expect(page.locator("[data-count=entries]")).to_have_text(str(dry["entries"]))
    expect(page.locator("[data-count=tokens]")).to_have_text(str(dry["tokens"]))
    expect(page.locator("[data-count=ownedProjects]")).to_have_text(str(dry["ownedProjects"]))
    assert unlabelled_controls(page) == []
    shoot(page, "admin-user-delete")
    page.get_by_role("button", name=f"Delete {user.email} and all their data").click()
    expect(page.get_by_role("status")).to_have_text("User deleted with 4 entries, 1 token and 1 owned project.")
    expect(_row(page, user.email)).to_have_count(0)
    assert dashboard.sql("SELECT count(*) FROM memory_entries WHERE user_id = %s", (user.user_id,)) == [(0,)]
    assert dashboard.sql("SELECT count(*) FROM projects WHERE id = %s", (project.json()["id"],)) == [(0,)]
    # the page of a user that is gone is a 404
    assert watched.goto(f"/admin/users/{user.user_id}/delete").status == 404


def test_users_page_works_with_the_keyboard(
    open_page: Callable[..., Watched], make_account: Callable[..., Account]
) -> None:
    admin = make_account("admin")
    make_account()
    watched = open_page(admin)
    watched.goto("/admin/users")
    controls, reached = keyboard_reach(watched.page)
    assert len(controls) > 20
    assert set(controls) <= set(reached), set(controls) - set(reached)


# ---- health and metrics --------------------------------------------------------------------------------


def test_health_page_shows_every_dependency(
    open_page: Callable[..., Watched], make_account: Callable[..., Account]
) -> None:
    watched = open_page(make_account("admin"))
    page = watched.page
    watched.goto("/admin/health")
    expect(page.get_by_role("heading", name="Health")).to_be_visible()
    summary = page.locator(".health-summary")
    expect(summary.get_by_text("OK", exact=True)).to_be_visible()
    expect(summary.get_by_text("Yes", exact=True)).to_be_visible()
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(4)
    for name, state in (("Warm tier", "ok"), ("Vector index", "ok"), ("Graph store", "disabled"), ("Embedder", "ok")):
        expect(rows.filter(has_text=name).locator("td[data-label=State]")).to_have_text(state)
    shoot(page, "admin-health")


def test_metrics_page_draws_charts_with_their_numbers(
    open_page: Callable[..., Watched],
    make_account: Callable[..., Account],
    session_cookies: Callable[[Account], dict[str, str]],
    dashboard: RunningServer,
) -> None:
    admin, user = make_account("admin"), make_account()
    with _api(dashboard, session_cookies(user)) as as_user:
        token = as_user.post("/v1/me/tokens", json={"label": "metrics"}).json()["token"]
    with dashboard.client(headers={"authorization": f"Bearer {token}"}) as agent:
        for i in range(3):
            assert agent.post("/v1/remember", json={"content": f"The metrics test stored fact number {i}"}).json()["id"]
        for _ in range(2):
            assert agent.post("/v1/search", json={"query": "metric fact"}).status_code == 200
    with _api(dashboard, session_cookies(admin)) as as_admin:
        snapshot = as_admin.get("/v1/admin/metrics").json()

    watched = open_page(admin)
    page = watched.page
    watched.goto("/admin/metrics")
    expect(page.locator("svg.chart-svg")).to_have_count(3)
    # 24 hours of throughput, the current hour last, with at least what was just done
    hours = page.locator("#chart-1-numbers tbody tr")
    expect(hours).to_have_count(24)
    now_hour = datetime.now(UTC).strftime("%H:00")
    last = hours.last
    expect(last.locator("th")).to_have_text(now_hour)
    queries, remembers = (int(last.locator("td").nth(i).inner_text().replace(",", "")) for i in (0, 1))
    assert queries >= 2 and remembers >= 3
    # entries per day: 30 days, today last, equal to what the database holds for today
    days = page.locator("#chart-2-numbers tbody tr")
    expect(days).to_have_count(30)
    today = dashboard.sql(
        "SELECT count(*) FROM memory_entries"
        " WHERE (created_at AT TIME ZONE 'UTC')::date = (now() AT TIME ZONE 'UTC')::date"
    )[0][0]
    expect(days.last.locator("td")).to_have_text(str(today))
    # warm and cold, as the gauges say
    warm, cold = dashboard.sql(
        "SELECT count(*) - (SELECT count(*) FROM memory_cold), (SELECT count(*) FROM memory_cold) FROM memory_entries"
    )[0]
    tiers = page.locator("#chart-3-numbers tbody tr")
    expect(tiers.filter(has_text="Warm").locator("td")).to_have_text(f"{warm:,}")
    expect(tiers.filter(has_text="Cold").locator("td")).to_have_text(f"{cold:,}")
    # the snapshot's counters (nothing else ran in between)
    expect(page.locator("[data-metric=remembers_total]")).to_have_text(f"{snapshot['counters']['remembers_total']:,}")
    expect(page.locator("[data-metric=warm_entries]")).to_have_text(f"{warm:,}")
    assert unlabelled_controls(page) == []
    shoot(page, "admin-metrics")


# ---- audit log -----------------------------------------------------------------------------------------


def test_audit_log_lists_actions_newest_first_with_a_filter_and_pages(
    open_page: Callable[..., Watched],
    make_account: Callable[..., Account],
    session_cookies: Callable[[Account], dict[str, str]],
    dashboard: RunningServer,
) -> None:
    admin = make_account("admin")
    email = f"audited-{secrets.token_hex(3)}@example.com"
    with _api(dashboard, session_cookies(admin)) as as_admin:
        r = as_admin.post("/admin/users", data={"email": email, "password": TEMPORARY, "role": "user"})
        assert r.status_code == 303, r.text
        user_id = dashboard.sql("SELECT id FROM users WHERE email = %s", (email,))[0][0]
        r = as_admin.post(f"/admin/users/{user_id}/ban", data={"reason": "audit trail"}, follow_redirects=False)
        assert r.status_code == 303

    watched = open_page(admin)
    page = watched.page
    watched.goto("/admin/audit")
    rows = page.locator("table.audit-table tbody tr")
    expect(rows.first).to_contain_text("user.ban")  # newest first
    expect(rows.first).to_have_class(re.compile("audit-destructive"))
    expect(rows.first.locator("td[data-label=Detail]")).to_contain_text("reason: audit trail")
    expect(rows.first.locator("td[data-label=Actor]")).to_have_text(admin.email)
    created = rows.filter(has_text="admin.user.create").filter(has_text=email)
    expect(created).to_have_count(1)
    expect(created).to_have_class(re.compile("audit-additive"))
    assert unlabelled_controls(page) == []
    shoot(page, "admin-audit")

    page.get_by_label("Filter (optional)", exact=True).fill(user_id)
    page.get_by_role("button", name="Filter").click()
    assert "q=" + user_id in page.url
    expect(rows).to_have_count(2)  # created, then banned: nothing else names this user
    expect(rows.nth(0)).to_contain_text("user.ban")
    expect(rows.nth(1)).to_contain_text("admin.user.create")
    expect(page.get_by_label("Filter (optional)", exact=True)).to_have_value(user_id)
    shoot(page, "admin-audit-filtered")

    page.get_by_label("Filter (optional)", exact=True).fill("no-such-thing-%_")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No entries contain")).to_be_visible()

    # paging: one entry a page, older and newer
    watched.goto(f"/admin/audit?q={user_id}&limit=1")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("user.ban")
    page.get_by_role("link", name="Older →").click()
    expect(rows.first).to_contain_text("admin.user.create")
    expect(page.get_by_role("link", name="Older →")).to_have_count(0)
    page.get_by_role("link", name="← Newer").click()
    expect(rows.first).to_contain_text("user.ban")

    # a bad page number is shown next to the filter, not a crash
    response = watched.goto("/admin/audit?limit=0")
    assert response is not None and response.status == 400
    expect(page.get_by_role("alert")).to_be_visible()

    # the REST route is unchanged: newest first, limit only
    with _api(dashboard, session_cookies(admin)) as as_admin:
        entries = as_admin.get("/v1/admin/audit-log", params={"limit": 2}).json()["entries"]
    assert [e["action"] for e in entries] == ["user.ban", "admin.user.create"]


def test_audit_log_works_with_the_keyboard(
    open_page: Callable[..., Watched], make_account: Callable[..., Account]
) -> None:
    watched = open_page(make_account("admin"))
    watched.goto("/admin/audit?limit=5")
    controls, reached = keyboard_reach(watched.page)
    assert set(controls) <= set(reached), set(controls) - set(reached)


# ---- who may see these screens -------------------------------------------------------------------------


def test_every_admin_screen_is_refused_to_others(
    open_page: Callable[..., Watched],
    make_account: Callable[..., Account],
    session_cookies: Callable[[Account], dict[str, str]],
    dashboard: RunningServer,
) -> None:
    user, other = make_account(), make_account()
    watched = open_page(user)
    page = watched.page
    for path in (*ADMIN_GETS, f"/admin/users/{other.user_id}/ban", f"/admin/users/{other.user_id}/delete"):
        response = watched.goto(path)
        assert response is not None and response.status == 403, path
        expect(page.locator(".error-code")).to_have_text("403")
    expect(page.get_by_text("Admin only.")).to_be_visible()
    nav = page.get_by_role("navigation", name="Dashboard")
    expect(nav.get_by_role("link", name="Users")).to_have_count(0)
    shoot(page, "admin-forbidden")

    posts = {
        "/admin/users": {"email": "x@example.com", "password": TEMPORARY},
        f"/admin/users/{other.user_id}/role": {"role": "admin"},
        f"/admin/users/{other.user_id}/ban": {},
        f"/admin/users/{other.user_id}/unban": {},
        f"/admin/users/{other.user_id}/delete": {},
        "/admin/tenants": {"name": "t", "adminEmail": "a@example.com", "adminPassword": TEMPORARY},
    }
    with _api(dashboard, session_cookies(user)) as as_user:
        for path, data in posts.items():
            assert as_user.post(path, data=data).status_code == 403, path
    with dashboard.client() as anonymous:
        for path in ADMIN_GETS:
            r = anonymous.get(path)
            assert (r.status_code, r.json()) == (401, {"error": "unauthorized"}), path
    assert dashboard.sql("SELECT role FROM users WHERE id = %s", (other.user_id,)) == [("user",)]


def test_tenants_are_not_found_outside_tenant_mode(
    open_page: Callable[..., Watched], make_account: Callable[..., Account]
) -> None:
    watched = open_page(make_account("admin"))
    response = watched.goto("/admin/tenants")
    assert response is not None and response.status == 404
    nav = watched.page.get_by_role("navigation", name="Dashboard")
    expect(nav.get_by_role("link", name="Users")).to_be_visible()
    expect(nav.get_by_role("link", name="Tenants")).to_have_count(0)


# ---- tenant mode ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tenant_server(make_database: Callable[[], str]) -> Iterator[RunningServer]:
    """A tenant-mode server (same cookie secret as the dashboard's, so cookies are made the same way)."""
    server = start_server(
        make_database(), auth_mode="tenant", cookie_secret=COOKIE_SECRET, insecure_cookies=True, jobs_enabled=False
    )
    yield server
    server.stop()


def _tenant_account(server: RunningServer, tenant: str, role: str) -> Account:
    account = Account(
        f"{role}-{secrets.token_hex(4)}@example.com", f"pw-{secrets.token_urlsafe(12)}", str(ULID()), role
    )
    server.sql("INSERT INTO tenants (id, name) VALUES (%s, %s) ON CONFLICT DO NOTHING", (tenant, tenant))
    server.sql(
        "INSERT INTO users (id, tenant_id, email, name, role, password_hash) VALUES (%s, %s, %s, %s, %s, %s)",
        (account.user_id, tenant, account.email, role, role, PasswordHasher().hash(account.password)),
    )
    return account


def _tenant_session(server: RunningServer, user_id: str) -> dict[str, str]:
    token = new_session_token()
    tenant = server.sql("SELECT tenant_id FROM users WHERE id = %s", (user_id,))[0][0]
    server.sql(
        "INSERT INTO auth_sessions (id, token_hash, tenant_id, user_id, expires_at)"
        " VALUES (%s, %s, %s, %s, now() + interval '1 day')",
        (str(ULID()), hash_secret(token), tenant, user_id),
    )
    return {SESSION_COOKIE: sign_session_token(COOKIE_SECRET, token)}


@pytest.fixture
def tenant_page(browser: Browser, tenant_server: RunningServer) -> Iterator[Callable[[str], Watched]]:
    """Watched pages on the tenant-mode server, signed in as a user id (problems fail the test)."""
    opened: list[Watched] = []
    contexts = []

    def open_(user_id: str) -> Watched:
        context = browser.new_context(viewport=DESKTOP)  # type: ignore[arg-type]
        contexts.append(context)
        context.add_init_script(_CSP_WATCH)
        for name, value in _tenant_session(tenant_server, user_id).items():
            context.add_cookies([{"name": name, "value": value, "url": tenant_server.base_url}])
        watched = Watched(context.new_page(), tenant_server.base_url)
        watched.page.on("console", watched._console)
        watched.page.on("pageerror", lambda error: watched.problems.append(f"page error: {error}"))
        watched.page.on("request", watched._request)
        watched.page.on("response", watched._response)
        opened.append(watched)
        return watched

    yield open_
    for context in contexts:
        context.close()
    problems = [problem for watched in opened for problem in watched.problems]
    assert problems == [], "\n".join(problems)


def test_server_admin_lists_and_creates_tenants(
    tenant_page: Callable[[str], Watched], tenant_server: RunningServer
) -> None:
    root = _tenant_account(tenant_server, "default", "admin")
    watched = tenant_page(root.user_id)
    page = watched.page
    watched.goto("/admin/")
    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Tenants").click()
    expect(page.get_by_role("heading", name="Tenants", exact=True)).to_be_visible()
    expect(page.locator("table tbody tr").filter(has_text="Yours")).to_have_count(1)

    page.get_by_label("Tenant name", exact=True).fill("Acme research")
    page.get_by_label("First admin's email", exact=True).fill("not-an-email")
    page.get_by_label("Temporary password", exact=True).fill("short")
    page.get_by_role("button", name="Create tenant").click()
    expect(page.get_by_label("First admin's email", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Temporary password", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Tenant name", exact=True)).to_have_value("Acme research")
    expect(page.get_by_label("First admin's email", exact=True)).to_have_value("not-an-email")
    assert unlabelled_controls(page) == []
    shoot(page, "admin-tenants-error")

    acme_admin = f"acme-{secrets.token_hex(3)}@example.com"
    page.get_by_label("First admin's email", exact=True).fill(acme_admin)
    page.get_by_label("Temporary password", exact=True).fill(TEMPORARY)
    page.get_by_role("button", name="Create tenant").click()
    expect(page.get_by_role("status")).to_have_text(
        "Created the tenant Acme research. Its admin signs in with the temporary password."
    )
    expect(page.locator("table tbody tr").filter(has_text="Acme research")).to_have_count(1)
    shoot(page, "admin-tenants")

    # the new tenant's admin is no server admin: no tenants, and they cannot demote themselves (the last admin)
    tenant_server.sql("UPDATE users SET must_change_password = false WHERE email = %s", (acme_admin,))
    acme_id = tenant_server.sql("SELECT id FROM users WHERE email = %s", (acme_admin,))[0][0]
    acme = tenant_page(acme_id)
    assert acme.goto("/admin/tenants").status == 403
    expect(acme.page.get_by_text("Server admin only.")).to_be_visible()
    expect(acme.page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Tenants")).to_have_count(0)
    acme.goto("/admin/users")
    rows = acme.page.locator("table.admin-users tbody tr")
    expect(rows).to_have_count(1)  # their own tenant only
    rows.first.get_by_label(f"Role of {acme_admin}", exact=True).select_option("user")
    rows.first.get_by_role("button", name=f"Save the role of {acme_admin}").click()
    expect(acme.page.get_by_role("alert")).to_have_text("Cannot demote the last admin — promote another user first.")
    shoot(acme.page, "admin-users-last-admin")
