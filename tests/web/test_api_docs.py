"""The API reference at /api-docs: the vendored Swagger UI, in a real browser (Debian's chromium, Playwright).

No browser is downloaded: scripts/setup installs the `chromium` package when it is missing. Screenshots go to
pytest's tmp_path and are copied to `test-output/screenshots/` under the repository root (gitignored).
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Response, expect, sync_playwright

from novamem.http.middleware.headers import CONTENT_SECURITY_POLICY
from novamem.http.routers.api_docs import ASSET_CACHE_CONTROL, ASSETS_PATH
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
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
VENDORED = resources.files("novamem.http") / "static" / "swagger-ui"
# Records every CSP violation the page's own code could cause; Playwright's init script itself is exempt.
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`);
});
"""


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

    def all_problems(self) -> list[str]:
        """Console errors, failed or foreign requests, and the CSP violations the page saw."""
        violations: list[str] = self.page.evaluate("window.__cspViolations")
        return self.problems + [f"CSP violation: {v}" for v in violations]

    def screenshot(self, tmp_path: Path, name: str) -> Path:
        """The viewport, into pytest's tmp_path and a copy under test-output/screenshots/."""
        shot = tmp_path / name
        self.page.screenshot(path=str(shot))
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENSHOTS / name)
        return shot


def _open_docs(browser: Browser, server: RunningServer, color_scheme: Literal["light", "dark"]) -> Iterator[DocsPage]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=color_scheme)
    context.add_init_script(RECORD_CSP_VIOLATIONS)
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
    expect(page.locator('.opblock-summary-path[data-path="/v1/search"]')).to_be_visible()
    yield loaded
    context.close()


@pytest.fixture
def docs(browser: Browser, server: RunningServer) -> Iterator[DocsPage]:
    yield from _open_docs(browser, server, "light")


@pytest.fixture
def dark_docs(browser: Browser, server: RunningServer) -> Iterator[DocsPage]:
    yield from _open_docs(browser, server, "dark")


def _operations(server: RunningServer) -> set[tuple[str, str]]:
    spec = httpx.get(server.base_url + "/openapi.json").json()
    return {(method, path) for path, ops in spec["paths"].items() for method in ops}


def test_the_page_renders_every_operation_of_the_contract(
    docs: DocsPage, server: RunningServer, tmp_path: Path
) -> None:
    page = docs.page
    operations = _operations(server)
    shown = page.locator(".opblock").evaluate_all(
        """blocks => blocks.map(block => [
             block.querySelector('.opblock-summary-method').textContent.toLowerCase(),
             block.querySelector('.opblock-summary-path').dataset.path,
           ])"""
    )
    assert {(method, path) for method, path in shown} == operations
    expect(page.locator(".info .title")).to_contain_text("novamem")
    # the page says, visibly, where the contract itself is
    expect(page.locator("header.contract").get_by_role("link", name="/openapi.json")).to_be_visible()
    expect(page.locator("header.contract a")).to_have_attribute("href", "/openapi.json")
    docs.screenshot(tmp_path, "api-docs.png")
    # one operation opens to its request body, read from the contract's schema
    search = page.locator(".opblock-post", has=page.locator('.opblock-summary-path[data-path="/v1/search"]'))
    search.locator(".opblock-summary-control").click()
    expect(search.locator(".opblock-body")).to_be_visible()
    expect(search.locator(".opblock-section-request-body")).to_contain_text("query")
    # colours follow the system setting: light here
    assert page.evaluate("document.documentElement.classList.contains('dark-mode')") is False
    assert docs.all_problems() == []


def test_the_page_follows_a_dark_system_theme(dark_docs: DocsPage, tmp_path: Path) -> None:
    page = dark_docs.page
    assert page.evaluate("document.documentElement.classList.contains('dark-mode')") is True
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(28, 32, 34)"
    search = page.locator(".opblock-post", has=page.locator('.opblock-summary-path[data-path="/v1/search"]'))
    search.locator(".opblock-summary-control").click()
    expect(search.locator(".opblock-section-request-body")).to_contain_text("query")
    search.scroll_into_view_if_needed()
    dark_docs.screenshot(tmp_path, "api-docs-dark.png")
    assert dark_docs.all_problems() == []


