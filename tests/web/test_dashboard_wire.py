"""The wire contract of /admin, over plain HTTP: entry pages, assets, authentication before routing, CSRF,
the password-change confinement, the REST-route guard, and the switch."""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable, Iterator

import httpx
import pytest

from novamem.domain.credentials import hash_secret, new_api_token
from novamem.http.middleware.headers import CONTENT_SECURITY_POLICY
from tests.conftest import RunningServer, start_server
from tests.web.conftest import COOKIE_SECRET, Account

ENTRY = ("/admin", "/admin/", "/admin/index.html")
HTML = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
UNAUTHORIZED = {"error": "unauthorized"}


def _hardened(response: httpx.Response) -> None:
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    # pages: same-origin, so the browser sends the Origin the CSRF rule needs with the page's own forms
    page = response.headers["content-type"].startswith("text/html")
    assert response.headers["referrer-policy"] == ("same-origin" if page else "no-referrer")


def _assets(page: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/admin/assets/[^"]+)"', page)


@pytest.fixture
def anonymous(dashboard: RunningServer) -> Iterator[httpx.Client]:
    with dashboard.client() as client:
        yield client


def test_entry_paths_answer_the_sign_in_page_to_anyone(anonymous: httpx.Client) -> None:
    for path in ENTRY:
        r = anonymous.get(path, follow_redirects=False)
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith("text/html")
        assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert r.headers["cache-control"] == "no-store"
        _hardened(r)
        assert 'id="sign-in"' in r.text
        # no inline script, no inline handlers, no style attributes (strict CSP)
        assert re.findall(r"<script\b[^>]*>", r.text) == [f'<script src="{_assets(r.text)[-1]}">']
        assert not re.search(r"\son[a-z]+=", r.text)
        assert " style=" not in r.text and "javascript:" not in r.text


def test_assets_are_public_hashed_and_cached_for_a_year(anonymous: httpx.Client) -> None:
    page = anonymous.get("/admin/").text
    assets = _assets(page)
    assert {a.rsplit(".", 1)[1] for a in assets} == {"svg", "css", "js"}
    for url in assets:
        r = anonymous.get(url)
        assert r.status_code == 200, url
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
        _hardened(r)
        assert re.fullmatch(r"/admin/assets/[a-z]+\.[0-9a-f]{12}\.(css|js|svg)", url)
    assert anonymous.get(assets[0]).headers["content-type"].startswith("image/svg+xml")
    total = len(page.encode()) + sum(len(anonymous.get(url).content) for url in assets)
    assert total < 150_000  # the first load of a page, uncompressed


def test_text_assets_are_sent_gzipped_to_browsers_that_accept_it(anonymous: httpx.Client) -> None:
    css = next(a for a in _assets(anonymous.get("/admin/").text) if a.endswith(".css"))
    with anonymous.stream("GET", css, headers={"accept-encoding": "gzip, br"}) as zipped:
        wire = b"".join(zipped.iter_raw())
        assert zipped.headers["content-encoding"] == "gzip" and "Accept-Encoding" in zipped.headers["vary"]
    plain = anonymous.get(css, headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert gzip.decompress(wire) == plain.content and len(wire) * 3 < len(plain.content)
    refused = anonymous.get(css, headers={"accept-encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers


def test_unknown_or_renamed_assets_are_404(anonymous: httpx.Client) -> None:
    css = next(a for a in _assets(anonymous.get("/admin/").text) if a.endswith(".css"))
    stale = re.sub(r"\.[0-9a-f]{12}\.", ".000000000000.", css)  # a name from another build
    for path in ("/admin/assets/dashboard.css", "/admin/assets/nope.0123456789ab.css", stale, css + "x"):
        r = anonymous.get(path)
        assert r.status_code == 404, path
        _hardened(r)


def test_anonymous_callers_are_refused_before_routing(anonymous: httpx.Client) -> None:
    """A real screen and a path that names nothing answer exactly the same."""
    answers = []
    for path in ("/admin/account", "/admin/no-such-screen", "/admin/users", "/admin/assets"):
        for method in ("GET", "POST", "DELETE"):
            r = anonymous.request(method, path)
            assert r.status_code == 401, (method, path)
            assert r.json() == UNAUTHORIZED
            _hardened(r)
            answers.append((r.status_code, r.content))
        browser = anonymous.get(path, headers=HTML)
        assert browser.status_code == 401
        assert browser.headers["content-type"].startswith("text/html")
        assert 'id="sign-in"' in browser.text
        answers.append((browser.status_code, re.sub(rb'data-next="[^"]*"', b"", browser.content)))
    distinct = {answer for answer in answers if answer[1].startswith(b"{")}
    assert distinct == {(401, b'{"error":"unauthorized"}')}
    pages = {answer for answer in answers if not answer[1].startswith(b"{")}
    assert len(pages) == 1


def test_a_bad_cookie_is_anonymous(dashboard: RunningServer) -> None:
    with dashboard.client(cookies={"nm.session_token": "forged.value"}) as client:
        assert client.get("/admin/").status_code == 200
        r = client.get("/admin/account")
        assert r.status_code == 401 and r.json() == UNAUTHORIZED


def test_signed_in_unknown_paths_are_the_404_page(
    dashboard: RunningServer, make_account: Callable[..., Account], session_cookies: Callable[[Account], dict[str, str]]
) -> None:
    account = make_account()
    with dashboard.client(cookies=session_cookies(account)) as client:
        r = client.get("/admin/no-such-screen")
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
        assert "There is no such page" in r.text
        assert client.get("/admin/account").status_code == 200
        home = client.get("/admin/index.html")
        assert home.status_code == 200 and "Today" in home.text
        r = client.put("/admin/account", headers={"origin": dashboard.base_url})
        assert r.status_code == 405


def test_state_changing_posts_need_a_trusted_origin(
    dashboard: RunningServer, make_account: Callable[..., Account], session_cookies: Callable[[Account], dict[str, str]]
) -> None:
    account = make_account()
    with dashboard.client(cookies=session_cookies(account)) as client:
        for headers in (
            {},
            {"origin": "null"},
            {"origin": "https://evil.example"},
            {"referer": "https://evil.example/x"},
        ):
            r = client.post("/admin/sign-out", headers=headers)
            assert r.status_code == 403, headers
            assert r.headers["content-type"].startswith("text/html")
        assert client.get("/admin/account").status_code == 200  # still signed in
        r = client.post("/admin/sign-out", headers={"origin": dashboard.base_url}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/admin/"
        assert re.search(r'nm\.session_token=""; .*Max-Age=0; Path=/', r.headers["set-cookie"])
    with dashboard.client(cookies=session_cookies(account)) as client:
        # without an Origin, the Referer's origin counts
        r = client.post("/admin/sign-out", headers={"referer": dashboard.base_url + "/admin/account"})
        assert r.status_code == 303


def test_an_account_that_must_change_its_password_is_confined(
    dashboard: RunningServer, make_account: Callable[..., Account], session_cookies: Callable[[Account], dict[str, str]]
) -> None:
    account = make_account(must_change=True)
    origin = {"origin": dashboard.base_url}
    with dashboard.client(cookies=session_cookies(account)) as client:
        for path in ENTRY:
            r = client.get(path, follow_redirects=False)
            assert r.status_code == 200 and "Choose a new password" in r.text, path
        r = client.get("/admin/account", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/admin/change-password"
        assert client.post("/admin/account/sessions/revoke-others", headers=origin).status_code == 403
        r = client.post(
            "/admin/change-password",
            headers=origin,
            data={"currentPassword": account.password, "newPassword": "short"},
        )
        assert r.status_code == 400 and "Password too short" in r.text
        r = client.post(
            "/admin/change-password",
            headers=origin,
            data={"currentPassword": account.password, "newPassword": "a-better-password"},
            follow_redirects=False,
        )
        assert r.status_code == 303 and r.headers["location"] == "/admin/onboarding"
        assert client.get("/admin/onboarding").status_code == 200
    must = dashboard.sql("SELECT must_change_password FROM users WHERE id = %s", (account.user_id,))
    assert must == [(False,)]


def test_tokens_reach_only_what_they_may_over_rest(
    dashboard: RunningServer, make_account: Callable[..., Account]
) -> None:
    """A bearer token is a caller like over REST: read-only stays read-only, /api/auth screens need a session."""
    account = make_account()
    read_only = new_api_token()
    dashboard.sql(
        "INSERT INTO user_tokens (token_hash, tenant_id, user_id, label, scope)"
        " VALUES (%s, 'default', %s, 'laptop', 'read_only')",
        (hash_secret(read_only), account.user_id),
    )
    with dashboard.client(headers={"authorization": f"Bearer {read_only}"}) as client:
        assert client.get("/admin/").status_code == 200
        assert client.get("/admin/onboarding").status_code == 200
        r = client.get("/admin/account")
        assert r.status_code == 403 and "dashboard session" in r.text
        assert client.post("/admin/sign-out").status_code == 403


@pytest.fixture(scope="module")
def switched_off(make_database: Callable[[], str]) -> Iterator[RunningServer]:
    server = start_server(
        make_database(),
        auth_mode="user",
        cookie_secret=COOKIE_SECRET,
        insecure_cookies=True,
        jobs_enabled=False,
        embeddings_provider="none",
        admin_dashboard=False,
    )
    yield server
    server.stop()


def test_switched_off_everything_under_admin_is_404(switched_off: RunningServer) -> None:
    with switched_off.client() as client:
        for path in (*ENTRY, "/admin/account", "/admin/assets/dashboard.0123456789ab.css", "/admin/x/y"):
            for method in ("GET", "POST"):
                r = client.request(method, path, headers=HTML)
                assert r.status_code == 404, (method, path)
                assert r.json() == {"error": "admin disabled"}


def test_without_accounts_the_dashboard_says_so(server: RunningServer) -> None:
    """`none` auth mode: nobody signs in; the entry page explains, everything else is 404."""
    with server.client() as client:
        r = client.get("/admin/")
        assert r.status_code == 200 and "No accounts on this server" in r.text
        assert client.get("/admin/account").status_code == 404
