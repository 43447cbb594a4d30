"""The memory workspace in Chromium: remember (errors beside their fields, nothing typed lost), search with signal
bars, browse with filters and paging, one memory's detail, edit and forget, today, the change feed, the graph
(recentre by clicking a node); keyboard-only use; nobody sees another user's private memories, admins included;
read-only and project-pinned credentials stay what they are. Screenshots of every screen state."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from novamem.config import load_settings
from novamem.container import Container
from novamem.domain.scope import Caller
from novamem.errors import NotFound
from novamem.services.memory.models import BrowseRequest, MemoryCreate
from novamem.web.graph import INNER, OUTER, circle_layout, short_label
from tests.conftest import RunningServer
from tests.fake_embedder import DIM, FakeEmbeddingServer
from tests.web.conftest import (
    Account,
    Watched,
    add_account,
    keyboard_reach,
    new_session,
    shoot,
    start_dashboard,
    unlabelled_controls,
)

GARDEN = (
    "The tomatoes in the back garden need watering every morning before nine",
    "Tomato plants in the garden get liquid fertiliser every Sunday in summer",
    "The garden hose is kept in the blue shed behind the tomato beds",
    "Slugs ate the lettuce in the garden last June; copper tape around the beds stopped them",
    "The apple tree at the end of the garden is pruned every February",
    "Compost from the garden bins is ready to use after about nine months",
)


def _writer(dashboard: RunningServer, cookies: dict[str, str]) -> httpx.Client:
    return dashboard.client(cookies=cookies, headers={"origin": dashboard.base_url})


def _import(dashboard: RunningServer, cookies: dict[str, str], entries: Sequence[dict[str, Any]]) -> None:
    """Store memories through `POST /v1/me/import` (no worthiness gate; source and source type `import`)."""
    with _writer(dashboard, cookies) as client:
        r = client.post("/v1/me/import", json={"entries": list(entries)})
        assert r.status_code == 201 and r.json()["imported"] == len(entries), r.text


def _ids(dashboard: RunningServer, account: Account) -> list[str]:
    """The account's memory ids, oldest first."""
    return [
        row[0]
        for row in dashboard.sql("SELECT id FROM memory_entries WHERE user_id = %s ORDER BY id", (account.user_id,))
    ]


def _id_of(dashboard: RunningServer, account: Account, content: str) -> str:
    rows = dashboard.sql(
        "SELECT id FROM memory_entries WHERE user_id = %s AND content = %s", (account.user_id, content)
    )
    return str(rows[0][0])


def _reach_everything(page: Page) -> None:
    controls, reached = keyboard_reach(page)
    assert set(controls) <= set(reached), set(controls) - set(reached)
    assert unlabelled_controls(page) == []


@pytest.fixture
def member(make_account: Callable[..., Account]) -> Account:
    return make_account()


@pytest.fixture
def cookies(member: Account, session_cookies: Callable[[Account], dict[str, str]]) -> dict[str, str]:
    return session_cookies(member)


async def test_browse_and_one_entry_are_confined_to_tenant_and_user(make_database: Callable[[], str]) -> None:
    """The two reads the workspace added to `RecallService`, straight on the services (runs before any browser)."""
    alice = Caller(tenant_id="acme", user_id="u1")
    bob = Caller(tenant_id="acme", user_id="u2")
    mallory = Caller(tenant_id="globex", user_id="u1")  # same user id, other tenant
    container = await Container.build(load_settings(database_url=make_database(), jobs_enabled=False, auth_mode="none"))
    try:
        stored = await container.memories.remember(alice, MemoryCreate(content=GARDEN[0]))
        assert stored.id is not None
        page = await container.recall.browse(alice, BrowseRequest())
        assert [entry.id for entry in page.entries] == [stored.id] and page.entries[0].hits == 0
        assert page.next_before is None and page.previous_after is None
        for other in (bob, mallory):
            assert (await container.recall.browse(other, BrowseRequest())).entries == []
            with pytest.raises(NotFound):
                await container.recall.entry(other, stored.id)
        assert (await container.recall.entry(alice, stored.id)).content == GARDEN[0]
    finally:
        await container.close()


