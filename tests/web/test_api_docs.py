"""The API reference page at /api-docs, in a real browser: Debian's chromium driven by Playwright.

No browser is downloaded: scripts/setup installs the `chromium` package when it is missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Response, expect, sync_playwright

from novamem.http.middleware.headers import CONTENT_SECURITY_POLICY
from tests.conftest import RunningServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"no browser at {CHROMIUM}: run scripts/setup as root, which installs Debian's chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@dataclass
class DocsPage:
    """The loaded page plus everything that went wrong while it ran."""

    page: Page
    problems: list[str] = field(default_factory=list)


@pytest.fixture
def docs(browser: Browser, server: RunningServer) -> Iterator[DocsPage]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    loaded = DocsPage(page)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            loaded.problems.append(f"console error: {message.text}")

    def on_request(request: Request) -> None:
        if not request.url.startswith((server.base_url + "/", "data:")):
            loaded.problems.append(f"request outside the server: {request.url}")

    def on_response(response: Response) -> None:
        if response.status >= 400:
            loaded.problems.append(f"{response.status} for {response.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: loaded.problems.append(f"page error: {error}"))
    page.on("request", on_request)
    page.on("requestfailed", lambda request: loaded.problems.append(f"request failed: {request.url}"))
    page.on("response", on_response)
    page.goto(server.base_url + "/api-docs")
    expect(page.locator("#op-post-v1-search")).to_be_visible()
    yield loaded
    context.close()


def _operations(server: RunningServer) -> list[tuple[str, str]]:
    spec = httpx.get(server.base_url + "/openapi.json").json()
    return [(method, path) for path, ops in spec["paths"].items() for method in ops]


def test_every_route_renders_with_its_request_fields(docs: DocsPage, server: RunningServer) -> None:
    page = docs.page
    operations = _operations(server)
    cards = page.locator("section.op")
    expect(cards).to_have_count(len(operations))
    for method, path in operations:
        card = page.locator(f'section.op[data-method="{method}"][data-path="{path}"]')
        expect(card).to_be_visible()
        expect(card.locator(".path")).to_have_text(path)
    search = page.locator("#op-post-v1-search")
    expect(search.locator(".path")).to_have_text("/v1/search")
    query = search.locator('tr[data-field="query"]')
    expect(query).to_be_visible()
    expect(query.locator("td.name")).to_contain_text("required")
    expect(query.locator("td.type")).to_have_text("string")
    expect(query).to_contain_text("length ≤ 8192")
    # A $ref inside the body resolves into its component's fields.
    weights = search.locator("details.nested", has_text="WeightsIn")
    weights.locator("summary").click()
    expect(weights.locator('tr[data-field="keyword"]')).to_be_visible()
    expect(page.locator("#count")).to_have_text(f"{len(operations)} operations")
    assert docs.problems == []


def test_filter_box_narrows_the_list(docs: DocsPage, server: RunningServer) -> None:
    page = docs.page
    total = len(_operations(server))
    page.fill("#filter", "neighbors")
    visible = page.locator("section.op:visible")
    expect(visible).to_have_count(1)
    expect(visible.locator(".path")).to_have_text("/v1/neighbors")
    expect(page.locator("#toc li:visible a[href^='#op-']")).to_have_count(1)
    expect(page.locator("#count")).to_have_text(f"1 of {total} operations match")
    expect(page.locator("#op-post-v1-search")).to_be_hidden()

    page.fill("#filter", "get stats")
    expect(page.locator("section.op:visible .path")).to_have_text(["/v1/stats"])

    page.fill("#filter", "no-such-route-anywhere")
    expect(page.locator("section.op:visible")).to_have_count(0)
    expect(page.locator("#no-match")).to_be_visible()

    page.fill("#filter", "")
    expect(page.locator("section.op:visible")).to_have_count(total)
    assert docs.problems == []


def test_page_runs_under_the_strict_policy_without_inline_script(server: RunningServer) -> None:
    response = httpx.get(server.base_url + "/api-docs")
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "unsafe-eval" not in CONTENT_SECURITY_POLICY
    # every script comes from this server: no inline code (the browser tests above see it run under the policy)
    assert re.findall(r"<script\b[^>]*>", response.text) == ['<script src="/api-docs.js">']
    assert re.search(r"<script[^>]*>\s*</script>", response.text)
    script = httpx.get(server.base_url + "/api-docs.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert script.headers["x-content-type-options"] == "nosniff" and "fetch(" in script.text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", response.text), "the page loads a third-party asset"
