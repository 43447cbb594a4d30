"""Fixtures for the dashboard at /admin: one user-mode server, accounts, watched browser pages, screenshots.

- `dashboard`: a real server (user mode, built-in embedder, jobs off) on the session's embedded PostgreSQL,
  its bootstrap admin `ADMIN_EMAIL` / `ADMIN_PASSWORD` (must change the password at first sign-in).
  `start_dashboard(database_url, **settings)` starts another server with the same settings (plus `settings`).
- `make_account(role="user", must_change=False)`: a fresh account with a known password
  (`add_account(server, ...)` for another server).
- `session_cookies(account)`: cookies of a new dashboard session, for httpx (`new_session(server, account)`
  for another server).
- `open_page(account=None, server=None)`: a Chromium page (Debian's /usr/bin/chromium, never a downloaded
  browser) on `server` (default: `dashboard`), signed in as `account` when given. Any CSP violation,
  console error, page error, failed script, style or fetch (status >= 400; documents may answer 4xx on
  purpose), or request to another origin fails the test; `watched.allow("fragment")` accepts problems the
  test provokes.
- `shoot(page, name)`: screenshots in light and dark, desktop (1280x800) and phone (390x844), written to
  `test-output/screenshots/<name>-<theme>-<width>.png`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Response, sync_playwright
from ulid import ULID

from novamem.domain.credentials import hash_secret, new_session_token, sign_session_token
from tests.conftest import RunningServer, start_server

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
COOKIE_SECRET = secrets.token_urlsafe(32)
SESSION_COOKIE = "nm.session_token"  # the name with NOVAMEM_INSECURE_COOKIES=1 (no __Secure- prefix)
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "bootstrap-pass-1"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
THEMES = ("light", "dark")
VIEWPORTS = ((1280, 800), (390, 844))
DESKTOP = {"width": 1280, "height": 800}
# reports CSP violations as console errors, which fail the test like any other console error
_CSP_WATCH = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline"}`);
});
"""


@dataclass(frozen=True)
class Account:
    """A user with a known password."""

    email: str
    password: str
    user_id: str
    role: str = "user"


def start_dashboard(database_url: str, **settings: Any) -> RunningServer:
    """A server with the dashboard's settings: user mode, plain-HTTP cookies signed with `COOKIE_SECRET`, jobs off,
    the bootstrap admin, its own URL as the trusted origin; `settings` add to them or override them."""
    server = start_server(
        database_url,
        **{
            "auth_mode": "user",
            "cookie_secret": COOKIE_SECRET,
            "insecure_cookies": True,
            "jobs_enabled": False,
            "bootstrap_admin_email": ADMIN_EMAIL,
            "bootstrap_admin_password": ADMIN_PASSWORD,
            **settings,
        },
    )
    # NOVAMEM_BASE_URL defaults to http://<host>:<port>, which is the URL the tests use
    assert server.base_url in server.container.settings.trusted_origins
    return server


def add_account(
    server: RunningServer, role: str = "user", *, must_change: bool = False, email: str | None = None
) -> Account:
    """Create an account straight in `server`'s database (argon2id hash, as the server makes them)."""
    account = Account(
        email=email or f"{role}-{secrets.token_hex(4)}@example.com",
        password=f"pw-{secrets.token_urlsafe(12)}",
        user_id=str(ULID()),
        role=role,
    )
    server.sql(
        "INSERT INTO users (id, tenant_id, email, name, role, password_hash, must_change_password)"
        " VALUES (%s, 'default', %s, %s, %s, %s, %s)",
        (
            account.user_id,
            account.email,
            account.email.split("@")[0],
            role,
            PasswordHasher().hash(account.password),
            must_change,
        ),
    )
    return account


def new_session(server: RunningServer, account: Account) -> dict[str, str]:
    """A new session of `account` on `server` (a session row and its signed cookie, as httpx cookies)."""
    token = new_session_token()
    server.sql(
        "INSERT INTO auth_sessions (id, token_hash, tenant_id, user_id, expires_at, user_agent, ip_address)"
        " VALUES (%s, %s, 'default', %s, now() + interval '1 day', %s, '127.0.0.1')",
        (str(ULID()), hash_secret(token), account.user_id, "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"),
    )
    return {SESSION_COOKIE: sign_session_token(COOKIE_SECRET, token)}


@pytest.fixture(scope="session")
def dashboard(make_database: Callable[[], str]) -> Iterator[RunningServer]:
    """The dashboard's server: user mode, plain-HTTP cookies, its own URL as the trusted origin."""
    server = start_dashboard(make_database())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def make_account(dashboard: RunningServer) -> Callable[..., Account]:
    """Create accounts straight in the dashboard's database (argon2id hash, as the server makes them)."""

    def make(role: str = "user", *, must_change: bool = False, email: str | None = None) -> Account:
        return add_account(dashboard, role, must_change=must_change, email=email)

    return make


