"""The read-only diagnostics over real HTTP: `POST /v1/hygiene` and `POST /v1/evaluate`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from novamem.services.memory.diagnostics import CORE_CASES
from novamem.services.memory.diagnostics_models import EvaluateResponse, HygieneResponse
from tests.conftest import RunningServer
from tests.http.identity_helpers import add_user, as_token, error, mint, start_user_server

JSON = {"content-type": "application/json"}
CONFINED = "token is confined to its project"


def remember(client: httpx.Client, content: str, **extra: Any) -> str:
    r = client.post("/v1/remember", json={"content": content, **extra})
    assert r.status_code == 201, r.text
    entry_id = r.json()["id"]
    assert entry_id, r.text
    return str(entry_id)


def hygiene(client: httpx.Client, body: Any = None) -> dict[str, Any]:
    r = client.post("/v1/hygiene", json=body) if body is not None else client.post("/v1/hygiene")
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    HygieneResponse.model_validate(data)  # the published output schema describes the answer
    return data


def pair_sets(pairs: list[dict[str, Any]]) -> set[frozenset[str]]:
    return {frozenset(p["ids"]) for p in pairs}


def ids_of(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


def snapshot(server: RunningServer) -> list[tuple[Any, ...]]:
    """Everything a read must leave alone: rows, hit counts and the change feed."""
    rows = server.sql(
        "SELECT id, content, namespace, metadata::text, status, updated_at, embedded_at,"
        " EXISTS (SELECT 1 FROM memory_cold c WHERE c.entry_id = e.id) FROM memory_entries e ORDER BY id"
    )
    hits = server.sql("SELECT entry_id, hits, last_accessed FROM memory_access ORDER BY entry_id")
    changes = server.sql("SELECT count(*) FROM memory_changes")
    return [*rows, ("hits", *hits), ("changes", *changes)]


# --------------------------------------------------------------------------------------------------
# Hygiene on the default server (auth none, built-in embedder)


def test_hygiene_flags_each_kind_of_review_candidate(api: httpx.Client, server: RunningServer) -> None:
    dup_a = remember(api, "Staging database backups run nightly at two in the morning", namespace="ops")
    dup_b = remember(api, "The staging database backups run nightly at two in the morning UTC", namespace="ops")
    # the same words in another namespace are not a duplicate of either
    elsewhere = remember(api, "Staging database backups run nightly at two in the morning!", namespace="other")
    short = remember(api, "prefers tabs now", namespace="notes")
    recap = api.post("/v1/session-recap", json={"setupFacts": ["The build server has Node 20 installed"]})
    assert recap.status_code == 201, recap.text
    setup = recap.json()["results"][0]["id"]
    port_old = remember(api, "The API listens on port 7778", namespace="api")
    port_new = remember(api, "The API listens on port 7779", namespace="api")
    orphan = remember(api, "The release checklist lives in the operations wiki", namespace="docs")
    # a vector that is still owed (as after a write while the embedder was down)
    server.sql(
        "UPDATE memory_entries SET embedding = NULL, embedding_model = NULL, embedded_at = NULL WHERE id = %s",
        (orphan,),
    )

    report = hygiene(api, {"k": 20})

    duplicates = pair_sets(report["duplicateClusters"])
    assert frozenset({dup_a, dup_b}) in duplicates
    assert not any(elsewhere in pair for pair in duplicates)
    dup = next(p for p in report["duplicateClusters"] if set(p["ids"]) == {dup_a, dup_b})
    assert dup["reason"] == "high_token_overlap" and dup["namespace"] == "ops" and dup["project"] is None
    assert dup["ids"] == [dup_b, dup_a] and 0.5 <= dup["score"] <= 1  # the more recently updated first
    assert len(dup["snippets"]) == 2

    conflict = [p for p in report["contradictionCandidates"] if set(p["ids"]) == {port_old, port_new}]
    assert len(conflict) == 1 and conflict[0]["ids"] == [port_new, port_old]
    assert conflict[0]["reason"] == "comparable_scalar_conflict"
    assert frozenset({port_old, port_new}) not in duplicates  # a conflict is not listed as redundant

    low = {item["id"]: item for item in report["lowValue"]}
    assert short in low and low[short]["reason"] == "low_worthiness"
    assert low[short]["snippet"] == "prefers tabs now" and low[short]["truncated"] is False
    assert isinstance(low[short]["worthiness"], float)
    assert dup_a not in low and orphan not in low

    stale = {item["id"]: item for item in report["stale"]}
    assert setup in stale
    assert stale[setup]["reason"] == "current_state_review" and stale[setup]["memoryType"] == "setup_fact"
    assert stale[setup]["namespace"] == "current-setup" and stale[setup]["tier"] == "warm"

    assert ids_of(report["orphanCandidates"]) == [orphan]
    assert report["orphanCandidates"][0]["reason"] == "warm_without_cold_vector"

    summary = report["summary"]
    assert summary["scanned"] == 8 and summary["scanLimit"] == 400 and summary["pairScanComplete"] is True
    for key in ("lowValue", "stale", "duplicateClusters", "contradictionCandidates", "orphanCandidates"):
        assert summary[key] == len(report[key]), key


def test_hygiene_caps_each_list_at_k_and_counts_everything(api: httpx.Client) -> None:
    for text in ("short note one", "short note two", "short note six"):
        remember(api, text, namespace=text.replace(" ", "-"))
    report = hygiene(api, {"k": 1})
    assert len(report["lowValue"]) == 1
    assert report["summary"]["lowValue"] == 3
    assert report["summary"]["scanned"] == 3 and report["summary"]["scanLimit"] == 100


def test_hygiene_body_is_optional(api: httpx.Client) -> None:
    remember(api, "A lone memory about the garden shed paint colour")
    for r in (api.post("/v1/hygiene"), api.post("/v1/hygiene", json={})):
        assert r.status_code == 200, r.text
        assert r.json()["summary"]["scanned"] == 1 and r.json()["summary"]["scanLimit"] == 400


def test_hygiene_ignores_inactive_and_expired_entries(api: httpx.Client, server: RunningServer) -> None:
    a = remember(api, "The nightly export job writes parquet files to the archive bucket", namespace="jobs")
    b = remember(api, "The nightly export job writes parquet files to the cold archive bucket", namespace="jobs")
    c = remember(api, "The weekly export job writes parquet files to the archive bucket", namespace="jobs")
    assert pair_sets(hygiene(api)["duplicateClusters"]) >= {frozenset({a, b}), frozenset({a, c})}
    server.sql("UPDATE memory_entries SET status = 'superseded' WHERE id = %s", (a,))
    server.sql("UPDATE memory_entries SET expires_at = now() - interval '1 minute' WHERE id = %s", (b,))
    report = hygiene(api)
    assert report["summary"]["scanned"] == 1
    assert report["duplicateClusters"] == [] and report["contradictionCandidates"] == []
    assert a not in str(report) and b not in str(report)


def test_hygiene_scans_the_most_recently_updated_entries(api: httpx.Client, server: RunningServer) -> None:
    ids = [remember(api, f"Inventory note number {i} about shelf {i} in the warehouse") for i in range(105)]
    # the oldest one is edited last: a scan of k=1 (100 rows) by update time includes it, one by
    # creation time would not
    server.sql("UPDATE memory_entries SET updated_at = now() - interval '1 day' WHERE id <> %s", (ids[0],))
    server.sql(
        "UPDATE memory_entries SET content = 'tiny note', updated_at = now() + interval '1 minute' WHERE id = %s",
        (ids[0],),
    )
    report = hygiene(api, {"k": 1})
    assert report["summary"]["scanned"] == 100
    assert ids_of(report["lowValue"]) == [ids[0]]


# --------------------------------------------------------------------------------------------------
# Evaluate


def test_evaluate_core_passes_every_case(api: httpx.Client) -> None:
    remember(api, "prefers tabs now")
    for r in (
        api.post("/v1/evaluate"),
        api.post("/v1/evaluate", json={}),
        api.post("/v1/evaluate", json={"suite": "core"}),
    ):
        assert r.status_code == 200, r.text
        body = r.json()
        EvaluateResponse.model_validate(body)
        assert body["suite"] == "core" and body["passed"] is True
        assert [case["name"] for case in body["cases"]] == list(CORE_CASES)
        assert all(case["passed"] is True for case in body["cases"]), body["cases"]
        assert body["checks"] == body["cases"]
        assert body["summary"] == {"total": 5, "passed": 5, "failed": 0}
        assert body["hygiene"]["scanned"] == 1 and body["hygiene"]["lowValue"] == 1


def test_evaluate_refuses_an_unknown_suite(api: httpx.Client) -> None:
    r = api.post("/v1/evaluate", json={"suite": "nightly"})
    assert r.status_code == 400
    assert r.json() == {"error": "unknown suite 'nightly' — known suites: core"}


def test_hygiene_and_evaluate_change_nothing(api: httpx.Client, server: RunningServer) -> None:
    remember(api, "Staging database backups run nightly at two in the morning", namespace="ops")
    remember(api, "The staging database backups run nightly at two in the morning UTC", namespace="ops")
    remember(api, "The API listens on port 7778", namespace="api")
    remember(api, "The API listens on port 7779", namespace="api")
    remember(api, "prefers tabs now")
    before = snapshot(server)
    assert api.post("/v1/hygiene", json={"k": 100}).status_code == 200
    assert api.post("/v1/evaluate", json={"suite": "core"}).status_code == 200
    assert snapshot(server) == before
    assert server.sql("SELECT count(*) FROM memory_entries") == [(5,)]


# --------------------------------------------------------------------------------------------------
# Bad input: the contract's envelope, never a 500


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/hygiene", {"k": 0}),
        ("/v1/hygiene", {"k": 101}),
        ("/v1/hygiene", {"k": "5"}),
        ("/v1/hygiene", {"k": 2.5}),
        ("/v1/hygiene", {"k": None}),
        ("/v1/hygiene", {"k": True}),
        ("/v1/hygiene", {"limit": 5}),
        ("/v1/hygiene", {"k": 5, "namespace": "ops"}),
        ("/v1/hygiene", []),
        ("/v1/hygiene", "k"),
        ("/v1/evaluate", {"suite": ""}),
        ("/v1/evaluate", {"suite": "x" * 65}),
        ("/v1/evaluate", {"suite": 5}),
        ("/v1/evaluate", {"suite": None}),
        ("/v1/evaluate", {"suite": "core", "k": 3}),
        ("/v1/evaluate", [1]),
    ],
)
def test_bad_bodies_get_the_validation_envelope(api: httpx.Client, path: str, body: Any) -> None:
    r = api.post(path, json=body)
    assert r.status_code == 400, r.text
    data = r.json()
    assert data["error"] == "invalid request body"
    assert data["issues"] and all(set(issue) == {"path", "message", "code"} for issue in data["issues"])


@pytest.mark.parametrize("path", ["/v1/hygiene", "/v1/evaluate"])
def test_malformed_and_empty_json_bodies(api: httpx.Client, path: str) -> None:
    r = api.post(path, content=b'{"k": ', headers=JSON)
    assert r.status_code == 400 and r.json()["code"] == "FST_ERR_CTP_INVALID_JSON_BODY" and "issues" not in r.json()
    # the body is optional: an empty one is treated like none at all (as on /v1/recent)
    empty, absent = api.post(path, content=b"", headers=JSON), api.post(path)
    assert empty.status_code == absent.status_code == 200
    assert empty.json()["summary"] == absent.json()["summary"]


# --------------------------------------------------------------------------------------------------
# Accounts: isolation and restricted tokens (user mode, no embedder)

ALICE, BOB = "alice@diagnostics.test", "bob@diagnostics.test"


@pytest.fixture(scope="module")
def users(make_database: Callable[[], str]) -> Iterator[tuple[RunningServer, dict[str, str]]]:
    srv = start_user_server(make_database())
    add_user(srv, ALICE)
    add_user(srv, BOB)
    try:
        yield srv, {"alice": mint(srv, ALICE), "bob": mint(srv, BOB)}
    finally:
        srv.stop()


def _pair_in(client: httpx.Client, topic: str, **extra: Any) -> tuple[str, str]:
    first = remember(client, f"The {topic} service keeps its cache warm for ten minutes", **extra)
    second = remember(client, f"The {topic} service keeps its cache warm for ten minutes too", **extra)
    return first, second


def test_hygiene_sees_only_the_callers_memories(users: tuple[RunningServer, dict[str, str]]) -> None:
    srv, tokens = users
    with as_token(srv, tokens["alice"]) as alice, as_token(srv, tokens["bob"]) as bob:
        mine = _pair_in(alice, "quokka")
        bobs = _pair_in(bob, "wombat")
        private = bob.post("/v1/me/projects", json={"name": "bob-private"}).json()["id"]
        shared = bob.post("/v1/me/projects", json={"name": "bob-shared"}).json()["id"]
        added = bob.post(f"/v1/me/projects/{shared}/members", json={"username": ALICE})
        assert added.status_code == 201, added.text
        hidden = _pair_in(bob, "platypus", project=private)
        together = _pair_in(bob, "echidna", project=shared)

        report_a, report_b = hygiene(alice, {"k": 100}), hygiene(bob, {"k": 100})

    pairs_a, pairs_b = pair_sets(report_a["duplicateClusters"]), pair_sets(report_b["duplicateClusters"])
    assert frozenset(mine) in pairs_a and frozenset(together) in pairs_a
    assert frozenset(bobs) in pairs_b and frozenset(hidden) in pairs_b and frozenset(together) in pairs_b
    text_a, text_b = str(report_a), str(report_b)
    for foreign in (*bobs, *hidden, "wombat", "platypus"):
        assert foreign not in text_a
    for foreign in (*mine, "quokka"):
        assert foreign not in text_b
    assert report_a["summary"]["scanned"] == 4 and report_b["summary"]["scanned"] == 6
    # without an embedder no vector is ever owed, so nothing is an orphan
    assert report_a["orphanCandidates"] == [] and report_a["summary"]["orphanCandidates"] == 0
    with as_token(srv, tokens["alice"]) as alice:
        evaluation = alice.post("/v1/evaluate").json()
    assert evaluation["passed"] is True and evaluation["hygiene"]["scanned"] == 4


def test_confined_tokens_get_no_diagnostics(users: tuple[RunningServer, dict[str, str]]) -> None:
    srv, tokens = users
    with as_token(srv, tokens["alice"]) as alice:
        assert alice.post("/v1/me/projects", json={"name": "alice-confined"}).status_code == 201
    confined = mint(srv, ALICE, "--project", "alice-confined")
    with as_token(srv, confined) as client:
        for path in ("/v1/hygiene", "/v1/evaluate"):
            r = client.post(path, json={})
            assert r.status_code == 403 and error(r) == CONFINED, (path, r.text)
        assert client.get("/v1/stats").status_code == 403  # the same rule as stats


def test_read_only_tokens_may_run_both_diagnostics(users: tuple[RunningServer, dict[str, str]]) -> None:
    srv, _ = users
    reader = mint(srv, ALICE, "--scope", "read_only")
    with as_token(srv, reader) as client:
        assert client.post("/v1/hygiene", json={"k": 3}).status_code == 200
        # both only read: evaluate's checks run on synthetic data
        assert client.post("/v1/evaluate").status_code == 200


def test_diagnostics_need_credentials(users: tuple[RunningServer, dict[str, str]]) -> None:
    srv, _ = users
    with srv.client() as anonymous:
        for path in ("/v1/hygiene", "/v1/evaluate"):
            r = anonymous.post(path)
            assert r.status_code == 401 and r.json() == {"error": "unauthorized"}


def test_hygiene_lists_cold_setup_facts_first_in_stale(api: httpx.Client, server: RunningServer) -> None:
    recap = api.post(
        "/v1/session-recap",
        json={"setupFacts": ["The build server has Node 20 installed", "The CI runners use Ubuntu 24.04 images"]},
    )
    assert recap.status_code == 201, recap.text
    older, newer = (item["id"] for item in recap.json()["results"])
    server.sql("UPDATE memory_entries SET updated_at = now() - interval '1 day' WHERE id = %s", (older,))
    assert ids_of(hygiene(api, {"k": 20})["stale"])[:2] == [older, newer]  # least recently updated first
    server.sql(
        "INSERT INTO memory_cold (entry_id, tenant_id) SELECT id, tenant_id FROM memory_entries WHERE id = %s", (newer,)
    )  # as a decay pass leaves it

    stale = hygiene(api, {"k": 20})["stale"]

    assert ids_of(stale)[:2] == [newer, older]
    assert [item["tier"] for item in stale[:2]] == ["cold", "warm"]
