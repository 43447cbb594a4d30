"""The exact error strings of the `/v1` contract, over HTTP against a real user-mode server.

Clients branch on `error`; extra help the server adds travels in `detail`, never in `error`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.conftest import RunningServer, start_server
from tests.http.identity_helpers import add_user, as_token, mint, start_user_server

OWNER, MEMBER, OUTSIDER, ADMIN = (
    "owner@errors.test",
    "member@errors.test",
    "outsider@errors.test",
    "admin@errors.test",
)


@pytest.fixture(scope="module")
def srv(make_database: Callable[[], str]) -> Iterator[RunningServer]:
    running = start_user_server(make_database())
    running.ids = {  # type: ignore[attr-defined]
        "owner": add_user(running, OWNER),
        "member": add_user(running, MEMBER),
        "outsider": add_user(running, OUTSIDER),
        "admin": add_user(running, ADMIN, role="admin"),
    }
    running.tokens = {name: mint(running, email) for name, email in _EMAILS.items()}  # type: ignore[attr-defined]
    yield running
    running.stop()


_EMAILS = {"owner": OWNER, "member": MEMBER, "outsider": OUTSIDER, "admin": ADMIN}


@pytest.fixture
def client(srv: RunningServer) -> Iterator[Callable[[str], httpx.Client]]:
    """Opens a client with the named user's token; all are closed after the test."""
    with contextlib.ExitStack() as stack:
        yield lambda name: stack.enter_context(as_token(srv, srv.tokens[name]))  # type: ignore[attr-defined]


def refused(response: httpx.Response, status: int, error: str) -> dict[str, object]:
    """The response is `status` with exactly `error` (and nothing but known envelope fields beside it)."""
    body = response.json()
    assert (response.status_code, body.get("error")) == (status, error), response.text
    assert set(body) <= {"error", "detail", "code", "issues"}, body
    return dict(body)


def test_project_routes_answer_the_contract_strings(srv: RunningServer, client: Callable[[str], httpx.Client]) -> None:
    owner, member, outsider = client("owner"), client("member"), client("outsider")
    pid = owner.post("/v1/me/projects", json={"name": "errors-project"}).json()["id"]
    members = f"/v1/me/projects/{pid}/members"

    body = refused(owner.get("/v1/me/projects/01NOSUCHPROJECT00000000000/members"), 404, "unknown project")
    assert body["detail"] == "no such project '01NOSUCHPROJECT00000000000' — call project_list to see ids"
    refused(owner.delete("/v1/me/projects/no-such-name"), 404, "unknown project")
    body = refused(outsider.get(members), 403, "not a member of this project")
    assert body["detail"] == f"not a member of project '{pid}' (id {pid})"
    refused(outsider.post(members, json={"username": MEMBER}), 403, "not a member of this project")

    body = refused(owner.post(members, json={"username": "nobody@errors.test"}), 404, "unknown user")
    assert body["detail"] == "unknown user 'nobody@errors.test' — share by exact email address"
    assert owner.post(members, json={"username": MEMBER}).status_code == 201
    refused(owner.post(members, json={"username": MEMBER}), 409, "user is already a member")

    refused(owner.delete(f"{members}/{srv.ids['outsider']}"), 404, "user is not a member")  # type: ignore[attr-defined]
    refused(owner.delete(f"{members}/{srv.ids['owner']}"), 400, "owner cannot leave; delete the project instead")  # type: ignore[attr-defined]
    refused(member.post(members, json={"username": OUTSIDER}), 403, "only the owner can add members")
    refused(member.delete(f"/v1/me/projects/{pid}"), 403, "only the owner can delete a project")
    assert member.delete(f"{members}/{srv.ids['member']}").json() == {"removed": True}  # type: ignore[attr-defined]
    refused(member.get(members), 403, "not a member of this project")

    # the data plane's project parameter keeps the reference's longer strings
    r = owner.post("/v1/search", json={"query": "anything", "project": "no-such-name"})
    refused(r, 404, "no such project 'no-such-name' — call project_list to see ids")
    r = outsider.post("/v1/search", json={"query": "anything", "project": pid})
    refused(r, 403, f"not a member of project '{pid}' (id {pid})")


def test_admin_and_token_routes_answer_the_contract_strings(
    srv: RunningServer, client: Callable[[str], httpx.Client]
) -> None:
    admin, user = client("admin"), client("owner")
    me = srv.ids["admin"]  # type: ignore[attr-defined]
    body = refused(admin.delete(f"/v1/admin/users/{me}"), 400, "admins cannot delete themselves")
    assert body["code"] == "YOU_CANNOT_REMOVE_YOURSELF"
    refused(admin.delete(f"/v1/admin/users/{me}?dryRun=true"), 400, "admins cannot delete themselves")
    refused(admin.delete("/v1/admin/users/01NOSUCHUSER00000000000000"), 404, "no such user")
    quota = {"maxEntries": 1, "writesPerMinute": None}
    refused(admin.put("/v1/admin/users/01NOSUCHUSER00000000000000/quota", json=quota), 404, "no such user")
    r = admin.post("/v1/admin/users", json={"email": OWNER, "password": "correct horse battery"})
    refused(r, 409, "User already exists")

    refused(user.get("/v1/admin/users"), 403, "admin only")
    with srv.client() as anonymous:
        refused(anonymous.get("/v1/admin/users"), 401, "unauthorized")
        refused(anonymous.post("/v1/search", json={"query": "x"}), 401, "unauthorized")
    refused(user.delete("/v1/me/tokens/" + "0" * 64), 404, "token not found")
    r = user.put("/v1/memories/01NOSUCHMEMORY000000000000", json={"content": "a replacement that goes nowhere"})
    refused(r, 404, "no such memory in your scope")


def test_restricted_tokens_answer_the_contract_strings(srv: RunningServer) -> None:
    read_only = mint(srv, OWNER, "--scope", "read_only")
    with as_token(srv, read_only) as c:
        refused(
            c.post("/v1/remember", json={"content": "A read-only token may not write this"}), 403, "read-only token"
        )
        refused(c.post("/v1/me/tokens", json={"label": "escalate"}), 403, "restricted token")
        refused(c.get("/v1/admin/users"), 403, "restricted token")


@pytest.mark.parametrize("mode", ["bearer", "none"])
def test_provisioning_without_accounts_answers_user_auth_not_enabled(
    make_database: Callable[[], str], mode: str
) -> None:
    shared = "a-shared-token-for-the-error-contract-0123456789"
    env = {"auth_token": shared} if mode == "bearer" else {}
    running = start_server(make_database(), auth_mode=mode, jobs_enabled=False, embeddings_provider="none", **env)
    try:
        with running.client(headers={"authorization": f"Bearer {shared}"}) as c:
            r = c.post("/v1/admin/users", json={"email": "new@errors.test", "password": "correct horse battery"})
            refused(r, 404, "user auth not enabled")
            # OpenAPI lists what this server can serve: no provisioning without accounts
            assert "/v1/admin/users" not in c.get("/openapi.json").json()["paths"]
    finally:
        running.stop()
