"""Admin operations routes: metrics (JSON and Prometheus), deep health, projects, tokens, job status.

Two user-mode servers share one database, as two replicas would: counters made on either one are
summed on both. A tenant-mode server checks that a tenant's admin sees only their own tenant.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from novamem.domain.credentials import hash_secret
from novamem.services.operations.metrics import Counter
from novamem.services.operations.models import (
    AdminProjectList,
    AdminStats,
    AdminTokenList,
    HealthDeep,
    MetricCounters,
    MetricsSnapshot,
    OpsStatus,
)
from tests.conftest import RunningServer, start_server, wait_for
from tests.fake_embedder import DIM, FakeEmbeddingServer
from tests.http.identities import USER_MODE, add_project, add_user, client, mint

ROUTES = [
    "/v1/admin/metrics",
    "/v1/admin/metrics/prom",
    "/v1/admin/stats",
    "/v1/admin/health/deep",
    "/v1/admin/projects",
    "/v1/admin/tokens",
    "/v1/admin/ops-status",
]
FAST_FLUSH = {**USER_MODE, "embeddings_provider": "none", "metrics_flush_interval_ms": 200}
PROM_LINE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? (NaN|[+-]Inf|[-+]?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?)$")


@pytest.fixture(scope="module")
def pair(make_database: Callable[[], str]) -> Iterator[tuple[RunningServer, RunningServer]]:
    """Two replicas over one database."""
    url = make_database()
    first = start_server(url, **FAST_FLUSH)
    second = start_server(url, **FAST_FLUSH)
    yield first, second
    second.stop()
    first.stop()


@pytest.fixture(scope="module")
def admin_token(pair: tuple[RunningServer, RunningServer]) -> str:
    a, _ = pair
    return mint(a, add_user(a, "opsadmin", role="admin"))


def _counters(api: httpx.Client) -> dict[str, int]:
    r = api.get("/v1/admin/metrics")
    assert r.status_code == 200, r.text
    return dict(r.json()["counters"])


def _remember(api: httpx.Client, content: str) -> str:
    r = api.post("/v1/remember", json={"content": content})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


# ---- who may call -------------------------------------------------------------------------------------


def test_every_route_refuses_anonymous_users_and_restricted_tokens(
    pair: tuple[RunningServer, RunningServer], admin_token: str
) -> None:
    a, _ = pair
    admin = a.sql("SELECT user_id FROM user_tokens WHERE token_hash = %s", (hash_secret(admin_token),))[0][0]
    plain = mint(a, add_user(a, "plainuser"))
    project = add_project(a, "ops-confined", admin)
    read_only = mint(a, admin, scope="read_only")
    confined = mint(a, admin, project=project)
    with a.client() as anonymous, client(a, plain) as user, client(a, admin_token) as full:
        for route in ROUTES:
            r = anonymous.get(route)
            assert (r.status_code, r.json()) == (401, {"error": "unauthorized"}), route
            r = user.get(route)
            if route == "/v1/admin/health/deep":  # the role gate stays hidden (reference section 3.2)
                assert (r.status_code, r.json()) == (401, {"error": "unauthorized"}), route
            else:
                assert (r.status_code, r.json()) == (403, {"error": "admin only"}), route
            for token in (read_only, confined):
                with client(a, token) as restricted:
                    r = restricted.get(route)
                    assert (r.status_code, r.json()) == (403, {"error": "restricted token"}), route
            assert full.get(route).status_code == 200, route
            assert full.post(route).status_code in (404, 405), route


def test_routes_are_in_the_openapi_document(pair: tuple[RunningServer, RunningServer]) -> None:
    a, _ = pair
    with a.client() as api:
        paths = api.get("/openapi.json").json()["paths"]
    for route in ROUTES:
        assert "get" in paths[route], route


# ---- health -------------------------------------------------------------------------------------------


def test_health_deep_reports_every_dependency(pair: tuple[RunningServer, RunningServer], admin_token: str) -> None:
    a, _ = pair
    with client(a, admin_token) as api:
        r = api.get("/v1/admin/health/deep")
        assert r.status_code == 200
        body = r.json()
        HealthDeep.model_validate(body)
        assert body["ok"] is True and body["status"] == "ok"
        assert body["deps"] == {"warm": "ok", "cold": "ok", "graph": "disabled", "embedder": "disabled"}
        assert isinstance(body["pendingEmbeddings"], int)
        assert api.get("/ready").json() == {"ok": True} and api.get("/health").json() == {"ok": True}


@pytest.fixture
def embedder_server(make_database: Callable[[], str], fake_embedder: FakeEmbeddingServer) -> Iterator[RunningServer]:
    fake_embedder.down = False
    running = start_server(
        make_database(),
        **{**FAST_FLUSH, "embeddings_provider": "openai-compatible"},
        embeddings_endpoint=fake_embedder.url,
        embeddings_model="fake-hash",
        embeddings_dim=DIM,
    )
    yield running
    running.stop()
    fake_embedder.down = False


def test_a_failing_embedder_is_reported_without_flipping_ok(
    embedder_server: RunningServer, fake_embedder: FakeEmbeddingServer
) -> None:
    server = embedder_server
    with client(server, mint(server, add_user(server, "embadmin", role="admin"))) as api:
        assert api.get("/v1/admin/health/deep").json()["deps"]["embedder"] == "ok"
        fake_embedder.down = True
        _remember(api, "The billing worker drains its queue every five minutes")
        r = api.get("/v1/admin/health/deep")
        assert r.status_code == 200
        assert r.json()["ok"] is True and r.json()["deps"]["embedder"] == "failing"
        assert r.json()["status"] == "degraded"
        assert r.json()["pendingEmbeddings"] == 1
        # degraded and empty is "could not look": a search error, not a zero-hit query
        before = _counters(api)
        assert api.post("/v1/search", json={"query": "kubernetes ingress"}).status_code == 503
        after = _counters(api)
        assert after["search_errors_total"] == before["search_errors_total"] + 1
        assert after["queries_zero_hit"] == before["queries_zero_hit"]
        assert after["queries_total"] == before["queries_total"]
        assert api.get("/v1/admin/metrics").json()["gauges"]["pending_embeddings"] == 1


# ---- inventory ----------------------------------------------------------------------------------------


def test_token_listing_carries_metadata_but_never_a_secret(
    pair: tuple[RunningServer, RunningServer], admin_token: str
) -> None:
    a, _ = pair
    owner = add_user(a, "tokenowner")
    project = add_project(a, "token-project", owner)
    full = mint(a, owner)
    confined = mint(a, owner, project=project, scope="read_only")
    a.sql("UPDATE user_tokens SET revoked_at = now() WHERE token_hash = %s", (hash_secret(full),))
    with client(a, admin_token) as api:
        r = api.get("/v1/admin/tokens")
    assert r.status_code == 200
    AdminTokenList.model_validate(r.json())
    for secret in (full, confined, admin_token):
        assert secret not in r.text and hash_secret(secret) not in r.text
    assert "hash" not in r.text.lower() and "token_hash" not in r.text
    mine = [t for t in r.json()["tokens"] if t["userId"] == owner]
    assert {tuple(sorted(t)) for t in mine} == {
        ("createdAt", "email", "expiresAt", "label", "lastUsedAt", "projectId", "revoked", "scope", "userId")
    }
    by_project = {t["projectId"]: t for t in mine}
    assert by_project[None]["revoked"] is True and by_project[None]["scope"] == "full"
    assert by_project[project]["revoked"] is False and by_project[project]["scope"] == "read_only"
    stamps = [t["createdAt"] for t in r.json()["tokens"]]
    assert stamps == sorted(stamps, reverse=True)


def test_project_listing_counts_members_and_entries_newest_first(
    pair: tuple[RunningServer, RunningServer], admin_token: str
) -> None:
    a, _ = pair
    owner = add_user(a, "projowner")
    member = add_user(a, "projmember")
    older = add_project(a, "older-project", owner)
    newer = add_project(a, "newer-project", owner, member)
    a.sql("UPDATE projects SET created_at = now() - interval '1 day' WHERE id = %s", (older,))
    with client(a, mint(a, owner)) as as_owner:
        r = as_owner.post(
            "/v1/remember", json={"content": "The project keeps its release notes here", "project": newer}
        )
        assert r.status_code == 201
    with client(a, admin_token) as api:
        r = api.get("/v1/admin/projects")
    assert r.status_code == 200
    AdminProjectList.model_validate(r.json())
    projects = {p["id"]: p for p in r.json()["projects"]}
    email = a.sql("SELECT email FROM users WHERE id = %s", (owner,))[0][0]
    assert projects[newer] == {
        "id": newer,
        "name": "newer-project",
        "ownerUserId": owner,
        "ownerEmail": email,
        "memberCount": 2,
        "entryCount": 1,
        "createdAt": projects[newer]["createdAt"],
    }
    assert projects[older]["memberCount"] == 1 and projects[older]["entryCount"] == 0
    order = [p["id"] for p in r.json()["projects"]]
    assert order.index(newer) < order.index(older)
    stamps = [p["createdAt"] for p in r.json()["projects"]]
    assert stamps == sorted(stamps, reverse=True)


# ---- metrics ------------------------------------------------------------------------------------------


def test_counters_are_summed_across_two_replicas(pair: tuple[RunningServer, RunningServer], admin_token: str) -> None:
    a, b = pair
    writer = mint(a, add_user(a, "metricswriter"))
    with client(a, admin_token) as admin_a, client(b, admin_token) as admin_b:
        before = _counters(admin_a)
        with client(a, writer) as on_a, client(b, writer) as on_b:
            first = _remember(on_a, "The quartz lantern in the workshop glows amber at dusk")
            _remember(on_b, "The quartz lantern needs a new wick every spring")
            _remember(on_b, "The copper kettle whistles when the water boils")
            assert on_b.post("/v1/remember", json={"content": "ok"}).json()["id"] is None  # gate: not stored
            for api in (on_a, on_b, on_b):
                assert api.post("/v1/search", json={"query": "quartz lantern"}).json()["results"]
            assert on_a.post("/v1/search", json={"query": "zeppelin marmalade"}).json()["results"] == []
            assert on_b.post("/v1/context", json={"message": "quartz lantern"}).status_code == 200
            assert on_a.post("/v1/recent", json={}).status_code == 200
            assert on_b.post("/v1/neighbors", json={"id": first}).status_code == 200
            assert on_a.post("/v1/forget", json={"id": first}).json()["deleted"] is True
            assert on_a.post("/v1/search", json={}).status_code == 400  # a client error counts nowhere
        expected = {
            "queries_total": 7,
            "queries_zero_hit": 1,
            "remembers_total": 3,
            "forgets_total": 1,
            "search_errors_total": 0,
            "remember_errors_total": 0,
        }

        def summed(api: httpx.Client) -> bool:
            now = _counters(api)
            return all(now[k] - before[k] == v for k, v in expected.items())

        # each replica sees the other's counts once they are flushed (every 200 ms here)
        assert wait_for(lambda: summed(admin_a), timeout=10), (_counters(admin_a), before)
        assert wait_for(lambda: summed(admin_b), timeout=10), (_counters(admin_b), before)
        now = _counters(admin_a)
        assert now["hits_warm_total"] - before["hits_warm_total"] >= 4
        assert now["hits_cold_total"] == before["hits_cold_total"]
        snapshot = admin_b.get("/v1/admin/metrics").json()
        MetricsSnapshot.model_validate(snapshot)
        assert snapshot["rates"]["queries_per_sec_60s"] > 0 and snapshot["rates"]["remembers_per_sec_60s"] > 0
        assert snapshot["uptime_ms"] > 0
        assert snapshot["gauges"]["warm_entries"] >= 2 and snapshot["gauges"]["cold_entries"] == 0
        assert snapshot["gauges"]["graph_edges"] == 0 and snapshot["gauges"]["orphans_pending"] == 0


def test_a_replica_flushes_its_counts_when_it_stops(
    pair: tuple[RunningServer, RunningServer], admin_token: str
) -> None:
    a, _ = pair
    with client(a, admin_token) as admin_a:
        time.sleep(0.5)  # let the pair's own flushes settle
        before = _counters(admin_a)
        # a third replica that would not flush for five minutes: only its shutdown flush can carry it
        third = start_server(a.database_url, **{**FAST_FLUSH, "metrics_flush_interval_ms": 300_000})
        try:
            with client(third, admin_token) as on_third:
                for _ in range(3):
                    assert on_third.post("/v1/recent", json={}).status_code == 200
                assert _counters(on_third)["queries_total"] - before["queries_total"] >= 3  # its own, unflushed
        finally:
            third.stop()
        after = _counters(admin_a)
        assert after["queries_total"] - before["queries_total"] >= 3


def test_counter_names_match_the_wire_model() -> None:
    assert {c.value for c in Counter} == set(MetricCounters.model_fields)


def test_prometheus_text_parses(pair: tuple[RunningServer, RunningServer], admin_token: str) -> None:
    a, _ = pair
    with client(a, admin_token) as api:
        r = api.get("/v1/admin/metrics/prom")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    names = set()
    for line in r.text.splitlines():
        if not line or line.startswith("#"):
            continue
        assert PROM_LINE.match(line), line
        names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    expected = {
        "novamem_queries_total",
        "novamem_queries_zero_hit_total",
        "novamem_remembers_total",
        "novamem_forgets_total",
        "novamem_hits_warm_total",
        "novamem_hits_cold_total",
        "novamem_hits_graph_total",
        "novamem_promotions_total",
        "novamem_demotions_total",
        "novamem_decay_runs_total",
        "novamem_orphans_reaped_total",
        "novamem_warm_entries",
        "novamem_cold_entries",
        "novamem_graph_edges",
        "novamem_orphans_pending",
        "novamem_pending_embeddings",
        "novamem_pending_facts",
        "novamem_queries_per_sec_60s",
        "novamem_remembers_per_sec_60s",
        "novamem_uptime_seconds",
        "process_resident_memory_bytes",
        "python_gc_collections_total",
        "python_info",
    }
    assert expected <= names, expected - names
    helps = [line.split()[2] for line in r.text.splitlines() if line.startswith("# TYPE")]
    assert len(helps) == len(set(helps))  # one TYPE line per metric family


def test_admin_stats_adds_the_instance(pair: tuple[RunningServer, RunningServer], admin_token: str) -> None:
    a, b = pair
    with client(a, admin_token) as on_a, client(b, admin_token) as on_b:
        first, second = on_a.get("/v1/admin/stats").json(), on_b.get("/v1/admin/stats").json()
    for body in (first, second):
        AdminStats.model_validate(body)
        assert set(body) == {"counters", "gauges", "rates", "uptime_ms", "instance"}
        assert body["instance"]["pid"] > 0 and body["instance"]["rss_bytes"] > 0
        assert body["instance"]["python_version"].count(".") == 2
    assert first["instance"]["replica_id"] != second["instance"]["replica_id"]


# ---- job status ---------------------------------------------------------------------------------------


def test_ops_status_is_null_until_a_job_completes(make_database: Callable[[], str]) -> None:
    server = start_server(make_database(), **{**FAST_FLUSH, "jobs_enabled": False})  # no scheduled job may race
    try:
        with client(server, mint(server, add_user(server, "jobsadmin", role="admin"))) as api:
            r = api.get("/v1/admin/ops-status")
            assert r.status_code == 200
            OpsStatus.model_validate(r.json())
            assert r.json() == {
                "decay": None,
                "dreamCycle": None,
                "orphanReaper": None,
                "embeddingReconciler": None,
                "expiryPurge": None,
                "changeFeedPrune": None,
                "sessionsPrune": None,
            }
            assert api.get("/v1/admin/metrics").json()["gauges"]["last_decay_run_iso"] is None
            before = _counters(api)
            assert api.post("/v1/decay", json={"effectiveDays": 14}).status_code == 200
            assert api.post("/v1/reap-orphans").status_code == 200
            status = api.get("/v1/admin/ops-status").json()
            OpsStatus.model_validate(status)
            decay = status["decay"]
            assert decay["runs"] == 1 and decay["effectiveDays"] == 14.0 and decay["demoted"] == 0
            assert decay["lastRunAt"] >= decay["startedAt"] and decay["durationMs"] >= 0
            assert status["orphanReaper"] == {
                "attempted": 0,
                "cleared": 0,
                "abandoned": 0,
                "pending": 0,
                "total": 0,
                "lastRunAt": status["orphanReaper"]["lastRunAt"],
                "runs": 1,
            }
            assert status["dreamCycle"] is None and status["embeddingReconciler"] is None
            snapshot = api.get("/v1/admin/metrics").json()
            assert snapshot["gauges"]["last_decay_run_iso"] == decay["lastRunAt"]
            assert snapshot["counters"]["decay_runs_total"] == before["decay_runs_total"] + 1
    finally:
        server.stop()


def test_scheduled_jobs_record_their_runs(make_database: Callable[[], str]) -> None:
    server = start_server(
        make_database(), **{**FAST_FLUSH, "jobs_enabled": True, "embeddings_reconcile_interval_ms": 200}
    )
    try:
        with client(server, mint(server, add_user(server, "schedadmin", role="admin"))) as api:

            def recorded() -> dict[str, Any]:
                return dict(api.get("/v1/admin/ops-status").json())

            assert wait_for(lambda: recorded()["embeddingReconciler"] is not None, timeout=20)
            status = recorded()
            OpsStatus.model_validate(status)
            assert status["embeddingReconciler"]["embedded"] == 0 and status["embeddingReconciler"]["runs"] >= 1
            assert status["expiryPurge"]["expired"] == 0
            assert status["changeFeedPrune"]["pruned"] == 0 and status["sessionsPrune"]["pruned"] == 0
            # the daily dream cycle ran once, at the leader's start
            assert wait_for(lambda: recorded()["dreamCycle"] is not None, timeout=20)
            dream = recorded()["dreamCycle"]
            assert dream["runs"] == 1 and dream["walked"] == 0 and dream["merged"] == 0
    finally:
        server.stop()


# ---- tenants ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tenants(make_database: Callable[[], str]) -> Iterator[RunningServer]:
    running = start_server(make_database(), **{**FAST_FLUSH, "auth_mode": "tenant"})
    for tenant in ("t1", "t2"):
        running.sql("INSERT INTO tenants (id, name) VALUES (%s, %s)", (tenant, tenant))
    yield running
    running.stop()


def test_a_tenant_admin_sees_only_their_own_tenant(tenants: RunningServer) -> None:
    server = tenants
    admin1 = add_user(server, "admin1", role="admin", tenant="t1")
    admin2 = add_user(server, "admin2", role="admin", tenant="t2")
    user2 = add_user(server, "user2", tenant="t2")
    root = add_user(server, "root", role="admin", tenant="default")
    p1 = add_project(server, "t1-project", admin1, tenant="t1")
    p2 = add_project(server, "t2-project", admin2, user2, tenant="t2")
    t1_token = mint(server, admin1, tenant="t1")
    t2_token = mint(server, admin2, tenant="t2")
    user2_token = mint(server, user2, tenant="t2")
    root_token = mint(server, root, tenant="default")
    with client(server, user2_token) as as_user2:
        for i in range(3):
            r = as_user2.post("/v1/remember", json={"content": f"Tenant two keeps note number {i} about the harbour"})
            assert r.status_code == 201
        assert as_user2.post("/v1/search", json={"query": "harbour"}).status_code == 200
    with client(server, t1_token) as as_t1, client(server, t2_token) as as_t2, client(server, root_token) as as_root:
        projects = as_t1.get("/v1/admin/projects").json()["projects"]
        assert [p["id"] for p in projects] == [p1]
        assert {p["id"] for p in as_t2.get("/v1/admin/projects").json()["projects"]} == {p2}
        assert as_root.get("/v1/admin/projects").json() == {"projects": []}  # own tenant only, even for root
        tokens = as_t1.get("/v1/admin/tokens")
        assert {t["userId"] for t in tokens.json()["tokens"]} == {admin1}
        for foreign in (t2_token, user2_token, root_token):
            assert foreign not in tokens.text and hash_secret(foreign) not in tokens.text
        assert {t["userId"] for t in as_t2.get("/v1/admin/tokens").json()["tokens"]} == {admin2, user2}
        users = as_t1.get("/v1/admin/users").json()["users"]
        assert {u["id"] for u in users} == {admin1}

        # metrics: a tenant's admin counts their own tenant; the server admin the deployment
        def gauges(api: httpx.Client) -> dict[str, Any]:
            return dict(api.get("/v1/admin/metrics").json()["gauges"])

        assert gauges(as_t1)["warm_entries"] == 0
        assert gauges(as_t2)["warm_entries"] == 3
        assert gauges(as_root)["warm_entries"] == 3
        assert _counters(as_t1)["remembers_total"] == 0 and _counters(as_t1)["queries_total"] == 0
        assert _counters(as_t2)["remembers_total"] == 3 and _counters(as_t2)["queries_total"] == 1
        assert _counters(as_root)["remembers_total"] == 3
        assert as_t1.get("/v1/admin/health/deep").json()["pendingEmbeddings"] == 0
        assert as_t2.get("/v1/admin/health/deep").json()["pendingEmbeddings"] == 3
        prom = as_t1.get("/v1/admin/metrics/prom").text
        assert "novamem_remembers_total 0\n" in prom and "novamem_warm_entries 0\n" in prom
