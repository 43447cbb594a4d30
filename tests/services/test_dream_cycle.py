"""The dream cycle against the real embedded PostgreSQL: dedup-merge, its cursor, and edge promotion.

Rows are written with SQL so each test picks its vectors (identical vectors make cosine 1.0, which only the
content-word test and the contradiction guard can then refuse) and its hits, edges and owners exactly.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from ulid import ULID

from novamem.config import load_settings
from novamem.container import Container
from novamem.domain.scope import Caller
from novamem.errors import Forbidden
from novamem.jobs.scheduler import build_scheduler
from novamem.services.operations.admin import JobName
from novamem.services.operations.dream import DREAM_INTERVAL_S, DreamService
from novamem.services.operations.operator_models import DreamCycleResponse
from novamem.storage.base import VectorSpace
from novamem.storage.dream import DREAM_CURSOR_KEY
from novamem.storage.postgres.dream import PostgresDreamStore
from tests.fake_embedder import DIM, FakeEmbeddingServer

MODEL = "openai-compatible:fake-hash"
OPERATOR = Caller.public()
ADMIN = Caller(tenant_id="default", user_id="boss", is_admin=True, is_operator=True)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def axis(i: int, wobble: float = 0.0) -> list[float]:
    """A unit vector along axis `i`, tilted by `wobble` toward the next axis (cosine to `axis(i)` = 1/√(1+w²))."""
    vec = [0.0] * DIM
    vec[i % DIM] = 1.0
    vec[(i + 1) % DIM] = wobble
    norm = math.sqrt(1 + wobble * wobble)
    return [x / norm for x in vec]


class Rows:
    """Direct SQL on the test database: entries with chosen vectors, hits, edges and owners."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.written = 0  # ids are ULIDs one second apart, so id order is write order

    def sql(self, query: str, params: dict[str, Any] | tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            cur = conn.execute(query, params or None)
            return cur.fetchall() if cur.description else []

    def put(
        self,
        content: str,
        vec: list[float] | None,
        *,
        tenant: str = "acme",
        user: str = "u1",
        project: str | None = None,
        org: str | None = None,
        ns: str = "default",
        hits: int = 0,
        last: datetime | None = None,
        created: datetime = T0,
        status: str = "active",
        expires: datetime | None = None,
        namespaces: list[str] | None = None,
        cold: bool = False,
    ) -> str:
        self.written += 1
        entry_id = str(ULID.from_timestamp(T0.timestamp() + self.written))
        self.sql(
            "INSERT INTO memory_entries (id, tenant_id, user_id, project_id, scope_key, organization_id, namespace,"
            " namespaces, content, content_hash, embedding, embedding_model, embedded_at, created_at, status,"
            " expires_at)"
            " VALUES (%(id)s, %(tenant)s, %(user)s, %(project)s, %(scope)s, %(org)s, %(ns)s, %(nss)s, %(content)s,"
            " md5(%(content)s), %(vec)s::vector, %(model)s, %(embedded)s, %(created)s, %(status)s, %(expires)s)",
            {
                "id": entry_id,
                "tenant": tenant,
                "user": user,
                "project": project,
                "scope": f"p:{project}" if project else f"u:{user}",
                "org": org,
                "ns": ns,
                "nss": namespaces or [ns],
                "content": content,
                "vec": "[" + ",".join(map(str, vec)) + "]" if vec else None,
                "model": MODEL if vec else None,
                "embedded": created if vec else None,
                "created": created,
                "status": status,
                "expires": expires,
            },
        )
        if cold:
            self.sql("INSERT INTO memory_cold (entry_id, tenant_id) VALUES (%s, %s)", (entry_id, tenant))
        if hits:
            self.sql(
                "INSERT INTO memory_access (entry_id, tenant_id, hits, last_accessed) VALUES (%s, %s, %s, %s)",
                (entry_id, tenant, hits, last or created),
            )
        return entry_id

    def edge(self, a: str, b: str, relation: str = "co_occurs", strength: float = 0.8) -> None:
        self.sql(
            "INSERT INTO memory_relations (tenant_id, from_id, to_id, relation, strength)"
            " SELECT tenant_id, %s, %s, %s, %s FROM memory_entries WHERE id = %s",
            (a, b, relation, strength, a),
        )

    def ids(self) -> set[str]:
        return {r[0] for r in self.sql("SELECT id FROM memory_entries")}

    def edges(self, relation: str | None = None) -> set[tuple[str, str, str, float]]:
        rows = self.sql(
            "SELECT from_id, to_id, relation, round(strength::numeric, 4)::float8 FROM memory_relations"
            " WHERE %(rel)s::text IS NULL OR relation = %(rel)s",
            {"rel": relation},
        )
        return {(r[0], r[1], r[2], r[3]) for r in rows}

    def cold(self) -> set[str]:
        return {r[0] for r in self.sql("SELECT entry_id FROM memory_cold")}

    def cursor(self) -> str | None:
        rows = self.sql("SELECT value FROM engine_state WHERE key = %s", (DREAM_CURSOR_KEY,))
        return rows[0][0] if rows else None


@pytest.fixture
async def built(make_database: Callable[[], str], fake_embedder: FakeEmbeddingServer) -> AsyncIterator[Container]:
    """A container over a fresh database whose vector space is the fake embedder's (64 dims); write-time
    linking is off, so every edge is one a test wrote."""
    settings = load_settings(
        database_url=make_database(),
        jobs_enabled=False,
        auth_mode="none",
        **fake_embedder.settings(),
        graph_link_fanout=0,
    )
    container = await Container.build(settings)
    yield container
    await container.close()


@pytest.fixture
def rows(built: Container) -> Rows:
    url = built.settings.database_url
    assert url is not None
    return Rows(url.get_secret_value())


def small_walk(container: Container, walk: int) -> DreamService:
    """A dream service over the same database that walks `walk` entries per pass."""
    return DreamService(PostgresDreamStore(container.database, VectorSpace(MODEL, DIM)), walk=walk)


async def test_near_copies_merge_into_the_entry_with_more_hits(built: Container, rows: Rows) -> None:
    older = rows.put(
        "The staging database runs on host db-stage",
        axis(0),
        hits=2,
        last=T0 + timedelta(days=9),
        namespaces=["default", "work"],
    )
    newer = rows.put(
        "The staging database runs on the host db-stage",
        axis(0, 0.05),
        hits=5,
        last=T0 + timedelta(days=3),
        created=T0 + timedelta(days=1),
    )
    other, upstream, author = (rows.put(f"Unrelated fact number {w}", axis(10 + i)) for i, w in enumerate("abc"))
    rows.sql(
        "INSERT INTO memory_source_refs (entry_id, tenant_id, source_ref, namespace)"
        " VALUES (%s, 'acme', 'mail:1', 'work')",
        (older,),
    )
    rows.edge(older, other, strength=0.8)
    rows.edge(newer, other, strength=0.5)  # becomes a duplicate edge: one kept, the stronger strength
    rows.edge(upstream, older, strength=0.6)
    rows.edge(other, older, strength=0.7)  # the reverse of a redirected symmetric edge: not doubled
    rows.edge(older, newer, strength=0.99)  # becomes a self-loop: dropped
    rows.edge(author, older, relation="supersedes", strength=1.0)

    result = (await built.dream.run(OPERATOR)).to_wire()

    assert set(result) == {
        "walked",
        "merged",
        "edgesPromoted",
        "factsWalked",
        "factClustersJudged",
        "factsSuperseded",
        "durationMs",
    }
    assert result["walked"] == 5 and result["merged"] == 1
    assert result["factsWalked"] == result["factClustersJudged"] == result["factsSuperseded"] == 0
    assert rows.ids() == {newer, other, upstream, author}
    assert rows.sql("SELECT hits, last_accessed FROM memory_access WHERE entry_id = %s", (newer,)) == [
        (7, T0 + timedelta(days=9))
    ]
    assert rows.sql("SELECT namespace, namespaces FROM memory_entries WHERE id = %s", (newer,)) == [
        ("default", ["default", "work"])
    ]
    assert rows.sql("SELECT source_ref, namespace FROM memory_source_refs WHERE entry_id = %s", (newer,)) == [
        ("mail:1", "work")
    ]
    assert rows.edges() == {
        (newer, other, "co_occurs", 0.8),
        (upstream, newer, "co_occurs", 0.6),
        (author, newer, "supersedes", 1.0),
    }
    feed = rows.sql("SELECT change, detail FROM memory_changes WHERE entry_id = %s", (older,))
    assert feed == [("deleted", {"mergedInto": newer, "reason": "dream_cycle_merge"})]
    # the run is the job's latest
    status = await built.admin.ops_status(ADMIN)
    assert status.dream_cycle is not None and status.dream_cycle.runs == 1 and status.dream_cycle.merged == 1


async def test_merges_and_new_edges_reach_the_derived_indexes(built: Container, rows: Rows) -> None:
    rows.sql("INSERT INTO index_targets (target) VALUES ('vector'), ('graph')")
    keep = rows.put("Release notes are written in the changelog file", axis(7), hits=3)
    drop = rows.put("Release notes are written in the changelog file.", axis(7))
    pointing = rows.put("Unrelated memory that links to the copy", axis(60))
    rows.edge(pointing, drop)
    seeds = [rows.put(f"Seed {n}", None) for n in "ab"]
    for n in range(3):
        shared = rows.put(f"Shared {n}", None)
        rows.edge(seeds[0], shared)
        rows.edge(seeds[1], shared)
    rows.sql("DELETE FROM index_outbox")

    result = await built.dream.run_pass()

    assert result.merged == 1 and result.edges_promoted == 1
    queued = set(rows.sql("SELECT target, entry_id, op FROM index_outbox"))
    assert {("vector", drop, "delete"), ("graph", drop, "delete")} <= queued  # as a forget queues them
    # the survivor and the entry whose edge now points at it, and the new edge's source: graph upserts
    assert {("graph", keep, "upsert"), ("graph", pointing, "upsert"), ("graph", min(seeds), "upsert")} <= queued
    assert not {q for q in queued if q[2] == "upsert" and q[0] == "vector"}  # no vector changed


async def test_ties_keep_the_older_entry(built: Container, rows: Rows) -> None:
    newer = rows.put("Deploys go out from the release branch", axis(3), created=T0 + timedelta(hours=1))
    older = rows.put("Deploys go out from the release branch only", axis(3), created=T0)
    assert (await built.dream.run_pass()).merged == 1
    assert rows.ids() == {older}
    assert newer not in rows.ids()


async def test_a_survivor_is_warm_when_a_merged_copy_was_warm(built: Container, rows: Rows) -> None:
    # each survivor has more hits than its copy; only the first pair's copy is warm
    revived = rows.put("The VPN gateway lives at vpn.example.org", axis(20), hits=4, cold=True)
    rows.put("The VPN gateway lives at vpn.example.org.", axis(20), hits=1)
    frozen = rows.put("Backups are kept for ninety days in the vault", axis(30), hits=4, cold=True)
    rows.put("Backups are kept for ninety days in the vault.", axis(30), hits=1, cold=True)
    warm = rows.put("The office wifi password rotates every quarter", axis(40), hits=4)
    rows.put("The office wifi password rotates every quarter.", axis(40), hits=1, cold=True)

    assert (await built.dream.run_pass()).merged == 3
    assert rows.ids() == {revived, frozen, warm}
    assert rows.cold() == {frozen}  # the losers' cold marks went with them


async def test_close_vectors_with_different_facts_never_merge(built: Container, rows: Rows) -> None:
    pairs = [
        ("lives in Dubai", "lives in Belgium"),  # one content word of three shared
        ("Alice lives in Dubai", "Alice lives in Belgium"),  # half shared, but a word swapped for another
        ("The nightly backup job is enabled", "The nightly backup job is not enabled"),  # negation
        ("The API server listens on port 7778", "The API server listens on port 7779"),  # a scalar
    ]
    written = set()
    for i, (a, b) in enumerate(pairs):
        written |= {rows.put(a, axis(20 + 2 * i)), rows.put(b, axis(20 + 2 * i))}  # cosine 1.0
    control = {
        rows.put("Builds cache layers in the registry", axis(40)),
        rows.put("Builds cache layers in registry", axis(40)),
    }

    result = await built.dream.run_pass()

    assert result.walked == 10 and result.merged == 1  # the control pair only
    assert written <= rows.ids() and len(control & rows.ids()) == 1


async def test_entries_of_other_owners_and_shelves_never_merge(built: Container, rows: Rows) -> None:
    rows.sql("INSERT INTO tenants (id, name) VALUES ('acme', 'acme'), ('globex', 'globex')")
    rows.sql("INSERT INTO users (id, tenant_id, email, name) VALUES ('u1', 'acme', 'u1@acme.test', 'u1')")
    rows.sql(
        "INSERT INTO projects (id, tenant_id, name, owner_user_id) VALUES ('p1', 'acme', 'one', 'u1'),"
        " ('p2', 'acme', 'two', 'u1')"
    )
    text = "The payroll export runs every Friday from the finance server"
    apart = {
        rows.put(text, axis(5)),
        rows.put(text, axis(5), tenant="globex"),
        rows.put(text, axis(5), user="u2"),
        rows.put(text, axis(5), project="p1"),
        rows.put(text, axis(5), project="p2"),
        rows.put(text + " here", axis(5), org="org-1"),
        rows.put(text + " again", axis(5), ns="other"),
        rows.put(text + " now", axis(5), status="superseded"),
        rows.put(text + " today", axis(5), expires=datetime.now(UTC) + timedelta(days=30)),
    }
    twin = rows.put(text + " weekly", axis(5), project="p1")  # the control: p1's own near-copy

    result = await built.dream.run_pass()

    assert result.walked == 8 and result.merged == 1  # the superseded and the expiring entry are not walked
    assert (
        twin not in rows.ids() and rows.ids() == apart
    )  # the twin went into p1's first entry (a tie: the older one stays)


async def test_copies_with_and_without_an_organization_merge_in_one_pass(built: Container, rows: Rows) -> None:
    # the organization's pair is walked first: each seed is searched in its own partition, whatever came first
    org_keep = rows.put("The partner portal caches sessions in Redis", axis(7), org="org-1", hits=2)
    org_copy = rows.put("The partner portal caches sessions in Redis too", axis(7), org="org-1")
    own_keep = rows.put("The billing worker retries failed jobs twice", axis(9), hits=2)
    own_copy = rows.put("The billing worker retries failed jobs twice a day", axis(9))

    result = await built.dream.run_pass()

    assert result.merged == 2
    assert {org_keep, own_keep} <= rows.ids() and not {org_copy, own_copy} & rows.ids()


async def test_the_cursor_advances_wraps_and_persists(built: Container, rows: Rows) -> None:
    ids = [rows.put(f"Distinct fact number {i} about topic {i * 7}", axis(2 * i)) for i in range(5)]
    walked: list[int | str | None] = []
    for _ in range(3):
        walked.append((await small_walk(built, 2).run_pass()).walked)  # a new service each time: state is stored
        walked.append(rows.cursor())
    assert walked == [2, ids[1], 2, ids[3], 1, ""]
    assert (await small_walk(built, 2).run_pass()).walked == 2  # wrapped: starts over
    assert rows.cursor() == ids[1]


async def test_a_failing_merge_does_not_pin_the_cursor(built: Container, rows: Rows) -> None:
    poison = [
        rows.put("Poison record of the broken importer", axis(50)),
        rows.put("Poison record of broken importer", axis(50)),
    ]
    good = [
        rows.put("Invoices are archived after ninety days", axis(30)),
        rows.put("Invoices are archived after ninety days.", axis(30, 0.01)),
    ]
    rows.sql(
        "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN IF OLD.content LIKE 'Poison%' THEN RAISE EXCEPTION 'poisoned row'; END IF; RETURN OLD; END; $$"
    )
    rows.sql(
        "CREATE TRIGGER refuse_poison BEFORE DELETE ON memory_entries FOR EACH ROW EXECUTE FUNCTION refuse_poison()"
    )
    dream = small_walk(built, 2)

    with pytest.raises(psycopg.Error, match="poisoned row"):
        await dream.run_pass()
    assert rows.cursor() == poison[1]  # moved before the work
    assert set(poison) <= rows.ids()  # the failed merge changed nothing

    result = await dream.run_pass()
    assert result.walked == 2 and result.merged == 1
    assert len(set(good) & rows.ids()) == 1


async def test_a_merge_that_loses_a_deadlock_is_tried_again(built: Container, rows: Rows) -> None:
    keep = rows.put("Nightly exports land in the reporting bucket", axis(44))
    rows.put("Nightly exports land in the reporting bucket.", axis(44))
    # the first delete fails as PostgreSQL fails a deadlock's victim (a sequence is not rolled back with it)
    rows.sql("CREATE SEQUENCE deadlocks")
    rows.sql(
        "CREATE FUNCTION fake_deadlock() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN IF nextval('deadlocks') = 1 THEN RAISE EXCEPTION 'deadlock detected' USING ERRCODE = '40P01';"
        " END IF; RETURN OLD; END; $$"
    )
    rows.sql(
        "CREATE TRIGGER fake_deadlock BEFORE DELETE ON memory_entries FOR EACH ROW EXECUTE FUNCTION fake_deadlock()"
    )

    assert (await built.dream.run_pass()).merged == 1
    assert rows.ids() == {keep}
    assert rows.sql("SELECT last_value FROM deadlocks") == [(2,)]


async def test_shared_neighbours_promote_co_inferred_edges_once(built: Container, rows: Rows) -> None:
    a, b, c = (rows.put(f"Seed memory {n}", None) for n in "abc")
    n1, n2, n3 = (rows.put(f"Neighbour memory {n}", None) for n in range(3))
    for n in (n1, n2, n3):
        rows.edge(a, n)
        rows.edge(n, b)  # direction does not matter
    rows.edge(c, n1)
    rows.edge(c, n2)  # c shares two neighbours with a and b: not enough
    rows.edge(c, n3, relation="supersedes")  # only co_occurs edges count
    d, e = (rows.put(f"Busy memory {n}", None) for n in "de")
    many = [rows.put(f"Shared memory {n}", None) for n in range(9)]
    for m in many:
        rows.edge(d, m)
        rows.edge(e, m)
    stranger = rows.put("Someone else's memory", None, user="u2")
    for n in (n1, n2, n3):
        rows.edge(stranger, n)  # shares three neighbours, but another owner

    first = await built.dream.run_pass()

    def pair(x: str, y: str, strength: float) -> tuple[str, str, str, float]:
        return (min(x, y), max(x, y), "co_inferred", strength)

    inferred = rows.edges("co_inferred")
    assert inferred == {
        pair(a, b, 0.65),  # three shared: 0.5 + 3/20
        pair(d, e, 0.9),  # nine shared: capped at 0.9
        pair(n1, n2, 0.7),  # a, b, c and the stranger
        pair(n1, n3, 0.65),  # a, b and the stranger (c's third edge is no co_occurs)
        pair(n2, n3, 0.65),
    }
    assert first.edges_promoted == 5 and first.walked == 0
    second = await built.dream.run_pass()
    assert second.edges_promoted == 0 and rows.edges("co_inferred") == inferred


async def test_only_operators_may_run_it(built: Container) -> None:
    with pytest.raises(Forbidden):
        await built.dream.run(Caller(tenant_id="default", user_id="someone"))
    with pytest.raises(Forbidden):
        await built.dream.run(
            Caller(tenant_id="default", user_id="boss", is_admin=True, is_operator=True, confined_project="p")
        )


async def test_the_daily_job_is_scheduled(make_database: Callable[[], str]) -> None:
    settings = load_settings(
        database_url=make_database(), jobs_enabled=True, auth_mode="none", embeddings_provider="none"
    )
    container = await Container.build(settings)
    try:
        jobs = {job.name: job for job in build_scheduler(container)._jobs}
        assert jobs[JobName.DREAM_CYCLE].interval_s == DREAM_INTERVAL_S == 86400
        result = await jobs[JobName.DREAM_CYCLE].run()
        assert isinstance(result, DreamCycleResponse) and result.walked == 0  # no embedder: nothing to walk
    finally:
        await container.close()