def test_remember_through_the_form_then_detail_edit_and_forget(
    open_page: Callable[..., Watched], member: Account, dashboard: RunningServer
) -> None:
    watched = open_page(member)
    page = watched.page
    watched.goto("/admin/memories/new")
    expect(page.get_by_role("heading", name="Remember")).to_be_visible()
    assert unlabelled_controls(page) == []
    shoot(page, "remember")

    # bad input: each error next to its field, everything typed is still there
    content = "Our team stand-up moved to 9:30 on Tuesdays and Thursdays"
    page.get_by_label("What should be remembered?").fill(content)
    page.get_by_label("Namespace").fill("work")
    page.get_by_label("Confidence").fill("2")
    page.get_by_label("Metadata (JSON object)").fill("{topic: meetings")
    page.get_by_role("button", name="Remember").click()
    confidence = page.get_by_label("Confidence")
    expect(confidence).to_have_attribute("aria-invalid", "true")
    expect(confidence).to_have_attribute("aria-describedby", re.compile("f-confidence-error"))
    expect(page.locator("#f-confidence-error")).to_contain_text("less than or equal to 1")
    expect(page.locator("#f-metadata-error")).to_have_text(
        'Metadata must be a JSON object, such as {"topic": "travel"}.'
    )
    expect(page.get_by_label("What should be remembered?")).to_have_value(content)
    expect(page.get_by_label("Namespace")).to_have_value("work")
    expect(page.get_by_label("Metadata (JSON object)")).to_have_value("{topic: meetings")
    expect(page.get_by_role("alert")).to_contain_text("This form needs another look")
    shoot(page, "remember-errors")

    # filler is refused by the worthiness gate: said next to the content, unless forced
    page.get_by_label("What should be remembered?").fill("ok thanks")
    page.get_by_label("Confidence").fill("")
    page.get_by_label("Metadata (JSON object)").fill("")
    page.get_by_role("button", name="Remember").click()
    expect(page.locator("#f-content-error")).to_have_text("Not stored: too short — not durable knowledge.")
    expect(page.get_by_label("What should be remembered?")).to_have_value("ok thanks")

    page.get_by_label("What should be remembered?").fill(content)
    page.get_by_label("Confidence").fill("0.8")
    page.get_by_label("Sensitivity").select_option("internal")
    page.get_by_label("Metadata (JSON object)").fill('{"topic": "meetings"}')
    page.get_by_label("Source references").fill("ticket-42\nhttps://wiki.example.com/standup")
    page.get_by_label("What should be remembered?").press("Control+Enter")  # the shortcut saves
    expect(page.get_by_role("status")).to_have_text("Remembered.")
    expect(page.locator("h1")).to_have_text("Memory details")
    (entry_id,) = _ids(dashboard, member)
    assert page.url.endswith(f"/admin/memories/{entry_id}")
    expect(page.locator(".memory-text")).to_have_text(content)
    facts = page.locator(".facts").first
    expect(facts).to_contain_text("work")
    expect(facts).to_contain_text("0.80")
    expect(facts).to_contain_text("manual")
    expect(page.locator(".memory-pills")).to_contain_text("internal")
    stored = dashboard.sql("SELECT source_ref FROM memory_source_refs WHERE entry_id = %s ORDER BY 1", (entry_id,))
    assert [row[0] for row in stored] == ["https://wiki.example.com/standup", "ticket-42"]
    assert unlabelled_controls(page) == []
    shoot(page, "memory-detail")

    # remembering the same again leads to the existing memory
    watched.goto("/admin/memories/new")
    page.get_by_label("What should be remembered?").fill(content)
    page.get_by_role("button", name="Remember").click()
    expect(page.get_by_role("status")).to_have_text("You had already remembered this; here it is.")
    assert page.url.endswith(f"/admin/memories/{entry_id}")

    # edit: a bad value keeps what was typed; a good one saves
    edited = "Our team stand-up moved to 10:00 on Tuesdays only"
    page.get_by_label("Content").fill(edited)
    page.get_by_label("Confidence").fill("very")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#f-confidence-error")).to_contain_text("valid number")
    expect(page.get_by_label("Content")).to_have_value(edited)
    expect(page.locator(".memory-text")).to_have_text(content)  # nothing changed yet
    shoot(page, "memory-edit-error")
    page.get_by_label("Confidence").fill("0.6")
    page.get_by_label("Sensitivity").select_option("private")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(page.locator(".memory-text")).to_have_text(edited)
    expect(page.locator(".facts").first).to_contain_text("0.60")
    expect(page.locator(".memory-pills")).to_contain_text("private")

    # forget: a confirmation step, then gone
    page.get_by_role("link", name="Forget…").click()
    expect(page.get_by_role("heading", name="Forget this memory?")).to_be_visible()
    expect(page.locator(".memory-quote")).to_have_text(edited)
    shoot(page, "memory-forget")
    page.get_by_role("link", name="Keep it").click()
    expect(page.locator(".memory-text")).to_have_text(edited)
    page.get_by_role("link", name="Forget…").click()
    page.get_by_role("button", name="Forget this memory").click()
    expect(page.get_by_role("status")).to_have_text("Memory forgotten.")
    assert page.url.endswith("/admin/memories")
    assert _ids(dashboard, member) == []
    response = watched.goto(f"/admin/memories/{entry_id}")
    assert response is not None and response.status == 404
    expect(page.locator(".error-card")).to_contain_text("No such memory in your scope.")


