"""Projects against a real user-mode server: create, list, delete with cascade, members by exact email,
member removal taking effect on the next request, and the active project as the default scope."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.conftest import RunningServer
from tests.http.identity_helpers import add_user, as_token, error, mint, start_user_server

OWNER, MEMBER, OUTSIDER, FOREIGN = (
    "olga@projects.test",
    "Mike.Member@projects.test",
    "otto@projects.test",
    "fay@other.test",
)


@pytest.fixture(scope="module")
def srv(make_database: Callable[[], str]) -> Iterator[RunningServer]:
    running = start_user_server(make_database())
    running.ids = {  # type: ignore[attr-defined]
        "owner": add_user(running, OWNER),
        "member": add_user(running, MEMBER),
        "outsider": add_user(running, OUTSIDER),
        "foreign": add_user(running, FOREIGN, tenant="other"),
    }
    running.tokens = {  # type: ignore[attr-defined]
        "owner": mint(running, OWNER),
        "member": mint(running, MEMBER),
        "outsider": mint(running, OUTSIDER),
        "foreign": mint(running, FOREIGN, tenant="other"),
    }
    yield running
    running.stop()


@pytest.fixture
def owner(srv: RunningServer) -> Iterator[httpx.Client]:
    with as_token(srv, srv.tokens["owner"]) as c:  # type: ignore[attr-defined]
        yield c


@pytest.fixture
def member(srv: RunningServer) -> Iterator[httpx.Client]:
    with as_token(srv, srv.tokens["member"]) as c:  # type: ignore[attr-defined]
        yield c


@pytest.fixture
def outsider(srv: RunningServer) -> Iterator[httpx.Client]:
    with as_token(srv, srv.tokens["outsider"]) as c:  # type: ignore[attr-defined]
        yield c


def new_project(c: httpx.Client, name: str) -> str:
    r = c.post("/v1/me/projects", json={"name": name})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def audit(srv: RunningServer, action: str, target: str) -> list[tuple[object, ...]]:
    return srv.sql(
        "SELECT actor_user_id, metadata FROM admin_audit_log WHERE action = %s AND target = %s", (action, target)
    )


def no_such(ref: str) -> str:
    return f"no such project '{ref}' — call project_list to see ids"


def test_create_and_list(srv: RunningServer, owner: httpx.Client, member: httpx.Client) -> None:
    created = owner.post("/v1/me/projects", json={"name": "  Ｒｏｃｋｅｔ  lab "})
    assert created.status_code == 201
    body = created.json()
    assert set(body) == {"id", "name", "role", "ownerUserId", "createdAt"}
    assert (body["name"], body["role"], body["ownerUserId"]) == ("Rocket  lab", "owner", srv.ids["owner"])  # type: ignore[attr-defined]
    mine = owner.get("/v1/me/projects").json()["projects"]
    assert body in mine
    assert body["id"] not in [p["id"] for p in member.get("/v1/me/projects").json()["projects"]]
    assert audit(srv, "project.create", body["id"]) == [(srv.ids["owner"], {"name": "Rocket  lab"})]  # type: ignore[attr-defined]
    # names need not be unique
    assert owner.post("/v1/me/projects", json={"name": "Rocket  lab"}).status_code == 201


@pytest.mark.parametrize("name", ["", "   ", "x" * 129, "tab\there", 7, None])
def test_create_rejects_bad_names(owner: httpx.Client, name: object) -> None:
    before = len(owner.get("/v1/me/projects").json()["projects"])
    r = owner.post("/v1/me/projects", json={"name": name})
    assert r.status_code == 400 and error(r) == "invalid request body"
    assert len(owner.get("/v1/me/projects").json()["projects"]) == before


def test_members_by_exact_email(srv: RunningServer, owner: httpx.Client, member: httpx.Client) -> None:
    pid = new_project(owner, "members")
    # the display name is never a way in, and neither is a partial address
    for username in ["display Mike.Member", "Mike.Member", "projects.test", "%@projects.test", FOREIGN]:
        r = owner.post(f"/v1/me/projects/{pid}/members", json={"username": username})
        assert r.status_code == 404 and error(r) == "unknown user", username
        assert r.json()["detail"] == f"unknown user '{username}' — share by exact email address"
    added = owner.post(f"/v1/me/projects/{pid}/members", json={"username": MEMBER.lower()})
    assert added.status_code == 201
    assert added.json() == {"added": True, "userId": srv.ids["member"], "username": MEMBER}  # type: ignore[attr-defined]
    again = owner.post(f"/v1/me/projects/{pid}/members", json={"username": MEMBER})
    assert again.status_code == 409 and error(again) == "user is already a member"
    listed = member.get(f"/v1/me/projects/{pid}/members").json()["members"]
    assert [(m["userId"], m["username"], m["role"]) for m in listed] == [
        (srv.ids["owner"], OWNER, "owner"),  # type: ignore[attr-defined]
        (srv.ids["member"], MEMBER, "member"),  # type: ignore[attr-defined]
    ]
    assert all(set(m) == {"userId", "username", "role", "joinedAt"} for m in listed)
    assert [p["role"] for p in member.get("/v1/me/projects").json()["projects"] if p["id"] == pid] == ["member"]
    meta = audit(srv, "project.member.add", pid)
    assert meta == [(srv.ids["owner"], {"userId": srv.ids["member"], "role": "member"})]  # type: ignore[attr-defined]
    # a member cannot add anyone
    r = member.post(f"/v1/me/projects/{pid}/members", json={"username": OUTSIDER})
    assert r.status_code == 403 and error(r) == "only the owner can add members"
    assert owner.post(f"/v1/me/projects/{pid}/members", json={"username": ""}).status_code == 400
    assert owner.post(f"/v1/me/projects/{pid}/members", json={"username": OUTSIDER, "role": "boss"}).status_code == 400


def test_non_members_see_nothing(srv: RunningServer, owner: httpx.Client, outsider: httpx.Client) -> None:
    pid = new_project(owner, "secret-plans")
    r = outsider.get(f"/v1/me/projects/{pid}/members")
    assert r.status_code == 403 and error(r) == "not a member of this project"
    assert r.json()["detail"] == f"not a member of project '{pid}' (id {pid})"
    # by name, the project is not even visible to a non-member
    r = outsider.get("/v1/me/projects/secret-plans/members")
    assert r.status_code == 404 and error(r) == "unknown project"
    assert r.json()["detail"] == no_such("secret-plans")
    r = outsider.delete(f"/v1/me/projects/{pid}")
    assert r.status_code == 403
    r = outsider.post("/v1/remember", json={"content": "An outsider writes into the secret project", "project": pid})
    assert r.status_code == 403
    with as_token(srv, srv.tokens["foreign"]) as foreign:  # type: ignore[attr-defined]
        # another tenant's project id behaves exactly like one that does not exist
        r = foreign.get(f"/v1/me/projects/{pid}/members")
        assert r.status_code == 404 and error(r) == "unknown project"
        for r in [
            foreign.put("/v1/me/active-project", json={"project": pid}),
            foreign.post("/v1/search", json={"query": "plans", "project": pid}),
        ]:
            assert r.status_code == 404 and error(r) == no_such(pid)
    assert owner.get("/v1/me/projects/no-such/members").status_code == 404


def test_members_read_and_write_project_entries(owner: httpx.Client, member: httpx.Client) -> None:
    pid = new_project(owner, "shared-notes")
    owner.post(f"/v1/me/projects/{pid}/members", json={"username": MEMBER})
    mine = owner.post("/v1/remember", json={"content": "The release train leaves every second Tuesday", "project": pid})
    theirs = member.post(
        "/v1/remember",
        json={"content": "Hotfixes skip the release train with two approvals", "project": "shared-notes"},
    )
    assert mine.status_code == theirs.status_code == 201
    for c in (owner, member):
        hits = c.post("/v1/search", json={"query": "release train", "project": pid}).json()["results"]
        assert {h["id"] for h in hits} == {mine.json()["id"], theirs.json()["id"]}
    changed = member.put(
        f"/v1/memories/{mine.json()['id']}", json={"content": "The release train leaves every Tuesday"}
    )
    assert changed.status_code == 200


def test_member_removal_cuts_access_on_the_next_request(srv: RunningServer, owner: httpx.Client) -> None:
    pid = new_project(owner, "removal")
    owner.post(f"/v1/me/projects/{pid}/members", json={"username": MEMBER})
    stored = owner.post(
        "/v1/remember", json={"content": "The removal project's deploy key rotates monthly", "project": pid}
    )
    with as_token(srv, srv.tokens["member"]) as member:  # type: ignore[attr-defined]
        confined = member.post("/v1/me/tokens", json={"project": pid}).json()["token"]
        member.put("/v1/me/active-project", json={"project": pid})
    with as_token(srv, confined) as c:
        hits = c.post("/v1/search", json={"query": "deploy key rotates"}).json()["results"]
        assert [h["id"] for h in hits] == [stored.json()["id"]]

    removed = owner.delete(f"/v1/me/projects/{pid}/members/{srv.ids['member']}")  # type: ignore[attr-defined]
    assert removed.status_code == 200 and removed.json() == {"removed": True}
    assert audit(srv, "project.member.remove", pid) == [(srv.ids["owner"], {"userId": srv.ids["member"]})]  # type: ignore[attr-defined]

    with as_token(srv, confined) as c:
        for method, path, body in [
            ("POST", "/v1/search", {"query": "deploy key"}),
            ("POST", "/v1/remember", {"content": "Written after the removal by a confined token"}),
            ("GET", "/v1/me/tokens", None),
        ]:
            r = c.request(method, path, json=body)
            assert r.status_code == 403 and error(r) == "not a member of the token's project", path
    with as_token(srv, srv.tokens["member"]) as member:  # type: ignore[attr-defined]
        r = member.post("/v1/search", json={"query": "deploy key", "project": pid})
        assert r.status_code == 403 and error(r) == f"not a member of project '{pid}' (id {pid})"
        assert stored.json()["id"] not in [
            h["id"] for h in member.post("/v1/search", json={"query": "deploy key"}).json()["results"]
        ]
        assert member.get("/v1/me/active-project").json() == {"active": None}
    assert owner.delete(f"/v1/me/projects/{pid}/members/{srv.ids['member']}").status_code == 404  # type: ignore[attr-defined]


def test_leaving_and_the_owner_who_cannot(srv: RunningServer, owner: httpx.Client, member: httpx.Client) -> None:
    pid = new_project(owner, "leaving")
    owner.post(f"/v1/me/projects/{pid}/members", json={"username": MEMBER})
    owner.post(f"/v1/me/projects/{pid}/members", json={"username": OUTSIDER})
    r = owner.delete(f"/v1/me/projects/{pid}/members/{srv.ids['owner']}")  # type: ignore[attr-defined]
    assert r.status_code == 400 and error(r) == "owner cannot leave; delete the project instead"
    r = member.delete(f"/v1/me/projects/{pid}/members/{srv.ids['outsider']}")  # type: ignore[attr-defined]
    assert r.status_code == 403 and error(r) == "only the owner can remove other members"
    r = member.delete(f"/v1/me/projects/{pid}/members/{srv.ids['owner']}")  # type: ignore[attr-defined]
    assert r.status_code == 403
    assert member.delete(f"/v1/me/projects/{pid}/members/{srv.ids['member']}").json() == {"removed": True}  # type: ignore[attr-defined]
    users = [m["userId"] for m in owner.get(f"/v1/me/projects/{pid}/members").json()["members"]]
    assert users == [srv.ids["owner"], srv.ids["outsider"]]  # type: ignore[attr-defined]


def test_delete_is_owner_only_and_cascades(srv: RunningServer, owner: httpx.Client, member: httpx.Client) -> None:
    pid = new_project(owner, "doomed")
    owner.post(f"/v1/me/projects/{pid}/members", json={"username": MEMBER})
    ids = [
        owner.post(
            "/v1/remember",
            json={
                "content": f"Doomed fact number {i} about the data pipeline",
                "project": pid,
                "sourceRefs": [f"doc:{i}"],
            },
        ).json()["id"]
        for i in range(3)
    ]
    keep = owner.post("/v1/remember", json={"content": "A user-global fact that must survive the project"}).json()["id"]
    confined = owner.post("/v1/me/tokens", json={"project": pid}).json()["token"]
    r = member.delete(f"/v1/me/projects/{pid}")
    assert r.status_code == 403 and error(r) == "only the owner can delete a project"

    deleted = owner.delete("/v1/me/projects/doomed")  # by name
    assert deleted.status_code == 200
    assert deleted.json() == {"deleted": True, "entriesRemoved": 3, "coldCollectionsDropped": [], "graphCleared": True}
    assert srv.sql("SELECT count(*) FROM memory_entries WHERE id = ANY(%s)", (ids,)) == [(0,)]
    assert srv.sql("SELECT count(*) FROM memory_source_refs WHERE entry_id = ANY(%s)", (ids,)) == [(0,)]
    assert srv.sql("SELECT count(*) FROM memory_relations WHERE from_id = ANY(%s) OR to_id = ANY(%s)", (ids, ids)) == [
        (0,)
    ]
    assert srv.sql("SELECT count(*) FROM project_members WHERE project_id = %s", (pid,)) == [(0,)]
    assert srv.sql("SELECT count(*) FROM memory_entries WHERE id = %s", (keep,)) == [(1,)]
    assert pid not in [p["id"] for p in member.get("/v1/me/projects").json()["projects"]]
    meta = audit(srv, "project.delete", pid)
    assert meta == [(srv.ids["owner"], {"name": "doomed", "entriesRemoved": 3})]  # type: ignore[attr-defined]
    with as_token(srv, confined) as c:
        assert c.post("/v1/search", json={"query": "pipeline"}).status_code == 401
    r = owner.delete(f"/v1/me/projects/{pid}")
    assert r.status_code == 404 and error(r) == "unknown project"


def test_active_project_is_the_default_for_reads_and_writes(
    srv: RunningServer, owner: httpx.Client, outsider: httpx.Client
) -> None:
    pid = new_project(owner, "active-one")
    glob = owner.post("/v1/remember", json={"content": "Olga prefers dark mode in every editor"}).json()["id"]
    assert owner.get("/v1/me/active-project").json() == {"active": None}

    chosen = owner.put("/v1/me/active-project", json={"project": "active-one"})
    assert chosen.status_code == 200 and chosen.json() == {"active": {"id": pid}}
    assert owner.get("/v1/me/active-project").json() == {"active": {"id": pid, "name": "active-one"}}
    written = owner.post("/v1/remember", json={"content": "The active project's CI runs on self-hosted runners"})
    assert srv.sql("SELECT project_id FROM memory_entries WHERE id = %s", (written.json()["id"],)) == [(pid,)]
    hits = {
        h["id"]
        for h in owner.post("/v1/search", json={"query": "dark mode editor CI self-hosted runners"}).json()["results"]
    }
    assert {glob, written.json()["id"]} <= hits  # user-global + the active project

    cleared = owner.delete("/v1/me/active-project")
    assert cleared.status_code == 204 and cleared.content == b""
    assert owner.get("/v1/me/active-project").json() == {"active": None}
    later = owner.post("/v1/remember", json={"content": "After clearing, writes are user-global again"})
    assert srv.sql("SELECT project_id FROM memory_entries WHERE id = %s", (later.json()["id"],)) == [(None,)]

    r = outsider.put("/v1/me/active-project", json={"project": pid})
    assert r.status_code == 403 and error(r) == f"not a member of project '{pid}' (id {pid})"
    r = owner.put("/v1/me/active-project", json={"project": "nothing-like-it"})
    assert r.status_code == 404 and error(r) == no_such("nothing-like-it")
    assert owner.put("/v1/me/active-project", json={}).status_code == 400


def test_a_stale_active_project_is_cleared_on_read(srv: RunningServer, owner: httpx.Client) -> None:
    pid = new_project(owner, "short-lived")
    owner.put("/v1/me/active-project", json={"project": pid})
    # the pointer survives a project that disappears without the service's clean-up
    srv.sql("DELETE FROM memory_entries WHERE project_id = %s", (pid,))
    srv.sql("DELETE FROM projects WHERE id = %s", (pid,))
    srv.sql(
        "INSERT INTO user_active_project (user_id, tenant_id, project_id) VALUES (%s, 'default', %s)"
        " ON CONFLICT (user_id) DO UPDATE SET project_id = EXCLUDED.project_id",
        (srv.ids["owner"], pid),  # type: ignore[attr-defined]
    )
    stored = owner.post("/v1/remember", json={"content": "Written while the active pointer is stale"})
    assert stored.status_code == 201  # a stale pointer is ignored, writes stay user-global
    assert owner.get("/v1/me/active-project").json() == {"active": None}
    assert srv.sql("SELECT count(*) FROM user_active_project WHERE user_id = %s", (srv.ids["owner"],)) == [(0,)]  # type: ignore[attr-defined]


def test_ids_and_names_both_reference_projects(owner: httpx.Client) -> None:
    pid = new_project(owner, "by-name")
    by_id = owner.get(f"/v1/me/projects/{pid}/members").json()
    by_name = owner.get("/v1/me/projects/by-name/members").json()
    assert by_id == by_name and len(by_id["members"]) == 1


def test_routes_need_a_user(srv: RunningServer, server: RunningServer) -> None:
    with srv.client() as anonymous:
        for method, path in [("GET", "/v1/me/projects"), ("POST", "/v1/me/projects"), ("GET", "/v1/me/active-project")]:
            r = anonymous.request(method, path, json={"name": "x"} if method == "POST" else None)
            assert r.status_code == 401 and r.json() == {"error": "unauthorized"}
    with server.client() as none_mode:  # outside account modes the routes do not exist
        r = none_mode.get("/v1/me/projects")
        assert r.status_code == 404 and r.json()["error"] == "Not Found"


def test_the_account_routes_are_documented_in_user_mode(srv: RunningServer) -> None:
    with srv.client() as anonymous:
        paths = anonymous.get("/openapi.json").json()["paths"]
    assert {"get", "post"} <= set(paths["/v1/me/projects"])
    assert {"get", "put", "delete"} <= set(paths["/v1/me/active-project"])
    assert "delete" in paths["/v1/me/projects/{project}/members/{user_id}"]
    assert {"get", "post"} <= set(paths["/v1/me/tokens"])
    assert "post" in paths["/v1/auth/rotate-token"] and "post" in paths["/v1/admin/tokens/revoke"]


def feed(c: httpx.Client, after: int = 0) -> list[dict[str, object]]:
    r = c.get("/v1/me/changes", params={"limit": 500, "afterSeq": after})
    assert r.status_code == 200, r.text
    return list(r.json()["changes"])


def last_seq(c: httpx.Client) -> int:
    return max([int(str(row["seq"])) for row in feed(c)], default=0)


def test_a_deleted_project_tells_every_member_feed_each_memory_is_gone(
    srv: RunningServer, owner: httpx.Client, member: httpx.Client, outsider: httpx.Client
) -> None:
    pid = new_project(owner, "mirrored")
    owner.post(f"/v1/me/projects/{pid}/members", json={"username": MEMBER})
    ids = {
        owner.post(
            "/v1/remember", json={"content": "The mirrored project's broker runs on port 5672", "project": pid}
        ).json()["id"],
        member.post(
            "/v1/remember", json={"content": "The mirrored project's queue is drained nightly", "project": pid}
        ).json()["id"],
    }
    mine = member.post("/v1/remember", json={"content": "My own note: the dentist is on Friday"}).json()["id"]
    marks = {name: last_seq(c) for name, c in (("owner", owner), ("member", member), ("outsider", outsider))}
    # a mirroring member has seen both memories arrive
    assert {(r["entryId"], r["change"]) for r in feed(member) if r["projectId"] == pid} == {(i, "created") for i in ids}

    assert owner.delete(f"/v1/me/projects/{pid}").json()["entriesRemoved"] == 2
    for name, c in (("owner", owner), ("member", member)):
        told = [(r["entryId"], r["projectId"], r["change"], r["detail"]) for r in feed(c, marks[name])]
        assert sorted(told, key=str) == sorted(
            [(i, pid, "deleted", {"reason": "project_deleted"}) for i in ids], key=str
        ), name
    assert feed(outsider, marks["outsider"]) == []
    # the member's own memory is untouched, and a project-confined token reads no rows about other projects
    assert mine not in {r["entryId"] for r in feed(member, marks["member"])}
    with as_token(
        srv, member.post("/v1/me/tokens", json={"project": new_project(member, "elsewhere")}).json()["token"]
    ) as c:
        assert [r for r in feed(c) if r["projectId"] == pid] == []


def test_a_removed_member_is_told_the_project_memories_are_gone_for_them_only(
    srv: RunningServer, owner: httpx.Client, member: httpx.Client
) -> None:
    pid = new_project(owner, "left-behind")
    owner.post(f"/v1/me/projects/{pid}/members", json={"username": MEMBER})
    kept = owner.post("/v1/remember", json={"content": "The left-behind project ships on Mondays", "project": pid})
    kept_id = kept.json()["id"]
    before = {"owner": last_seq(owner), "member": last_seq(member)}

    removed = owner.delete(f"/v1/me/projects/{pid}/members/{srv.ids['member']}")  # type: ignore[attr-defined]
    assert removed.json() == {"removed": True}
    told = [(r["entryId"], r["projectId"], r["change"], r["detail"]) for r in feed(member, before["member"])]
    assert told == [(kept_id, pid, "deleted", {"reason": "member_removed"})]
    # the owner still has the memory, and their feed says nothing happened to it
    assert feed(owner, before["owner"]) == []
    hits = owner.post("/v1/search", json={"query": "ships on Mondays", "project": pid}).json()["results"]
    assert [h["id"] for h in hits] == [kept_id]
    # joining again shows the project's rows again, the removal notice stays in the member's history
    owner.post(f"/v1/me/projects/{pid}/members", json={"username": MEMBER})
    rows = [(r["entryId"], r["change"]) for r in feed(member) if r["projectId"] == pid]
    assert rows == [(kept_id, "created"), (kept_id, "deleted")]