@pytest.fixture(scope="session")
def session_cookies(dashboard: RunningServer) -> Callable[[Account], dict[str, str]]:
    """A new dashboard session for an account (a session row and its signed cookie)."""

    def cookies(account: Account) -> dict[str, str]:
        return new_session(dashboard, account)

    return cookies


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for one test module: Playwright's sync API keeps an event loop running while it is open, which
    would break later modules that call `asyncio.run` (the CLI helpers)."""
    if not CHROMIUM.exists():
        pytest.skip(f"no browser at {CHROMIUM}: run scripts/setup as root, which installs Debian's chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@dataclass
class Watched:
    """A page, and everything that went wrong on it (checked when the test ends)."""

    page: Page
    base_url: str
    problems: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)

    def allow(self, fragment: str) -> None:
        """Accept problems containing `fragment` (`"401 for fetch"`: a failed sign-in the test provokes)."""
        self.allowed.append(fragment)

    def goto(self, path: str) -> Any:
        return self.page.goto(self.base_url + path)

    def _report(self, problem: str) -> None:
        if not any(fragment in problem for fragment in self.allowed):
            self.problems.append(problem)

    def _console(self, message: ConsoleMessage) -> None:
        # "Failed to load resource" repeats a status `_response` judges: documents may answer 4xx on purpose
        # (a form shown again with its errors, the 404 page); a script, style or fetch may not
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self._report(f"console error: {message.text}")

    def _response(self, response: Response) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            self._report(f"{response.status} for {response.request.resource_type} {response.url}")

    def _request(self, request: Request) -> None:
        if not request.url.startswith((self.base_url + "/", "data:", "about:")):
            self.problems.append(f"request outside the server: {request.url}")


@pytest.fixture
def open_page(browser: Browser, dashboard: RunningServer) -> Iterator[Callable[..., Watched]]:
    """Open watched pages (each in its own browser context); the test fails on any problem they saw.

    `open_page(account=None, *, viewport=DESKTOP, server=None)`: on `server` (default: `dashboard`), signed in
    as `account` (an account of that server) when given.

    The sign-in throttle (3 per 10 s per address, kept in the database) starts afresh for each test on
    `dashboard`: every browser here signs in from 127.0.0.1.
    """
    dashboard.sql("DELETE FROM rate_counters WHERE key LIKE 'signin-ip:%%'")
    opened: list[Watched] = []
    contexts = []

    def open_(
        account: Account | None = None, *, viewport: dict[str, int] = DESKTOP, server: RunningServer | None = None
    ) -> Watched:
        target = server or dashboard
        context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
        contexts.append(context)
        context.add_init_script(_CSP_WATCH)
        if account is not None:
            for name, value in new_session(target, account).items():
                context.add_cookies([{"name": name, "value": value, "url": target.base_url}])
        watched = Watched(context.new_page(), target.base_url)
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


_SET_THEME = """theme => {
  document.documentElement.setAttribute("data-theme", theme);
  for (const toggle of document.querySelectorAll("[data-theme-toggle]")) {
    toggle.setAttribute("aria-pressed", String(theme === "dark"));
  }
}"""


def shoot(page: Page, name: str) -> list[Path]:
    """Screenshots of the page as it is now: light and dark, desktop and phone width. Returns the files."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    viewport = page.viewport_size or DESKTOP
    theme = page.evaluate("() => document.documentElement.getAttribute('data-theme')")
    written = []
    for shade in THEMES:
        page.evaluate(_SET_THEME, shade)
        for width, height in VIEWPORTS:
            page.set_viewport_size({"width": width, "height": height})
            path = SCREENSHOTS / f"{name}-{shade}-{width}.png"
            page.screenshot(path=str(path), full_page=True, animations="disabled")
            written.append(path)
    page.set_viewport_size(viewport)  # type: ignore[arg-type]
    page.evaluate(_SET_THEME, theme or "light")
    return written


_MARK_CONTROLS = """() => {
  const selector = 'a[href], button, input:not([type="hidden"]), select, textarea, [tabindex]:not([tabindex="-1"])';
  const controls = Array.from(document.querySelectorAll(selector)).filter(
    (el) => !el.disabled && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden"
  );
  controls.forEach((el, i) => el.setAttribute("data-kb", String(i)));
  const name = (el) => (el.innerText || el.name || el.id || "").trim();
  return controls.map((el, i) => `${i} ${el.tagName.toLowerCase()}: ${name(el)}`);
}"""


def keyboard_reach(page: Page) -> tuple[list[str], list[str]]:
    """(every visible control of the page, those that pressing Tab reached). Tab wraps, so it runs once around."""
    controls: list[str] = page.evaluate(_MARK_CONTROLS)
    reached: list[str] = []
    for _ in range(len(controls) + 4):
        page.keyboard.press("Tab")
        index = page.evaluate("() => document.activeElement && document.activeElement.getAttribute('data-kb')")
        if index is not None and controls[int(index)] not in reached:
            reached.append(controls[int(index)])
    return controls, reached


def unlabelled_controls(page: Page) -> list[str]:
    """Form controls without a label (a <label for>, or aria-label/aria-labelledby)."""
    found: list[str] = page.evaluate(
        """() => Array.from(document.querySelectorAll('input:not([type="hidden"]), select, textarea, button'))
          .filter((el) => el.getClientRects().length > 0)
          .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute("aria-label")
            && !el.getAttribute("aria-labelledby") && !(el.tagName === "BUTTON" && el.innerText.trim()))
          .map((el) => el.outerHTML.slice(0, 100))"""
    )
    return found