def test_home_search_shows_signal_bars_and_today(
    open_page: Callable[..., Watched], member: Account, cookies: dict[str, str], dashboard: RunningServer
) -> None:
    watched = open_page(member)
    page = watched.page
    watched.goto("/admin/")
    expect(page.get_by_role("heading", name="Get started")).to_be_visible()  # nothing remembered yet
    _reach_everything(page)
    shoot(page, "home-empty")

    _import(dashboard, cookies, [{"content": text, "namespace": "garden"} for text in GARDEN])
    page.get_by_role("searchbox", name="Ask your memory").fill("when do the tomatoes get fertiliser?")
    page.get_by_role("button", name="Search").click()
    assert "q=when+do+the+tomatoes" in page.url
    results = page.locator("ol.results > li")
    expect(results).to_have_count(6)
    first = results.first
    expect(first.locator(".result-content")).to_have_text(GARDEN[1])
    for label in ("Keyword", "Vector", "Graph", "Recency", "Entity"):
        expect(first.locator(".signal-label", has_text=label)).to_have_count(1)
    expect(first.locator(".signal-bar")).to_have_count(5)
    expect(first.locator(".result-meta")).to_contain_text("garden")
    expect(first.locator(".result-meta")).to_contain_text("import")
    expect(first.locator(".pill-warm")).to_have_text("warm")
    related = first.get_by_role("link", name="Related memories of result 1")
    first_id = _id_of(dashboard, member, GARDEN[1])
    expect(related).to_have_attribute("href", f"/admin/graph?seed={first_id}")
    expect(page.get_by_role("heading", name="Today")).to_be_visible()
    expect(page.locator(".feed")).to_contain_text("remember")
    _reach_everything(page)
    shoot(page, "home-search")


@pytest.fixture(scope="module")
def remote_dashboard(make_database: Callable[[], str], fake_embedder: FakeEmbeddingServer) -> Iterator[RunningServer]:
    """A second dashboard server whose embedder is the local OpenAI-compatible one (`fake_embedder.down` fails it)."""
    fake_embedder.down = False
    server = start_dashboard(
        make_database(),
        embeddings_provider="openai-compatible",
        embeddings_endpoint=fake_embedder.url,
        embeddings_model="fake-hash",
        embeddings_dim=DIM,
    )
    yield server
    server.stop()


def test_a_degraded_search_says_so(
    open_page: Callable[..., Watched], remote_dashboard: RunningServer, fake_embedder: FakeEmbeddingServer
) -> None:
    member = add_account(remote_dashboard)
    _import(remote_dashboard, new_session(remote_dashboard, member), [{"content": GARDEN[0], "namespace": "garden"}])
    embedded = "SELECT embedding_model FROM memory_entries WHERE user_id = %s AND embedded_at IS NOT NULL"
    assert remote_dashboard.sql(embedded, (member.user_id,)) == [("openai-compatible:fake-hash",)]
    watched = open_page(member, server=remote_dashboard)
    page = watched.page
    fake_embedder.down = True
    try:
        response = watched.goto("/admin/?q=what+is+the+capital+of+mongolia")
        assert response is not None and response.status == 503  # as `POST /v1/search` answers
        expect(page.locator(".pill-warn")).to_have_text("Degraded")
        expect(page.locator(".degraded")).to_contain_text("Search degraded: the embedder is unavailable")
        expect(page.get_by_role("heading", name="Today")).to_be_visible()  # the rest of the page still works
        shoot(page, "home-degraded")
        watched.goto("/admin/?q=tomatoes+watering")  # keywords still find this one
        expect(page.locator("ol.results > li")).to_have_count(1)
        expect(page.locator(".degraded")).to_contain_text("these results come from keywords only")
    finally:
        fake_embedder.down = False


