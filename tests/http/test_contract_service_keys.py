"""Contract: on-behalf-of service keys (`/v1/admin/service-keys`, reference 3.7 and 8.4), over HTTP only.

Two replicas share one database. The admin registers keys (201 with the stored key), lists them (newest first,
revoked ones included) and revokes them (`{revoked:true}`; a second revoke answers 404); every bad field answers
the validation envelope; the admin gate answers as on every admin route; registering and revoking are audited;
and a revoked key's tokens are refused with the uniform 401 on the very next request, on both replicas.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer
from tests.http.obo import UNAUTHORIZED, Admin, b64url, bearer, mint, new_key, settle_admin, start

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
KEY_FIELDS = {"id", "name", "organizationId", "publicKey", "createdAt", "revokedAt"}
ROUTE = "/v1/admin/service-keys"
IDENTITY_DOC = Path(__file__).resolve().parents[2] / "docs" / "identity.md"


@pytest.fixture(scope="module")
def pair(make_database: Callable[[], str]) -> Iterator[tuple[RunningServer, RunningServer]]:
    url = make_database()
    overrides = {"embeddings_provider": "none", "cookie_secret": "Zq8vT3kW6nB1xZ4rJ7pL0dH5sF2gC9yA"}
    first = start(url, **overrides)
    second = start(url, **overrides)
    yield first, second
    second.stop()
    first.stop()


@pytest.fixture(scope="module")
def srv(pair: tuple[RunningServer, RunningServer]) -> RunningServer:
    return pair[0]


@pytest.fixture(scope="module")
def admin(srv: RunningServer) -> Admin:
    return settle_admin(srv)


def _issues(response: httpx.Response) -> list[str]:
    """The issue paths of a validation refusal (400 `invalid request body`)."""
    body = response.json()
    assert (response.status_code, body["error"]) == (400, "invalid request body"), response.text
    return [issue["path"] for issue in body["issues"]]


def test_register_answers_the_stored_key(srv: RunningServer, admin: Admin) -> None:
    _, public = new_key()
    with admin.client(srv) as api:
        r = api.post(ROUTE, json={"name": "Atlas prod", "organizationId": "acme.eu-1", "publicKey": public})
    assert r.status_code == 201, r.text
    key = r.json()
    assert set(key) == KEY_FIELDS
    assert (key["name"], key["organizationId"], key["publicKey"], key["revokedAt"]) == (
        "Atlas prod",
        "acme.eu-1",
        public,
        None,
    )
    assert key["id"] and ISO.match(key["createdAt"])


def test_a_padded_public_key_is_stored_unpadded(srv: RunningServer, admin: Admin) -> None:
    _, public = new_key()
    with admin.client(srv) as api:
        r = api.post(ROUTE, json={"name": "padded", "organizationId": "acme", "publicKey": public + "="})
    assert r.status_code == 201, r.text
    assert r.json()["publicKey"] == public


def test_list_is_newest_first_and_keeps_revoked_keys(srv: RunningServer, admin: Admin) -> None:
    with admin.client(srv) as api:
        ids = []
        for n in range(3):
            r = api.post(ROUTE, json={"name": f"listed {n}", "organizationId": "listing", "publicKey": new_key()[1]})
            ids.append(r.json()["id"])
        assert api.delete(f"{ROUTE}/{ids[0]}").json() == {"revoked": True}
        listed = api.get(ROUTE)
    assert listed.status_code == 200 and set(listed.json()) == {"keys"}
    keys = [k for k in listed.json()["keys"] if k["id"] in ids]
    assert [k["id"] for k in keys] == ids[::-1]
    for key in listed.json()["keys"]:
        assert set(key) == KEY_FIELDS
    assert keys[-1]["revokedAt"] is not None and ISO.match(keys[-1]["revokedAt"])
    assert keys[0]["revokedAt"] is None
    created = [k["createdAt"] for k in listed.json()["keys"]]
    assert created == sorted(created, reverse=True)


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"name": "", "organizationId": "acme"}, "name"),
        ({"name": "x" * 129, "organizationId": "acme"}, "name"),
        ({"name": 7, "organizationId": "acme"}, "name"),
        ({"organizationId": "acme"}, "name"),
        ({"name": "k", "organizationId": "default"}, "organizationId"),
        ({"name": "k", "organizationId": "-acme"}, "organizationId"),
        ({"name": "k", "organizationId": "acme/eu"}, "organizationId"),
        ({"name": "k", "organizationId": "a" * 65}, "organizationId"),
        ({"name": "k", "organizationId": ""}, "organizationId"),
        ({"name": "k"}, "organizationId"),
        ({"name": "k", "organizationId": "acme", "publicKey": b64url(b"\x01" * 31)}, "publicKey"),
        ({"name": "k", "organizationId": "acme", "publicKey": b64url(b"\x01" * 33)}, "publicKey"),
        ({"name": "k", "organizationId": "acme", "publicKey": "+/" * 21 + "AA"}, "publicKey"),
        ({"name": "k", "organizationId": "acme", "publicKey": "not a key"}, "publicKey"),
        ({"name": "k", "organizationId": "acme", "publicKey": ""}, "publicKey"),
        ({"name": "k", "organizationId": "acme", "publicKey": None}, "publicKey"),
    ],
)
def test_bad_fields_answer_the_validation_envelope(
    srv: RunningServer, admin: Admin, body: dict[str, object], path: str
) -> None:
    payload = {"publicKey": new_key()[1], **body}
    with admin.client(srv) as api:
        assert path in _issues(api.post(ROUTE, json=payload))


def test_the_default_organization_is_refused(srv: RunningServer, admin: Admin) -> None:
    with admin.client(srv) as api:
        r = api.post(ROUTE, json={"name": "k", "organizationId": "default", "publicKey": new_key()[1]})
    assert _issues(r) == ["organizationId"]
    assert "default" in r.json()["issues"][0]["message"]


def test_a_body_that_is_not_an_object_is_refused(srv: RunningServer, admin: Admin) -> None:
    with admin.client(srv) as api:
        assert _issues(api.post(ROUTE, json=["name"])) == [""]


def test_the_admin_gate(srv: RunningServer, admin: Admin) -> None:
    _, user_token = admin.create_user(srv, "keyless")
    with admin.client(srv) as api:
        kid = api.post(ROUTE, json={"name": "gated", "organizationId": "gate", "publicKey": new_key()[1]}).json()["id"]
    calls = [("POST", ROUTE, {"name": "x", "organizationId": "gate", "publicKey": new_key()[1]}),
             ("GET", ROUTE, None), ("DELETE", f"{ROUTE}/{kid}", None)]  # fmt: skip
    for method, path, body in calls:
        with srv.client() as anonymous:
            r = anonymous.request(method, path, json=body)
            assert (r.status_code, r.json()) == UNAUTHORIZED, (method, r.text)
        with bearer(srv, "nm_not-a-token") as forged:
            r = forged.request(method, path, json=body)
            assert (r.status_code, r.json()) == UNAUTHORIZED, (method, r.text)
        with bearer(srv, user_token) as user:
            r = user.request(method, path, json=body)
            assert (r.status_code, r.json()["error"]) == (403, "admin only"), (method, r.text)
        with bearer(srv, admin.read_only_token) as reader:
            r = reader.request(method, path, json=body)
            assert (r.status_code, r.json()["error"]) == (403, "restricted token"), (method, r.text)
    with admin.client(srv) as api:
        assert next(k for k in api.get(ROUTE).json()["keys"] if k["id"] == kid)["revokedAt"] is None


def test_the_admin_session_works_too(srv: RunningServer, admin: Admin) -> None:
    with admin.session(srv) as session:
        r = session.post(
            ROUTE, json={"name": "from the dashboard", "organizationId": "dash", "publicKey": new_key()[1]}
        )
        assert r.status_code == 201, r.text
        assert session.get(ROUTE).status_code == 200
        assert session.delete(f"{ROUTE}/{r.json()['id']}").json() == {"revoked": True}


def test_revoke_twice_and_unknown_keys_answer_404(srv: RunningServer, admin: Admin) -> None:
    with admin.client(srv) as api:
        kid = api.post(ROUTE, json={"name": "twice", "organizationId": "acme", "publicKey": new_key()[1]}).json()["id"]
        first = api.delete(f"{ROUTE}/{kid}")
        assert (first.status_code, first.json()) == (200, {"revoked": True})
        again = api.delete(f"{ROUTE}/{kid}")
        assert (again.status_code, again.json()["error"]) == (404, "service key not found")
        unknown = api.delete(f"{ROUTE}/01JNOSUCHKEY000000000000000")
        assert (unknown.status_code, unknown.json()["error"]) == (404, "service key not found")


def test_register_and_revoke_are_audited(srv: RunningServer, admin: Admin) -> None:
    with admin.client(srv) as api:
        kid = api.post(ROUTE, json={"name": "audited", "organizationId": "audit", "publicKey": new_key()[1]}).json()[
            "id"
        ]
        api.delete(f"{ROUTE}/{kid}")
        entries = api.get("/v1/admin/audit-log", params={"limit": 50}).json()["entries"]
    mine = {e["action"]: e for e in entries if e["target"] == kid}
    assert set(mine) == {"admin.service_key.create", "admin.service_key.revoke"}
    assert mine["admin.service_key.create"]["metadata"] == {"name": "audited", "organizationId": "audit"}
    assert mine["admin.service_key.create"]["actorUserId"]


def test_a_revoked_key_stops_working_on_the_next_request_on_every_replica(
    pair: tuple[RunningServer, RunningServer], admin: Admin
) -> None:
    a, b = pair
    private, kid = admin.register_key(a, "revocable")
    token = mint(private, kid, org="revocable", sub="alice")
    for server in pair:  # both replicas accept it, and keep what they resolved
        with bearer(server, token) as api:
            assert api.post("/v1/recent", json={}).status_code == 200
            stored = api.post("/v1/remember", json={"content": f"revocation probe stored via {server.base_url}"})
            assert stored.status_code == 201, stored.text
    with admin.client(b) as api:
        assert api.delete(f"{ROUTE}/{kid}").json() == {"revoked": True}
    for server in pair:
        with bearer(server, token) as api:
            r = api.post("/v1/recent", json={})
            assert (r.status_code, r.json()) == UNAUTHORIZED
            fresh = bearer(server, mint(private, kid, org="revocable", sub="alice"))
            with fresh:
                r = fresh.post("/v1/recent", json={})
                assert (r.status_code, r.json()) == UNAUTHORIZED


def test_the_documented_minting_example_works_as_written(srv: RunningServer, admin: Admin) -> None:
    """docs/identity.md's Python example, run as a platform would: register its `public_key`, then use
    `obo_token` on the data plane. The example is the only code a platform copies, so it must not drift."""
    text = IDENTITY_DOC.read_text(encoding="utf-8")
    section = text[text.index("## On-behalf-of service keys") :]
    example = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert example is not None, "the on-behalf-of section lost its Python example"
    platform: dict[str, Any] = {"__name__": "identity_doc_example"}
    exec(compile(example.group(1), str(IDENTITY_DOC), "exec"), platform)
    with admin.client(srv) as api:
        r = api.post(ROUTE, json={"name": "doc example", "organizationId": "docs", "publicKey": platform["public_key"]})
    assert r.status_code == 201, r.text
    token = platform["obo_token"](r.json()["id"], "docs", "reader-7")
    with bearer(srv, token) as api:
        stored = api.post("/v1/remember", json={"content": "The platform from the identity guide stores this memory"})
        assert stored.status_code == 201, stored.text
        found = api.post("/v1/recent", json={})
        assert found.status_code == 200, found.text
        assert [e["id"] for e in found.json()["results"]] == [stored.json()["id"]]
    # the example's token is bound to the organization it names
    with bearer(srv, platform["obo_token"](r.json()["id"], "another-org", "reader-7")) as api:
        refused = api.post("/v1/recent", json={})
        assert (refused.status_code, refused.json()) == UNAUTHORIZED
