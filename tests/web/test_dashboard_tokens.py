"""API tokens and "Connect an agent" in Chromium: mint in the browser, read the plaintext from the page and use
it over HTTP (a project member sees what it wrote), revoke it and see it refused; form errors beside their
fields; restricted credentials never mint; the connect page shows exactly what `novamem connect` writes."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from novamem.cli.main import main
from novamem.services.agents.connect import HOSTS, TOKEN_PLACEHOLDER, AgentHost, host_config, host_configs
from tests.conftest import RunningServer
from tests.web.conftest import Account, Watched, keyboard_reach, shoot, unlabelled_controls

TOKEN_SHAPE = re.compile(r"^nm_[A-Za-z0-9_-]{43}$")


def _shared_project(owner: httpx.Client, member: Account, name: str) -> str:
    """A project of `owner` with `member` in it (set up over REST: the projects screens have their own test)."""
    r = owner.post("/v1/me/projects", json={"name": name})
    assert r.status_code == 201, r.text
    project_id = str(r.json()["id"])
    r = owner.post(f"/v1/me/projects/{project_id}/members", json={"username": member.email})
    assert r.status_code == 201, r.text
    return project_id


def _assert_keyboard_reaches_everything(page: Page) -> None:
    controls, reached = keyboard_reach(page)
    assert set(controls) <= set(reached), set(controls) - set(reached)
    assert unlabelled_controls(page) == []


def test_mint_use_and_revoke_a_token(
    open_page: Callable[..., Watched],
    make_account: Callable[..., Account],
    session_cookies: Callable[[Account], dict[str, str]],
    dashboard: RunningServer,
) -> None:
    owner, member = make_account(), make_account()
    origin = {"origin": dashboard.base_url}
    with dashboard.client(cookies=session_cookies(owner), headers=origin) as as_owner:
        project_id = _shared_project(as_owner, member, "Field Notes")

    watched = open_page(owner)
    page = watched.page
    watched.goto("/admin/tokens")
    expect(page.get_by_role("heading", name="API tokens")).to_be_visible()
    expect(page.get_by_text("No tokens yet.")).to_be_visible()
    shoot(page, "tokens-empty")
    _assert_keyboard_reaches_everything(page)

    # bad input: the error beside its field, every value kept
    page.get_by_label("Label").fill("Claude Code on the laptop")
    page.get_by_label("Access").select_option("read_only")
    page.get_by_label("Pin to a project").select_option(label="Field Notes")
    page.get_by_label("Expires after (days)").fill("0")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Mint token").click()
    assert answer.value.status == 400
    expires = page.get_by_label("Expires after (days)")
    expect(page.locator("#f-expiresInDays-error")).to_be_visible()
    expect(expires).to_have_attribute("aria-invalid", "true")
    expect(expires).to_have_value("0")
    expect(page.get_by_label("Label")).to_have_value("Claude Code on the laptop")
    expect(page.get_by_label("Access")).to_have_value("read_only")
    expect(page.get_by_label("Pin to a project")).to_have_value(project_id)
    shoot(page, "tokens-error")

    # mint a full token pinned to the project: the plaintext is on the page, once
    page.get_by_label("Access").select_option("full")
    expires.fill("30")
    page.get_by_role("button", name="Mint token").click()
    expect(page.get_by_role("heading", name="Token minted")).to_be_visible()
    token = (page.locator("#minted-token").text_content() or "").strip()
    assert TOKEN_SHAPE.match(token), token
    expect(page.get_by_role("note")).to_have_text(
        "Store this token now: it is shown only once and cannot be recovered."
    )
    expect(page.locator(".minted")).to_contain_text("Field Notes (pinned)")
    # the agent configurations carry this token
    for config in host_configs(dashboard.base_url, token):
        assert (page.locator(f"#cfg-{config.host.value}").text_content() or "") == config.text
    assert page.url == dashboard.base_url + "/admin/tokens"  # rendered from the POST, not redirected
    shoot(page, "token-minted")
    _assert_keyboard_reaches_everything(page)
    # the copy button copies the plaintext
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=dashboard.base_url)
    page.get_by_role("button", name="Copy token").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("() => navigator.clipboard.readText()") == token

    # use it over HTTP: it writes into the project, where the member reads it
    with httpx.Client(base_url=dashboard.base_url, headers={"authorization": f"Bearer {token}"}) as bearer:
        r = bearer.post("/v1/remember", json={"content": "Field notes: the river gauge reads 2.4 m at noon."})
        assert r.status_code == 201, r.text
        entry_id = r.json()["id"]
        assert dashboard.sql("SELECT project_id FROM memory_entries WHERE id = %s", (entry_id,)) == [(project_id,)]
        with dashboard.client(cookies=session_cookies(member), headers=origin) as as_member:
            found = as_member.post("/v1/recent", json={"project": project_id}).json()["results"]
            assert [hit["id"] for hit in found] == [entry_id]
            assert "river gauge" in found[0]["content"]

        # the list no longer shows the plaintext; it shows the token's facts (last use is recorded after the answer)
        used = "SELECT count(*) FROM user_tokens WHERE user_id = %s AND last_used_at IS NOT NULL"
        for _ in range(50):
            if dashboard.sql(used, (owner.user_id,)) == [(1,)]:
                break
            time.sleep(0.1)
        watched.goto("/admin/tokens")
        assert token not in page.content()
        row = page.locator("table tbody tr", has_text="Claude Code on the laptop")
        expect(row.locator("td[data-label='Project']")).to_have_text("Field Notes")
        expect(row.locator("td[data-label='Scope']")).to_have_text("Full")
        expect(row.locator("td[data-label='Last used']")).not_to_have_text("Never")
        expect(row.locator("td[data-label='Expires']")).not_to_have_text("Never")

        # revoke it in the browser: the next request with it is refused
        row.get_by_role("button", name=re.compile("^Revoke Claude Code on the laptop")).click()
        expect(page.get_by_role("status")).to_have_text("Token revoked: it no longer works.")
        expect(row).to_have_class(re.compile("token-off"))
        expect(row.get_by_text("Revoked")).to_be_visible()
        expect(row.get_by_role("button")).to_have_count(0)
        assert bearer.post("/v1/recent", json={}).status_code == 401
    shoot(page, "tokens")

    # a second token without a pin or expiry, then the list
    page.get_by_label("Label").fill("")
    page.get_by_role("button", name="Mint token").click()
    expect(page.get_by_role("heading", name="Token minted")).to_be_visible()
    page.get_by_role("link", name="Back to API tokens").click()
    expect(page.locator("table tbody tr")).to_have_count(2)
    expect(page.locator("table tbody tr").nth(1)).to_contain_text("Unlabelled token")


def test_restricted_credentials_never_mint(
    make_account: Callable[..., Account],
    session_cookies: Callable[[Account], dict[str, str]],
    dashboard: RunningServer,
) -> None:
    account = make_account()
    with dashboard.client(cookies=session_cookies(account), headers={"origin": dashboard.base_url}) as session:
        r = session.post("/v1/me/tokens", json={"label": "reader", "scope": "read_only"})
        assert r.status_code == 201, r.text
        read_only = r.json()["token"]
    with httpx.Client(
        base_url=dashboard.base_url, headers={"authorization": f"Bearer {read_only}", "accept": "text/html"}
    ) as bearer:
        assert bearer.get("/admin/tokens").status_code == 200  # reading the list is allowed
        r = bearer.post("/admin/tokens", data={"label": "escalate", "scope": "full"})
        assert r.status_code == 403, r.text
        assert "<p>Restricted token.</p>" in r.text
        listed = bearer.get("/v1/me/tokens").json()["tokens"]
        assert [t["label"] for t in listed] == ["reader"]


def test_connect_page_shows_what_novamem_connect_writes(
    open_page: Callable[..., Watched],
    make_account: Callable[..., Account],
    dashboard: RunningServer,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    watched = open_page(make_account())
    page = watched.page
    watched.goto("/admin/")
    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Connect an agent").click()
    expect(page.get_by_role("heading", name="Connect an agent", exact=True)).to_be_visible()
    expect(page.locator(".facts")).to_contain_text(dashboard.base_url + "/mcp")
    assert [h.value for h in AgentHost] == list(HOSTS)
    for host in AgentHost:
        expected = host_config(host, dashboard.base_url)
        shown = page.locator(f"#cfg-{host.value}").text_content()
        assert shown == expected.text
        assert TOKEN_PLACEHOLDER in shown
        expect(page.get_by_role("button", name=f"Copy the {expected.title} configuration")).to_be_visible()

        # `novamem connect` writes the same text into a host file that does not exist yet
        argv = ["connect", host.value, "--url", dashboard.base_url, "--token", TOKEN_PLACEHOLDER, "--show-token"]
        if host is not AgentHost.GENERIC:
            argv += ["--dry-run", "--config", str(tmp_path / f"{host.value}.conf")]
        capsys.readouterr()
        assert main(argv) == 0
        out = capsys.readouterr().out
        if host is AgentHost.GENERIC:
            assert out == expected.text
        else:
            added = [line[1:] for line in out.splitlines(keepends=True) if line.startswith("+") and line[:3] != "+++"]
            assert "".join(added) == expected.text
    assert list(tmp_path.iterdir()) == []  # dry runs write nothing
    shoot(page, "connect")
    _assert_keyboard_reaches_everything(page)
    page.get_by_role("link", name="Mint a token").first.click()
    expect(page.get_by_role("heading", name="Mint a token")).to_be_visible()