def test_browse_filters_and_paging(
    open_page: Callable[..., Watched], member: Account, cookies: dict[str, str], dashboard: RunningServer
) -> None:
    notes = [
        {"content": f"Reading note {n:02d}: chapter {n} of the history of the Baltic trade routes"} for n in range(23)
    ]
    _import(dashboard, cookies, notes)
    _import(
        dashboard,
        cookies,
        [
            {
                "content": "Flight to Lisbon leaves at 07:40 from terminal 2",
                "namespace": "travel",
                "agentName": "planner",
            },
            {"content": "The hotel in Porto is booked for three nights", "namespace": "travel"},
            {"content": "The door code of the office is 4471", "metadata": {"sensitivity": "sensitive"}},
        ],
    )
    with _writer(dashboard, cookies) as client:
        r = client.post(
            "/v1/remember", json={"content": "Passport renewal is due in March 2031", "source": "chat-agent"}
        )
        assert r.status_code == 201, r.text
    travel_cold = dashboard.sql(
        "INSERT INTO memory_cold (entry_id, tenant_id) SELECT id, tenant_id FROM memory_entries"
        " WHERE user_id = %s AND content LIKE 'The hotel%%' RETURNING entry_id",
        (member.user_id,),
    )[0][0]

    watched = open_page(member)
    page = watched.page
    watched.goto("/admin/memories")
    rows = page.locator(".memory-table tbody tr")
    expect(rows).to_have_count(20)  # the default page size
    expect(rows.first).to_contain_text("Passport renewal")  # newest first
    expect(page.locator(".memory-table")).not_to_contain_text("door code")  # sensitive: hidden unless asked for
    _reach_everything(page)
    shoot(page, "memories")

    page.get_by_label("Per page").select_option("10")
    page.get_by_role("button", name="Apply").click()
    expect(rows).to_have_count(10)
    expect(page.get_by_role("link", name="Newer")).to_have_count(0)
    page.get_by_role("link", name="Older").click()
    expect(rows).to_have_count(10)
    assert "before=" in page.url and "limit=10" in page.url
    second_page_first = rows.first.inner_text()
    page.get_by_role("link", name="Older").click()
    expect(rows).to_have_count(6)  # 26 visible in all
    expect(page.get_by_role("link", name="Older")).to_have_count(0)
    expect(rows.last).to_contain_text("Reading note 00")
    page.get_by_role("link", name="Newer").click()
    expect(rows).to_have_count(10)
    expect(rows.first).to_have_text(second_page_first)
    page.get_by_role("link", name="Newer").click()
    expect(rows.first).to_contain_text("Passport renewal")
    expect(page.get_by_role("link", name="Newer")).to_have_count(0)

    # filters: namespace, source, agent, tier, sensitivity
    watched.goto("/admin/memories")
    page.get_by_label("Namespace").fill("travel")
    page.get_by_role("button", name="Apply").click()
    expect(rows).to_have_count(2)
    expect(page.get_by_label("Namespace")).to_have_value("travel")
    page.get_by_label("Tier").select_option("cold")
    page.get_by_role("button", name="Apply").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("hotel in Porto")
    expect(rows.first.locator(".pill-cold")).to_have_text("cold")
    shoot(page, "memories-filtered")
    rows.first.get_by_role("link").click()  # the detail of a cold one says so
    assert page.url.endswith(f"/admin/memories/{travel_cold}")
    expect(page.locator(".memory-pills .pill-cold")).to_have_text("cold")
    _reach_everything(page)
    page.go_back()
    page.get_by_role("link", name="Clear filters").click()
    page.get_by_label("Agent").fill("planner")
    page.get_by_role("button", name="Apply").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Lisbon")
    watched.goto("/admin/memories?source=chat-agent")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Passport")
    watched.goto("/admin/memories?sensitivity=sensitive")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("door code")
    watched.goto("/admin/memories?namespace=nothing-here")
    expect(page.get_by_text("No memory matches these filters.")).to_be_visible()
    response = watched.goto("/admin/memories?project=no-such-project")
    assert response is not None and response.status == 404
    expect(page.locator("#f-project-error")).to_contain_text("no such project 'no-such-project'")
    response = watched.goto("/admin/memories?limit=900&tier=lukewarm")
    assert response is not None and response.status == 400
    expect(page.locator("#f-limit-error")).to_contain_text("less than or equal to 200")
    expect(page.locator("#f-tier-error")).to_contain_text("'warm' or 'cold'")

    # a search text switches to ranked results with signal badges, filters that search understands apply
    watched.goto("/admin/memories")
    page.get_by_role("searchbox", name="Search").fill("Lisbon flight")
    page.get_by_label("Namespace").fill("travel")
    page.get_by_role("button", name="Apply").click()
    results = page.locator("ol.results > li")
    expect(results.first.locator(".result-content")).to_contain_text("Flight to Lisbon")
    expect(results.first.locator(".signal-bar")).to_have_count(5)
    for result in results.all():
        expect(result.locator(".result-meta")).to_contain_text("travel")
    _reach_everything(page)
    shoot(page, "memories-search")


