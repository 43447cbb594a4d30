"""Status codes the reference gives, over plain HTTP: hidden role gates (3.2, 3.4), a restricted token's
own rotation (3.6), the preflight of a foreign origin (8.5) and export paging (3.5)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.conftest import RunningServer, start_server
from tests.http.identities import USER_MODE, add_user, client, mint

APP = "https://app.example.com"
EVIL = "https://evil.example.net"
OPERATOR_ROUTES = ["/v1/decay", "/v1/dream-cycle", "/v1/reap-orphans", "/v1/observe"]
UNAUTHORIZED = (401, {"error": "unauthorized"})


@pytest.fixture(scope="module")
def srv(make_database: Callable[[], str]) -> Iterator[RunningServer]:
    running = start_server(make_database(), **USER_MODE, embeddings_provider="none", cors_origins=APP)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def users(srv: RunningServer) -> dict[str, str]:
    return {"admin": add_user(srv, "status-admin", role="admin"), "user": add_user(srv, "status-user")}


def test_deep_health_hides_its_role_gate(srv: RunningServer, users: dict[str, str]) -> None:
    for token in (mint(srv, users["user"]), mint(srv, users["user"], scope="read_only")):
        with client(srv, token) as api:
            r = api.get("/v1/admin/health/deep")
            assert (r.status_code, r.json()) == UNAUTHORIZED
    with srv.client() as anonymous:
        r = anonymous.get("/v1/admin/health/deep")
        assert (r.status_code, r.json()) == UNAUTHORIZED
    with client(srv, mint(srv, users["admin"])) as api:
        r = api.get("/v1/admin/health/deep")
        assert r.status_code in (200, 503) and set(r.json()) >= {"ok", "deps", "pendingEmbeddings"}
    with client(srv, mint(srv, users["admin"], scope="read_only")) as api:
        r = api.get("/v1/admin/health/deep")
        assert (r.status_code, r.json()) == (403, {"error": "restricted token"})


def test_operator_routes_tell_a_non_admin_401(srv: RunningServer, users: dict[str, str]) -> None:
    for token in (mint(srv, users["user"]), mint(srv, users["user"], scope="read_only")):
        with client(srv, token) as api:
            for path in OPERATOR_ROUTES:
                r = api.post(path, json={})
                assert (r.status_code, r.json()) == UNAUTHORIZED, path
    with client(srv, mint(srv, users["admin"])) as api:
        for path in OPERATOR_ROUTES:
            assert api.post(path, json={}).status_code not in (401, 403), path


def test_a_read_only_token_rotates_itself(srv: RunningServer) -> None:
    reader = add_user(srv, "status-reader")
    old = mint(srv, reader, scope="read_only")
    with client(srv, old) as api:
        r = api.post("/v1/auth/rotate-token")
        assert r.status_code == 201, r.text
        rotated = r.json()
        assert set(rotated) == {"token", "userId", "createdAt", "warning"}
        assert rotated["userId"] == reader and rotated["token"] != old
        r = api.post("/v1/recent")
        assert (r.status_code, r.json()) == UNAUTHORIZED  # the old token died with the rotation
    with client(srv, rotated["token"]) as api:
        assert api.post("/v1/recent").status_code == 200
        r = api.post("/v1/remember", json={"content": "The replacement of a reader is still a reader"})
        assert (r.status_code, r.json()) == (403, {"error": "read-only token"})
        scopes = {t["scope"] for t in api.get("/v1/me/tokens").json()["tokens"] if not t["revoked"]}
    assert scopes == {"read_only"}


def test_a_foreign_origin_preflight_gets_no_allow_header(srv: RunningServer) -> None:
    with srv.client() as api:
        r = api.options(
            "/v1/search",
            headers={
                "origin": EVIL,
                "access-control-request-method": "POST",
                "access-control-request-headers": "authorization, content-type",
            },
        )
        assert r.status_code == 204 and r.content == b""
        assert [h for h in r.headers if h.lower().startswith("access-control-allow-")] == []
        assert "origin" in [v.strip().lower() for v in r.headers.get("vary", "").split(",")]
        allowed = api.options("/v1/search", headers={"origin": APP, "access-control-request-method": "POST"})
        assert allowed.status_code == 204 and allowed.headers["access-control-allow-origin"] == APP


def test_every_non_empty_export_page_names_its_last_entry(srv: RunningServer) -> None:
    owner = add_user(srv, "status-exporter")
    with client(srv, mint(srv, owner)) as api:
        stored = []
        for i in range(5):
            r = api.post("/v1/remember", json={"content": f"Export paging fact number {i} is worth keeping"})
            assert r.status_code == 201, r.text
            stored.append(r.json()["id"])
        seen: list[str] = []
        after: str | None = None
        while True:
            page = api.get("/v1/me/export", params={"limit": 2, **({"afterId": after} if after else {})}).json()
            if not page["entries"]:
                assert page["nextAfterId"] is None
                break
            ids = [e["id"] for e in page["entries"]]
            assert page["nextAfterId"] == ids[-1], page
            seen += ids
            after = page["nextAfterId"]
    assert seen == sorted(stored)
    # a last, short page names its last entry too (the client learns the end from the empty page)
    with client(srv, mint(srv, owner)) as api:
        page = api.get("/v1/me/export", params={"limit": 10}).json()
    assert page["nextAfterId"] == sorted(stored)[-1]