def test_page_runs_under_the_strict_policy_without_inline_script(server: RunningServer) -> None:
    response = httpx.get(server.base_url + "/api-docs")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in CONTENT_SECURITY_POLICY and "unsafe-eval" not in CONTENT_SECURITY_POLICY
    assert response.headers["cache-control"] == "no-cache"  # it names the hashed assets of this build
    html = response.text
    # every script is a file from this server: no inline code, no inline styles or event handlers
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.S)
    assert [body for _, body in scripts] == ["", ""]
    assert all(re.fullmatch(rf' src="{ASSETS_PATH}/[^"/]+\.js"', attributes) for attributes, _ in scripts)
    assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=", html)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "the page loads a third-party asset"


def test_assets_are_hashed_immutable_and_typed(server: RunningServer) -> None:
    html = httpx.get(server.base_url + "/api-docs").text
    urls = re.findall(rf'(?:src|href)="({ASSETS_PATH}/[^"]+)"', html)
    assert sorted(Path(url).suffix for url in urls) == [".css", ".css", ".js", ".js"]
    with httpx.Client(base_url=server.base_url) as client:
        for url in urls:
            plain = client.get(url, headers={"accept-encoding": "identity"})
            assert plain.status_code == 200, url
            assert "content-encoding" not in plain.headers
            stem, digest = Path(url).stem.rsplit(".", 1)
            assert hashlib.sha256(plain.content).hexdigest().startswith(digest), url
            kind = "text/javascript" if url.endswith(".js") else "text/css"
            assert plain.headers["content-type"] == f"{kind}; charset=utf-8"
            assert plain.headers["cache-control"] == ASSET_CACHE_CONTROL == "public, max-age=31536000, immutable"
            assert plain.headers["x-content-type-options"] == "nosniff"
            assert plain.headers["vary"].lower().count("accept-encoding") == 1
            if stem == "swagger-ui-bundle":
                packed = client.get(url, headers={"accept-encoding": "gzip"})
                assert packed.headers["content-encoding"] == "gzip"
                assert int(packed.headers["content-length"]) < len(plain.content) // 3
                assert packed.content == plain.content  # httpx decoded it
        # an unknown name, an old hash or a file of the package that is not an asset: the usual 404
        for missing in ("swagger-ui-bundle.js", "swagger-ui-bundle.0000000000000000.js", "README.md", "LICENSE"):
            gone = client.get(f"{ASSETS_PATH}/{missing}")
            assert gone.status_code == 404, missing
            assert gone.json()["error"] == "Not Found"
        assert client.get("/api-docs.js").status_code == 404  # the hand-written renderer is gone


def test_vendored_files_match_the_pinned_version_in_their_readme() -> None:
    readme = VENDORED.joinpath("README.md").read_text(encoding="utf-8")
    version = re.search(r"^- Version: (\d+\.\d+\.\d+)$", readme, flags=re.M)
    assert version is not None and "- Package: `swagger-ui-dist`" in readme and "Apache-2.0" in readme
    assert f"swagger-ui-dist-{version[1]}.tgz" in readme
    bundle = VENDORED.joinpath("swagger-ui-bundle.js").read_bytes()
    assert f'PACKAGE_VERSION:"{version[1]}"'.encode() in bundle
    rows = re.findall(r"^\| `([^`]+)` \| (\d+) \| `([0-9a-f]{64})` \|$", readme, flags=re.M)
    listed = {name for name, _, _ in rows}
    assert listed == {"swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-bundle.js.LICENSE.txt", "LICENSE", "NOTICE"}
    assert {item.name for item in VENDORED.iterdir()} == listed | {"README.md"}
    for name, size, digest in rows:
        body = VENDORED.joinpath(name).read_bytes()
        assert (len(body), hashlib.sha256(body).hexdigest()) == (int(size), digest), name
    assert "Apache License" in VENDORED.joinpath("LICENSE").read_text(encoding="utf-8")