def test_today_and_the_change_feed(
    open_page: Callable[..., Watched], member: Account, cookies: dict[str, str], dashboard: RunningServer
) -> None:
    _import(dashboard, cookies, [{"content": text, "namespace": "garden"} for text in GARDEN[:4]])
    first, second, *_ = _ids(dashboard, member)
    with _writer(dashboard, cookies) as client:
        assert client.put(f"/v1/memories/{first}", json={"confidence": 0.5}).status_code == 200
        assert client.post("/v1/forget", json={"id": second}).json()["deleted"] is True
        assert client.post("/v1/me/tokens", json={"label": "garden laptop"}).status_code == 201

    watched = open_page(member)
    page = watched.page
    watched.goto("/admin/today")
    expect(page.get_by_role("heading", name="Today")).to_be_visible()
    tally = page.get_by_role("list", name="Counts by kind")
    expect(tally.locator(".tally-warm .tally-count")).to_have_text("4")  # what happened, forgotten or not
    expect(tally.locator(".tally-cold .tally-count")).to_have_text("1")
    expect(page.locator(".feed")).to_contain_text("garden laptop")
    _reach_everything(page)
    shoot(page, "today")

    watched.goto("/admin/changes")
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(6)  # 4 created, 1 updated, 1 deleted
    expect(rows.nth(4).locator(".pill")).to_have_text("updated")
    expect(rows.nth(5).locator(".pill")).to_have_text("deleted")
    expect(rows.nth(5).get_by_role("link")).to_have_count(0)  # a deleted memory has no page
    _reach_everything(page)
    shoot(page, "changes")

    watched.goto("/admin/changes?limit=4")
    expect(rows).to_have_count(4)
    page.get_by_role("link", name="Next page").click()
    assert "afterSeq=" in page.url
    expect(rows).to_have_count(2)
    expect(page.get_by_role("link", name="Next page")).to_have_count(0)
    page.get_by_role("link", name="Back to the start").click()
    expect(rows).to_have_count(6)
    response = watched.goto("/admin/changes?afterSeq=-3")
    assert response is not None and response.status == 400
    expect(page.get_by_role("alert")).to_contain_text("greater than or equal to 0")


def test_the_graph_recentres_on_a_clicked_node(
    open_page: Callable[..., Watched], member: Account, cookies: dict[str, str], dashboard: RunningServer
) -> None:
    watched = open_page(member)
    page = watched.page
    watched.goto("/admin/graph")
    expect(page.get_by_text("Nothing remembered yet, so there is nothing to draw.")).to_be_visible()
    shoot(page, "graph-nothing")

    _import(dashboard, cookies, [{"content": text, "namespace": "garden"} for text in GARDEN])
    watched.goto("/admin/graph")
    seed = _id_of(dashboard, member, GARDEN[0])
    page.get_by_label("Memory in the centre").select_option(seed)
    page.get_by_role("button", name="Show links").click()
    expect(page.locator(".inspector .memory-text")).to_have_text(GARDEN[0])
    nodes = page.locator("svg.graph a.graph-node")
    assert nodes.count() >= 3
    table_rows = page.locator("table tbody tr")
    expect(table_rows).to_have_count(nodes.count())  # the drawing's text alternative
    _reach_everything(page)
    shoot(page, "graph")

    target = nodes.first
    label = target.get_attribute("aria-label") or ""
    href = target.get_attribute("href") or ""
    new_seed = href.split("seed=")[1].split("&")[0]
    target.click()
    assert f"seed={new_seed}" in page.url
    content = dashboard.sql("SELECT content FROM memory_entries WHERE id = %s", (new_seed,))[0][0]
    expect(page.locator(".inspector .memory-text")).to_have_text(content)
    assert label.startswith("1. ")

    # the keyboard reaches the nodes too: Enter on a focused node recentres
    page.get_by_label("Depth").select_option("2")
    page.get_by_role("button", name="Show links").click()
    assert "depth=2" in page.url
    node = page.locator("svg.graph a.graph-node").nth(1)
    node.focus()
    next_seed = (node.get_attribute("href") or "").split("seed=")[1].split("&")[0]
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(f"seed={next_seed}"))
    assert "depth=2" in page.url

    response = watched.goto("/admin/graph?seed=01NOSUCHMEMORY0000000000000")
    assert response is not None and response.status == 404
    expect(page.locator("#f-seed-error")).to_have_text("no such memory in your scope")
    response = watched.goto(f"/admin/graph?seed={new_seed}&depth=7")
    assert response is not None and response.status == 400
    expect(page.locator("#f-depth-error")).to_contain_text("less than or equal to 3")


def test_nobody_sees_another_users_private_memory_not_even_an_admin(
    make_account: Callable[..., Account],
    session_cookies: Callable[[Account], dict[str, str]],
    dashboard: RunningServer,
) -> None:
    other, admin = make_account(), make_account(role="admin")
    secret = "Bea plans to propose at the aquarium on the 14th of May"
    own = "The aquarium trip with the nephews is on Saturday morning"
    _import(dashboard, session_cookies(other), [{"content": secret}])
    _import(dashboard, session_cookies(admin), [{"content": own}])
    hidden = _id_of(dashboard, other, secret)
    with _writer(dashboard, session_cookies(admin)) as client:
        found = client.get("/admin/", params={"q": "aquarium proposal in May"})
        assert found.status_code == 200 and own in found.text and secret not in found.text
        for path in ("/admin/memories", "/admin/memories?sensitivity=sensitive", "/admin/today", "/admin/changes"):
            page = client.get(path)
            assert page.status_code == 200, path
            assert secret not in page.text and hidden not in page.text, path
        assert client.get(f"/admin/memories/{hidden}").status_code == 404
        assert client.get("/admin/memories/not%00an-id").status_code == 404
        assert client.get(f"/admin/memories/{hidden}/forget").status_code == 404
        graph = client.get("/admin/graph", params={"seed": hidden})
        assert graph.status_code == 404 and secret not in graph.text
        edited = client.post(f"/admin/memories/{hidden}/edit", data={"content": "changed by an admin"})
        assert edited.status_code == 404
        forgotten = client.post(f"/admin/memories/{hidden}/forget")
        assert forgotten.status_code == 303 and forgotten.headers["location"] == "/admin/memories"
    assert dashboard.sql("SELECT content FROM memory_entries WHERE id = %s", (hidden,)) == [(secret,)]


def test_read_only_and_project_pinned_credentials_stay_so(
    member: Account, cookies: dict[str, str], dashboard: RunningServer
) -> None:
    with _writer(dashboard, cookies) as owner:
        kitchen = owner.post("/v1/me/projects", json={"name": "Kitchen"}).json()["id"]
        cellar = owner.post("/v1/me/projects", json={"name": "Cellar"}).json()["id"]
        for body in (
            {"content": "The oven runs ten degrees hot; set it lower", "project": kitchen},
            {"content": "My own note: renew the library card in April"},
        ):
            assert owner.post("/v1/remember", json=body).status_code == 201
        reader = owner.post("/v1/me/tokens", json={"label": "reader", "scope": "read_only"}).json()["token"]
        pinned = owner.post("/v1/me/tokens", json={"label": "kitchen tablet", "project": kitchen}).json()["token"]
    in_kitchen = _id_of(dashboard, member, "The oven runs ten degrees hot; set it lower")
    own = _id_of(dashboard, member, "My own note: renew the library card in April")

    origin = {"origin": dashboard.base_url}  # a flash cookie makes later posts cookie-bearing
    with dashboard.client(headers={"authorization": f"Bearer {reader}", **origin}) as client:
        listed = client.get("/admin/memories")
        assert listed.status_code == 200 and "renew the library card" in listed.text
        detail = client.get(f"/admin/memories/{own}")
        assert detail.status_code == 200 and "Save changes" not in detail.text and "Forget…" not in detail.text
        assert client.get(f"/admin/graph?seed={own}").status_code == 200
        for method, path, data in (
            ("GET", "/admin/memories/new", None),
            ("POST", "/admin/memories/new", {"content": "A read-only token tries to write this"}),
            ("POST", f"/admin/memories/{own}/edit", {"content": "A read-only token tries to change this"}),
            ("GET", f"/admin/memories/{own}/forget", None),
            ("POST", f"/admin/memories/{own}/forget", {}),
        ):
            refused = client.request(method, path, data=data)
            assert refused.status_code == 403 and "Read-only token" in refused.text, (method, path)

    with dashboard.client(headers={"authorization": f"Bearer {pinned}", **origin}) as client:
        listed = client.get("/admin/memories")
        assert "ten degrees hot" in listed.text and "library card" not in listed.text
        assert client.get(f"/admin/memories/{own}").status_code == 404
        assert client.get(f"/admin/memories/{in_kitchen}").status_code == 200
        stored = client.post("/admin/memories/new", data={"content": "The kettle descaler is under the sink"})
        assert stored.status_code == 303
        assert dashboard.sql(
            "SELECT project_id FROM memory_entries WHERE user_id = %s AND content LIKE 'The kettle%%'",
            (member.user_id,),
        ) == [(kitchen,)]
        elsewhere = client.post(
            "/admin/memories/new", data={"content": "The wine rack holds forty bottles", "project": cellar}
        )
        assert elsewhere.status_code == 403
        assert 'id="f-project-error">token is confined to its project' in elsewhere.text
        assert "The wine rack holds forty bottles" in elsewhere.text  # what was typed is kept


def test_the_first_load_of_home_stays_light(member: Account, cookies: dict[str, str], dashboard: RunningServer) -> None:
    _import(dashboard, cookies, [{"content": text, "namespace": "garden"} for text in GARDEN])
    with dashboard.client(cookies=cookies) as client:
        page = client.get("/admin/", params={"q": "tomatoes"})
        assert page.status_code == 200
        assets = re.findall(r'(?:href|src)="(/admin/assets/[^"]+)"', page.text)
        assert len(assets) == 3  # favicon, stylesheet, script
        total = len(page.content) + sum(len(client.get(asset).content) for asset in assets)
    assert total < 150_000, total


def test_the_graph_layout_puts_strong_links_close_and_spreads_them_evenly() -> None:
    layout = circle_layout([("b", "weak", 0.0, "cold"), ("a", "strong", 1.0, "warm"), ("c", "mid", 0.5, "warm")])
    assert [node.id for node in layout.nodes] == ["a", "c", "b"] and [n.rank for n in layout.nodes] == [1, 2, 3]
    centre = layout.centre
    strongest, middle, weakest = layout.nodes
    assert (strongest.x, strongest.y) == (centre, centre - INNER)  # the strongest sits at the top, closest
    assert abs(((weakest.x - centre) ** 2 + (weakest.y - centre) ** 2) ** 0.5 - OUTER) < 0.2
    assert strongest.r > middle.r > weakest.r and [s.weight for s in layout.spokes] == [1.0, 0.5, 0.0]
    for node in layout.nodes:
        assert 0 <= node.x - node.r and node.x + node.r <= layout.size
        assert 0 <= node.y - node.r and node.y + node.r <= layout.size
    assert circle_layout([]).nodes == ()
    assert short_label("one two three four", 12) == "one two…"
    assert short_label("  spaced\n out ") == "spaced out"
